// A follower process for the fleet tests: opens a RedisOptOutStore (from dist/) and answers
// checks on stdin. Argument: a JSON object { url, keyPrefix?, cacheFile? }. It prints
// {"ready":true,"size":N} once loaded; each stdin line is a path to a file of raw UIDs (one a
// line), answered with {"missing":M,"size":N,"stats":{...}}. Exits on stdin end.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { RedisOptOutStore } from '../../dist/index.js';

const { url, ...options } = JSON.parse(process.argv[2]);
const store = await RedisOptOutStore.open(url, { blockMs: 200, maxBackoffMs: 200, ...options });
process.stdout.write(`${JSON.stringify({ ready: true, size: store.size })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const uids = readFileSync(line, 'utf8').split('\n').filter(Boolean);
  const missing = uids.filter((u) => !store.has(u)).length;
  process.stdout.write(`${JSON.stringify({ missing, size: store.size, stats: store.stats() })}\n`);
}
await store.close();
