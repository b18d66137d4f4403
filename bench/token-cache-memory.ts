/**
 * What a token cache entry really costs, for the cache's `bytes` accounting: fills a TokenCache
 * with N distinct v4 tokens (real ones, from the encoder) and compares the growth of the heap plus
 * off-heap memory (process.memoryUsage(), after forced GCs) with what `stats().bytes` says.
 * Run in its own process with --expose-gc (bench/token-cache.ts does): `node --expose-gc
 * dist-bench/token-cache-memory.js [entries]`. Prints one JSON line.
 */
import { randomBytes } from 'node:crypto';
import { parseKeys } from '../dist/index.js';
import { encodeAdvertisingToken } from '../dist/testing.js';
import { TokenCache } from '../dist/cache/token-cache.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

function settledMemory(): number {
  for (let i = 0; i < 4; i++) gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

const entries = Number(process.argv[2] ?? 1_000_000);
const nowS = Math.floor(Date.now() / 1000);
const master = { id: 11, secret: randomBytes(32) };
const site = { id: 12, secret: randomBytes(32) };
const keyJson = (k: { id: number; secret: Buffer }, keysetId: number) => ({
  id: k.id,
  keyset_id: keysetId,
  created: nowS - 3600,
  activates: nowS - 3600,
  expires: nowS + 86_400,
  secret: k.secret.toString('base64'),
});
const keys = parseKeys({ body: { keys: [keyJson(master, 1), keyJson(site, 99)], identity_scope: 'UID2' } });
const now = Date.now();
const cache = new TokenCache({ maxEntries: entries, maxBytes: Number.MAX_SAFE_INTEGER });

// Mint the tokens into lists first, so minting's garbage is gone before the baseline.
const tokens: string[] = [];
// Raw UID bytes: store() makes the raw UID text from them, as a decryption does, so the text is
// the cache's own and counts in its growth.
const uids: Buffer[] = [];
// Held through a global: V8 may free module-level values no later code reads, before `real`.
(globalThis as { keepAlive?: unknown }).keepAlive = [tokens, uids];
for (let i = 0; i < entries; i++) {
  const rawUid = randomBytes(32);
  tokens.push(encodeAdvertisingToken({ version: 4, masterKey: master, siteKey: site, rawUid, siteId: 5, expiresMs: now + 3_600_000, generatedMs: now, establishedMs: now }));
  uids.push(rawUid);
}
const before = settledMemory();
for (let i = 0; i < entries; i++) {
  cache.store(tokens[i]!, {
    version: 4,
    identityType: 'Email',
    isClientSideGenerated: false,
    siteId: 5,
    establishedMs: now,
    expiresMs: now + 3_600_000,
    generatedMs: now,
    uid: uids[i]!,
    masterKeyId: master.id,
    siteKeyId: site.id,
  }, keys);
}
// The lists are still alive, and the cache holds copies of its own: the growth is the cache's.
const real = settledMemory() - before;
const tokenLength = tokens[0]!.length;
const stats = cache.stats();
process.stdout.write(
  JSON.stringify({
    entries: stats.entries,
    tokenLength,
    realBytesPerEntry: real / stats.entries,
    accountedBytesPerEntry: stats.bytes / stats.entries,
    accountedOverReal: stats.bytes / real,
    // Besides the token text itself (a V8 string of 16 + length bytes, rounded to 8).
    realBytesPerEntryBesidesTokenText: real / stats.entries - ((16 + tokenLength + 7) & ~7),
  }) + '\n',
);
