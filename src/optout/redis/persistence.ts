/**
 * What an opt-out Redis acknowledged survives, read from Redis's own configuration when the store
 * opens: an acknowledgement (the webhook's 200) is only as durable as Redis's persistence, and a
 * Redis without AOF loses every acknowledged opt-out since its last snapshot when it restarts,
 * silently. The table in docs/optout.md says what each setting keeps.
 */
import type { Redis } from 'ioredis';

/** How durable Redis's acknowledged writes are. */
export type RedisDurability =
  /** `appendonly yes` + `appendfsync always`: survives a Redis crash and a machine crash. */
  | 'always'
  /** `appendonly yes` with `everysec` or `no`: survives a Redis restart or crash, not a machine crash (~1 s / ~30 s lost). */
  | 'restart'
  /** `appendonly no`: a restart loses everything since the last RDB snapshot, if there is one. */
  | 'none'
  /** CONFIG and INFO are not allowed (a managed Redis): not checked. */
  | 'unknown';

export interface RedisPersistence {
  durability: RedisDurability;
  /** `appendonly`, or null when unreadable. */
  appendonly: boolean | null;
  /** `appendfsync` (`always`, `everysec`, `no`), or null when unreadable. */
  appendfsync: string | null;
}

async function configValue(client: Redis, name: string): Promise<string | null> {
  const reply = (await client.call('CONFIG', 'GET', name)) as unknown;
  return Array.isArray(reply) && reply.length >= 2 ? String(reply[1]) : null;
}

/** Reads Redis's AOF settings (CONFIG GET, else INFO persistence for AOF on or off). Never throws. */
export async function readRedisPersistence(client: Redis): Promise<RedisPersistence> {
  let appendonly: boolean | null = null;
  let appendfsync: string | null = null;
  try {
    const aof = await configValue(client, 'appendonly');
    appendonly = aof === null ? null : aof === 'yes';
    appendfsync = await configValue(client, 'appendfsync');
  } catch {
    try {
      const info = String(await client.call('INFO', 'persistence'));
      const enabled = /^aof_enabled:(\d)/m.exec(info);
      if (enabled) appendonly = enabled[1] === '1';
    } catch {
      // Neither is allowed: unknown.
    }
  }
  let durability: RedisDurability = 'unknown';
  if (appendonly === false) durability = 'none';
  else if (appendonly === true) durability = appendfsync === 'always' ? 'always' : appendfsync === null ? 'unknown' : 'restart';
  return { durability, appendonly, appendfsync };
}

/** One line for an operator about what acknowledged opt-outs survive, or null when they survive everything. */
export function describeRedisPersistence(p: RedisPersistence): string | null {
  switch (p.durability) {
    case 'always':
      return null;
    case 'restart':
      return `Redis runs appendfsync ${p.appendfsync}: acknowledged opt-outs survive a Redis restart but not a machine crash (set appendfsync always)`;
    case 'none':
      return 'Redis runs without AOF (appendonly no): acknowledged opt-outs would not survive a Redis restart (set appendonly yes, appendfsync always)';
    default:
      return p.appendonly === true
        ? 'Redis runs with AOF, but its appendfsync could not be read: acknowledged opt-outs may not survive a machine crash'
        : 'Redis persistence could not be checked (CONFIG and INFO refused): acknowledged opt-outs may not survive a Redis restart';
  }
}
