/**
 * A worker-thread entry for the refresh-block benchmark (refresh-block.ts): a local operator
 * serving `workerData.keys` keys, on its own thread so that building and sealing each response
 * never runs on the event loop being measured.
 *
 * The operator has one master keyset, the caller's and K - 2 site keysets, each starting with two
 * keys; every rotation adds one key per keyset, so K keysets and N / K - 2 rotations serve N keys.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startLocalOperator } from '../dist/testing.js';

const keys = (workerData as { keys: number }).keys;
const keysets = 10 ** Math.ceil(Math.log10(keys) / 2);
if (keys % keysets !== 0 || keys / keysets < 2) throw new RangeError(`cannot serve exactly ${keys} keys`);
const sites = Array.from({ length: keysets - 2 }, (_, i) => ({ id: 20_000 + i, domainNames: [`site${i}.example`, `com.example.app${i}`] }));
const operator = await startLocalOperator({ sites });
for (let i = 0; i < keys / keysets - 2; i++) operator.rotateKeys();
parentPort!.once('message', () => void operator.close().then(() => process.exit(0)));
// What a client receives: base64 of GCM(iv 12 | timestamp 8 | nonce 8 | JSON | tag 16).
const sealed = Buffer.byteLength(JSON.stringify(operator.keyResponse('bidstream'))) + 12 + 16 + 16;
const responseBytes = Math.ceil(sealed / 3) * 4;
parentPort!.postMessage({ url: operator.url, apiKey: operator.apiKey, secretKey: operator.secretKey, responseBytes });
