/**
 * A bidder fleet sharing one opt-out set through Redis, on one machine: starts redis-server
 * (AOF, appendfsync always, in a temporary directory), the local operator, one webhook receiver
 * (`uid2-engine optout serve --store redis://...`) and three example bidders
 * (examples/bidder/server.mjs with OPTOUT_STORE=redis://...). Then it generates tokens for three
 * users as a publisher would (PublisherClient, POST /v2/token/generate), shows every bidder bidding on all three, opts two of them out through the operator's
 * admin route (operator -> webhook -> receiver -> Redis -> every bidder), and shows every bidder
 * refusing to bid on those two while still bidding on the third. Exits 0 when every bidder
 * honored both opt-outs (within 10 s), 1 otherwise; everything it started is stopped.
 *
 * Usage (from the repository root, after `npm ci && npm run build`; needs redis-server):
 *   node examples/fleet/run.mjs
 * LOCAL OPERATOR ONLY: its admin route opts raw UIDs out, which the real service does not offer.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BidstreamClient, PublisherClient } from '../../dist/index.js';
import { startLocalOperator } from '../../dist/testing.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/cli/main.js');
const BIDDER = join(ROOT, 'examples/bidder/server.mjs');
const HONOR_WITHIN_MS = 10_000;

const children = [];
const dir = mkdtempSync(join(tmpdir(), 'uid2-fleet-'));

async function freePort() {
  const server = createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** Spawns a process and resolves once a line of its output satisfies `ready` (with that line). */
async function start(name, command, args, env, stream, ready) {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines = createInterface({ input: child[stream] });
  const other = stream === 'stdout' ? child.stderr : child.stdout;
  other.resume();
  return new Promise((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`${name} could not start: ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready`)));
    lines.on('line', (line) => {
      const found = ready(line);
      if (found) {
        child.removeAllListeners('exit');
        resolve({ child, found });
      }
    });
  });
}

/** A bid request for one advertising token. */
function bidRequest(token, n) {
  return JSON.stringify({
    id: `fleet-${n}`,
    imp: [{ id: '1', banner: { format: [{ w: 300, h: 250 }] } }],
    site: { domain: 'example.com' },
    user: { eids: [{ source: 'uidapi.com', uids: [{ id: token, atype: 3 }] }] },
  });
}

async function bid(bidderUrl, token, n) {
  const res = await fetch(`${bidderUrl}/bid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bidRequest(token, n) });
  await res.arrayBuffer();
  return res.status;
}

let operator;
let ok = false;
try {
  const redisPort = await freePort();
  await start('redis-server', 'redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''], {}, 'stdout', (l) =>
    l.includes('Ready to accept connections'),
  );
  const store = `redis://127.0.0.1:${redisPort}/0`;
  console.log(`redis-server     ${store} (AOF, appendfsync always)`);

  // The webhook's bearer token: the receiver refuses to start without one, and the operator
  // sends it with every delivery, as the UID2 service does with the one registered for the webhook.
  const hookToken = randomBytes(24).toString('base64url');
  const receiverPort = await freePort();
  const { found: hookUrl } = await start('receiver', process.execPath, [CLI, 'optout', 'serve', '--port', String(receiverPort), '--store', store], { UID2_OPTOUT_TOKEN: hookToken }, 'stdout', (l) => l.startsWith('http') && l);
  console.log(`receiver         ${hookUrl}  (optout serve --store ${store}, token from UID2_OPTOUT_TOKEN)`);

  operator = await startLocalOperator({ optOutWebhook: { url: hookUrl, retryBaseMs: 50, headers: { Authorization: `Bearer ${hookToken}` } } });
  console.log(`local operator   ${operator.url}  (delivers opt-outs to the receiver)`);

  const bidders = [];
  for (let i = 1; i <= 3; i++) {
    const env = { UID2_BASE_URL: operator.url, UID2_API_KEY: operator.apiKey, UID2_SECRET_KEY: operator.secretKey, PORT: '0', THREADS: '1', OPTOUT_STORE: store, LOG_LEVEL: 'info' };
    const { found } = await start(`bidder ${i}`, process.execPath, [BIDDER], env, 'stderr', (l) => {
      try {
        const entry = JSON.parse(l);
        return entry.event === 'listening' && entry.url;
      } catch {
        return false;
      }
    });
    bidders.push(found);
    console.log(`bidder ${i}         ${found}  (OPTOUT_STORE=${store})`);
  }

  // Each user signs in at a publisher, which generates their token; a bidder-side client
  // decrypts it once to learn the raw UID the opt-out will name.
  const publisher = new PublisherClient(operator.url, operator.apiKey, operator.secretKey);
  const decryptor = new BidstreamClient(operator.url, operator.apiKey, operator.secretKey);
  await decryptor.refresh();
  const users = [];
  for (const name of ['alice', 'bob', 'carol']) {
    const result = await publisher.generateToken({ email: `${name}@example.com` });
    if (result.status !== 'success') throw new Error(`no token for ${name}: ${result.status}`);
    const token = result.identity.advertisingToken;
    users.push({ name, token, rawUid: decryptor.decryptTokenIntoRawUid(token).uid });
  }
  decryptor.close();
  const table = async () => {
    const rows = [];
    for (const u of users) rows.push([u.name, ...(await Promise.all(bidders.map((b, i) => bid(b, u.token, i))))]);
    return rows;
  };
  const print = (title, rows) => {
    console.log(`\n${title}\n  user    bidder 1  bidder 2  bidder 3   (200 = bid, 204 = no bid)`);
    for (const [name, ...codes] of rows) console.log(`  ${name.padEnd(7)} ${codes.map((c) => String(c).padEnd(9)).join(' ')}`);
  };
  print('before any opt-out:', await table());

  const t0 = Date.now();
  for (const u of users.slice(0, 2)) {
    const res = await fetch(`${operator.url}/local/optout`, { method: 'POST', headers: { Authorization: `Bearer ${operator.apiKey}` }, body: JSON.stringify({ advertising_id: u.rawUid }) });
    if (res.status !== 200) throw new Error(`the operator refused the opt-out: ${res.status}`);
  }
  console.log(`\nopted out alice and bob through the operator (POST /local/optout)`);
  const honored = (rows) => rows.every(([name, ...codes]) => codes.every((c) => c === (name === 'carol' ? 200 : 204)));
  let rows = await table();
  while (!honored(rows) && Date.now() - t0 < HONOR_WITHIN_MS) {
    await new Promise((r) => setTimeout(r, 50));
    rows = await table();
  }
  ok = honored(rows);
  print(`after the opt-outs (${Date.now() - t0} ms later):`, rows);
  console.log(ok ? '\nevery bidder honors both opt-outs and still bids on carol' : '\nNOT every bidder honored the opt-outs in time');
} catch (err) {
  console.error(`fleet example failed: ${err.message}`);
} finally {
  await operator?.close();
  for (const child of children.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
