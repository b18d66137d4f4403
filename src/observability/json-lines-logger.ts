/**
 * A minimal pino-compatible logger that writes pino's JSON lines (`level` as pino's numbers,
 * `time` in ms, `pid`, the call's fields, `msg`) to a sink, for CLI processes that have no
 * logger of their own: `optout serve` hands it to the webhook handler so failures reach stderr,
 * where `pino-pretty` or any log shipper reads them. JSON keeps each entry one line whatever a
 * field holds.
 */
import type { LogFn, Logger } from './logger.js';

/** pino's numeric levels. */
const LOG_LEVELS = Object.freeze({ debug: 20, info: 30, warn: 40, error: 50 });

export type LogLevelName = keyof typeof LOG_LEVELS;

/** Whether `name` is one of the levels above. */
export function isLogLevelName(name: unknown): name is LogLevelName {
  return typeof name === 'string' && Object.hasOwn(LOG_LEVELS, name);
}

/** A logger that writes entries at `minLevel` and above as JSON lines to `write`. */
export function createJsonLinesLogger(write: (line: string) => void, minLevel: LogLevelName, bindings: Record<string, unknown> = {}): Logger {
  const at = (name: LogLevelName): LogFn => {
    const level = LOG_LEVELS[name];
    if (level < LOG_LEVELS[minLevel]) return () => {};
    return (obj, msg) => {
      const time = Date.now();
      const pid = process.pid;
      // Fields never overwrite the entry's own level, time, pid or message.
      write(`${JSON.stringify(Object.assign({ level, time, pid }, bindings, obj, { level, time, pid, msg }))}\n`);
    };
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => createJsonLinesLogger(write, minLevel, { ...bindings, ...more }),
  };
}
