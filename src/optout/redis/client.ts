/**
 * Loads ioredis, the fleet store's optional peer dependency, on first use: the library itself
 * depends on nothing but piscina, and a process that never opens a Redis store never loads it.
 * ioredis over node-redis: one package with no install scripts, Buffer replies for binary raw
 * UIDs (hscanBuffer, xreadBuffer), defineCommand (EVALSHA with an EVAL fallback after a Redis
 * restart empties the script cache) and reconnect with a retry strategy built in.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { ConfigError } from '../../errors.js';

export type RedisConstructor = new (url: string, options: RedisOptions) => Redis;

/**
 * The ioredis `Redis` class. `specifier` exists for the test of the missing-package path.
 * @throws ConfigError (`UID2_ERR_CONFIG`) saying to install ioredis when it cannot be loaded
 */
export async function loadRedisClient(specifier = 'ioredis'): Promise<RedisConstructor> {
  try {
    const mod = (await import(specifier)) as { Redis?: RedisConstructor; default?: RedisConstructor };
    const ctor = mod.Redis ?? mod.default;
    if (typeof ctor !== 'function') throw new TypeError(`${specifier} has no Redis export`);
    return ctor;
  } catch (err) {
    throw new ConfigError(`a redis:// opt-out store needs the optional peer dependency ioredis: npm install ioredis (${(err as Error)?.message ?? err})`);
  }
}
