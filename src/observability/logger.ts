/**
 * The logger seam: clients and the engine accept any pino-compatible logger (pino itself,
 * a pino child, or a thin adapter over another library) and are silent without one.
 *
 * Every call is `logger.level({ event, ...fields }, message)`, pino's argument order. Fields
 * are counts, codes and messages built from fixed text; callers in this library never pass a
 * credential, a key secret, a token or a raw UID.
 */
import { InvalidArgumentError } from '../errors.js';

/** One level of a pino-compatible logger: merging object first, then the message. */
export type LogFn = (obj: Record<string, unknown>, msg?: string) => void;

/**
 * A pino-compatible logger. `child` is used when present to bind the component name;
 * without it the binding is merged into each call's object.
 */
export interface Logger {
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  debug: LogFn;
  child?: (bindings: Record<string, unknown>) => Logger;
}

const noop: LogFn = () => {};

/** The default logger: drops everything, so a library never writes to a process's output uninvited. */
export const SILENT_LOGGER: Logger = Object.freeze({ info: noop, warn: noop, error: noop, debug: noop });

const LEVELS = ['info', 'warn', 'error', 'debug'] as const;

/**
 * Validates a `logger` option and binds `component` to it (pino child when available).
 * @throws InvalidArgumentError `<name> must have info, warn, error and debug functions`
 */
export function resolveLogger(value: unknown, name: string, component: string): Logger {
  if (value === undefined || value === null) return SILENT_LOGGER;
  const candidate = value as Partial<Logger>;
  if (typeof value !== 'object' || LEVELS.some((level) => typeof candidate[level] !== 'function')) {
    throw new InvalidArgumentError(`${name} must have info, warn, error and debug functions`);
  }
  return bindLogger(value as Logger, { component });
}

/**
 * `logger` with `bindings` added to every call: its pino child when it has `child`, else a thin
 * wrapper that merges them into each call's object. Used where one caller's logs must say which
 * part of it spoke (the component; the identity scope of a dual-scope client's key feed).
 */
export function bindLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  if (typeof logger.child === 'function') return logger.child(bindings);
  // Bound here once, so the hot path of a call is one spread, and `this` stays the caller's logger.
  const bind =
    (level: (typeof LEVELS)[number]): LogFn =>
    (obj, msg) =>
      logger[level].call(logger, { ...bindings, ...obj }, msg);
  return { info: bind('info'), warn: bind('warn'), error: bind('error'), debug: bind('debug') };
}
