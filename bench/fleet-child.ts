/**
 * A child process of the fleet benchmark (bench/fleet.ts), in its own process as a bidder
 * would be. `node fleet-child.js follow URL UIDFILE`: opens a RedisOptOutStore, prints
 * "ready", then polls every millisecond for the next raw UIDs of UIDFILE (in the order they
 * are sent, with a window for reordering), recording when each became visible (Unix ms with
 * sub-ms precision); on "report" on stdin it prints the times as JSON and exits.
 * `node fleet-child.js write URL RATE`: adds random opt-outs at RATE a second while it has
 * received "start" and not "stop" (the sync load for the decrypt-while-syncing figure).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { RedisOptOutStore } from '../dist/index.js';

const WINDOW = 512;

function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

async function follow(url: string, uidFile: string): Promise<void> {
  const uids = readFileSync(uidFile, 'utf8').split('\n').filter(Boolean);
  const seenAt = new Float64Array(uids.length);
  const store = await RedisOptOutStore.open(url, { blockMs: 500 });
  process.stdout.write('ready\n');
  let next = 0;
  let stop = false;
  const poll = (): void => {
    const now = wallMs();
    const end = Math.min(uids.length, next + WINDOW);
    for (let i = next; i < end; i++) if (seenAt[i] === 0 && store.has(uids[i]!)) seenAt[i] = now;
    while (next < uids.length && seenAt[next] !== 0) next++;
    if (!stop) setTimeout(poll, 1);
  };
  poll();
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'report') break;
  }
  stop = true;
  process.stdout.write(`${JSON.stringify({ seenAt: Array.from(seenAt), stats: store.stats() })}\n`);
  await store.close();
}

async function write(url: string, rate: number): Promise<void> {
  const store = await RedisOptOutStore.open(url);
  process.stdout.write('ready\n');
  let on = false;
  let sent = 0;
  let started = 0;
  const tick = (): void => {
    if (on) {
      const due = Math.floor(((performance.now() - started) / 1000) * rate);
      for (; sent < due; sent++) void store.add(randomBytes(32), Date.now()).catch(() => undefined);
    }
    setTimeout(tick, 5);
  };
  tick();
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'start') {
      on = true;
      started = performance.now();
      sent = 0;
    } else if (line === 'stop') on = false;
  }
  await store.close();
  process.exit(0);
}

const [mode, url, arg] = process.argv.slice(2);
if (mode === 'follow') await follow(url!, arg!);
else if (mode === 'write') await write(url!, Number(arg));
else throw new Error('usage: fleet-child.js follow URL UIDFILE | write URL RATE');
