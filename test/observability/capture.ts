/** A pino-shaped logger that records every call, for the observability tests. */
import type { Logger } from '../../src/index.js';

export interface LogEntry {
  level: 'info' | 'warn' | 'error' | 'debug';
  obj: Record<string, unknown>;
  msg: string | undefined;
  bindings: Record<string, unknown>;
}

export interface CapturingLogger extends Logger {
  entries: LogEntry[];
  /** Every argument ever passed, JSON-stringified, for secret scans. */
  text(): string;
}

/** With `child` (pino-like) by default; `withChild: false` gives a plain four-method logger. */
export function capturingLogger(withChild = true): CapturingLogger {
  const entries: LogEntry[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const at =
      (level: LogEntry['level']) =>
      (obj: Record<string, unknown>, msg?: string): void => {
        entries.push({ level, obj, msg, bindings });
      };
    const logger: Logger = { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
    if (withChild) logger.child = (more) => make({ ...bindings, ...more });
    return logger;
  };
  return Object.assign(make({}), { entries, text: () => JSON.stringify(entries) });
}
