/** The one validator for integer options, shared by every options.ts (client, engine, operator). */
import { InvalidArgumentError } from '../errors.js';

/**
 * An integer option in [min, max] (min 0 or 1), or `fallback` when absent.
 * @throws InvalidArgumentError `<name> must be a positive integer no larger than <max>` (the bound
 *   is left out when there is none beyond the safe-integer range)
 */
export function integerOption(value: unknown, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER, min: 0 | 1 = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    const bound = max === Number.MAX_SAFE_INTEGER ? '' : ` no larger than ${max}`;
    throw new InvalidArgumentError(`${name} must be a ${min === 0 ? 'non-negative' : 'positive'} integer${bound}`);
  }
  return value;
}
