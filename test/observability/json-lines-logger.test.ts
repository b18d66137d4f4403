/** The CLI's stderr logger: pino's JSON lines, one per entry, filtered by level, fields unable to forge the entry's own keys. */
import { describe, expect, it } from 'vitest';
import { createJsonLinesLogger, isLogLevelName } from '../../src/observability/json-lines-logger.js';
import { resolveLogger } from '../../src/observability/logger.js';

describe('createJsonLinesLogger', () => {
  it('writes one pino JSON line per entry at or above its level, with bindings, and no field overrides level, time, pid or msg', () => {
    const lines: string[] = [];
    const logger = createJsonLinesLogger((line) => lines.push(line), 'warn');
    logger.debug({ event: 'a' }, 'dropped');
    logger.info({ event: 'b' }, 'dropped');
    logger.warn({ event: 'c', status: 503 }, 'kept');
    logger.error({ event: 'd', level: 10, msg: 'forged', time: 0, pid: 1 }, 'line one\nline two');
    const child = resolveLogger(logger, 'logger', 'uid2-optout-webhook');
    child.warn({ event: 'e' }, 'from a child');
    expect(lines.every((l) => l.endsWith('\n') && l.indexOf('\n') === l.length - 1)).toBe(true);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.map((e) => [e['level'], e['event'], e['msg']])).toEqual([
      [40, 'c', 'kept'],
      [50, 'd', 'line one\nline two'],
      [40, 'e', 'from a child'],
    ]);
    expect(entries[1]).toMatchObject({ pid: process.pid });
    expect(entries[1]!['time']).toBeGreaterThan(1_600_000_000_000);
    expect(entries[2]).toMatchObject({ component: 'uid2-optout-webhook' });
    expect(Object.keys(entries[0]!).slice(0, 3)).toEqual(['level', 'time', 'pid']);
  });

  it('knows its level names', () => {
    expect(['debug', 'info', 'warn', 'error'].every(isLogLevelName)).toBe(true);
    expect(['trace', 'WARN', 'toString', 40].some(isLogLevelName)).toBe(false);
  });
});
