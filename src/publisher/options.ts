/**
 * Options of PublisherClient, their defaults and their validation (checked in the constructor,
 * so a bad value fails at once with a message naming the option).
 */
import { InvalidArgumentError } from '../errors.js';
import { integerOption } from '../util/integer-option.js';
import { MAX_TIMER_MS } from '../util/time.js';

/** The 4th constructor argument of PublisherClient. */
export interface PublisherClientOptions {
  /** Time allowed for one call (connect, answer and body), ms. Default 10 000. */
  timeoutMs?: number;
  /** Largest answer read, bytes; a real one is about 2 KB. Default 1 MiB. */
  maxResponseBytes?: number;
}

export const DEFAULT_PUBLISHER_CLIENT_OPTIONS: Readonly<Required<PublisherClientOptions>> = Object.freeze({
  timeoutMs: 10_000,
  maxResponseBytes: 1024 * 1024,
});

/** Options of one `generateToken()` or `refreshToken()` call. */
export interface PublisherCallOptions {
  /** Aborts the call; it then rejects with an AbortedError (`UID2_ERR_ABORTED`). */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
}

function checkObject(options: unknown): Record<string, unknown> {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options)) throw new InvalidArgumentError('options must be an object');
  return options as Record<string, unknown>;
}

/** @throws InvalidArgumentError naming the first bad option */
export function resolvePublisherClientOptions(options: unknown): Required<PublisherClientOptions> {
  const o = checkObject(options);
  const d = DEFAULT_PUBLISHER_CLIENT_OPTIONS;
  return {
    timeoutMs: integerOption(o['timeoutMs'], 'options.timeoutMs', d.timeoutMs, MAX_TIMER_MS),
    maxResponseBytes: integerOption(o['maxResponseBytes'], 'options.maxResponseBytes', d.maxResponseBytes),
  };
}

/** @throws InvalidArgumentError naming the first bad option */
export function resolvePublisherCallOptions(options: unknown, timeoutMs: number): { signals: AbortSignal[]; timeoutMs: number } {
  const o = checkObject(options);
  const signal = o['signal'];
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentError('options.signal must be an AbortSignal');
  return { signals: signal ? [signal] : [], timeoutMs: integerOption(o['timeoutMs'], 'options.timeoutMs', timeoutMs, MAX_TIMER_MS) };
}
