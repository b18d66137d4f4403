#!/usr/bin/env node
/**
 * Run by an arm64 Node (scripts/check-arm64.sh runs it under qemu): the linux-arm64 prebuild
 * loads, and every vendored decryption vector decrypts to the same result through it (in process,
 * and in a worker's batch decoder) as through the node:crypto path, and as the vector states.
 * Exit 0 when all agree; the first disagreement is printed (case name and field, never the token).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { BidstreamClient, DecryptionEngine, SharingClient, decryptToken, parseKeys } = await import(join(root, 'dist/index.js'));
const { nativeAddonPath } = await import(join(root, 'dist/native/load.js'));
const vectors = JSON.parse(readFileSync(join(root, 'test/vectors/decrypt-vectors.json'), 'utf8'));

const fail = (line) => {
  console.error(`check-arm64: ${line}`);
  process.exit(1);
};
const expectedPath = join(root, `prebuilds/linux-${process.arch}/uid2-engine.glibc.node`);
if (process.arch !== 'arm64') fail(`runs on ${process.arch}; run it with an arm64 Node (scripts/check-arm64.sh)`);
if (nativeAddonPath() !== expectedPath) fail(`the addon loaded from ${nativeAddonPath()}, not ${expectedPath}`);

/** The vector's stated fields, as the result names them. */
function stated(result, expect) {
  const ms = (d) => (d instanceof Date ? d.getTime() : null);
  const got = {
    status: result.status,
    uid: result.uid ?? null,
    siteId: result.siteId ?? null,
    identityType: result.identityType ?? null,
    advertisingTokenVersion: result.advertisingTokenVersion ?? null,
    isClientSideGenerated: result.isClientSideGenerated ?? null,
    establishedMs: ms(result.established),
    expiryMs: ms(result.expiry),
  };
  return Object.keys(expect).find((k) => !isDeepStrictEqual(got[k], expect[k]));
}

const engines = new Map();
let checked = 0;
try {
  for (const c of vectors.decrypt) {
    const keys = c.keySet === null ? undefined : parseKeys(vectors.keySets[c.keySet].response);
    const domain = c.domainOrAppName ?? undefined;
    const reference = decryptToken(c.token, keys, c.clientType, domain, c.nowMs);
    const field = stated(reference, c.expect);
    if (field !== undefined) fail(`${c.name}: node:crypto path disagrees with the vector on ${field}`);

    const paths = [];
    if (c.clientType !== 'legacy') {
      const client = c.clientType === 'bidstream' ? new BidstreamClient() : new SharingClient();
      if (client.backend !== 'native') fail(`the clients run on ${client.backend}, not native`);
      if (keys) client.refreshJson(vectors.keySets[c.keySet].response);
      paths.push(['in process', client instanceof BidstreamClient ? client.decryptTokenIntoRawUid(c.token, domain, c.nowMs) : client.decryptTokenIntoRawUid(c.token, c.nowMs)]);
    }
    const engineKey = `${c.clientType}/${c.keySet}`;
    if (!engines.has(engineKey)) {
      const engine = await DecryptionEngine.create({ clientType: c.clientType, threads: 1 });
      if (engine.stats().backend !== 'native') fail(`the engine runs on ${engine.stats().backend}, not native`);
      if (keys) engine.setKeys(vectors.keySets[c.keySet].response);
      engines.set(engineKey, engine);
    }
    const [inWorker] = await engines.get(engineKey).decryptBatch([c.token], { domains: [domain], now: c.nowMs });
    paths.push(['in a worker', inWorker]);
    for (const [where, result] of paths) {
      const comparable = c.clientType === 'sharing' && where === 'in process' ? decryptToken(c.token, keys, c.clientType, undefined, c.nowMs) : reference;
      if (!isDeepStrictEqual(result, comparable)) fail(`${c.name}: native ${where} differs from node:crypto (status ${result.status} vs ${comparable.status})`);
    }
    checked++;
  }
} finally {
  for (const engine of engines.values()) await engine.close();
}
console.log(`check-arm64: ${checked} vectors: the linux-arm64 prebuild decrypts each exactly as node:crypto and as stated, in process and in a worker (${process.version}, ${process.arch})`);
