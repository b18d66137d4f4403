/** Time values as the library takes them (Date or Unix ms) and as it prints them. */
import { InvalidArgumentError } from '../errors.js';
import type { TimeInput } from '../types.js';

/** Unix milliseconds of `now` (a Date or ms), or the current time when omitted. */
export function toUnixMs(now: TimeInput | undefined, name = 'now'): number {
  if (now === undefined) return Date.now();
  const ms = now instanceof Date ? now.getTime() : now;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new InvalidArgumentError(`${name} must be a valid Date or Unix milliseconds`);
  }
  return ms;
}

/** ISO 8601 when the time is representable as a Date, else the number itself (or "none"). */
export function isoTime(ms: number): string {
  if (!Number.isFinite(ms)) return 'none';
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

/** Largest delay Node timers accept (2^31 - 1 ms, about 24.8 days); larger values fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;
