/**
 * The package as users install it: `require('uid2-engine')` from CommonJS (Node's require(esm),
 * 20.19+) and `import` from ESM, through the "exports" map of package.json, in child processes
 * with the package linked into a scratch node_modules; and its types from a .cts and an .mts file
 * under `"module": "NodeNext"`, checked by the installed TypeScript with skipLibCheck off.
 * Needs the build (dist/).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A scratch project whose node_modules holds uid2-engine (a link to this checkout) and `extra` packages. */
function project(extra: string[] = []): string {
  const dir = mkdtempSync(join(tmpdir(), 'uid2-packaging-'));
  scratch.push(dir);
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true });
  symlinkSync(ROOT, join(dir, 'node_modules', 'uid2-engine'), 'dir');
  // The declarations name Node's types (Buffer, timers), as every Node library's do.
  symlinkSync(join(ROOT, 'node_modules', '@types', 'node'), join(dir, 'node_modules', '@types', 'node'), 'dir');
  for (const name of extra) symlinkSync(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name), 'dir');
  return dir;
}

function node(dir: string, file: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
}

/** The same program in both module systems: local operator (from the uid2-engine/testing subpath), engine on a worker, one token. */
const PROGRAM = `
  const op = await testing.startLocalOperator();
  const engine = await uid2.DecryptionEngine.create({ keys: op.keyResponse('bidstream'), threads: 1 });
  const rawUid = op.rawUidFor('packaging');
  const result = await engine.decrypt(op.mintToken({ version: 4, rawUid }));
  const [bid] = await engine.decryptBidRequests([{ user: { eids: [{ source: 'uidapi.com', uids: [{ id: op.mintToken({ version: 3 }) }] }] } }]);
  console.log(JSON.stringify({ status: result.status, same: result.uid === rawUid, bid: bid.tokens[0].result.status, client: typeof uid2.BidstreamClient }));
  await engine.close();
  await op.close();
`;

describe('packaging', () => {
  it('require("uid2-engine") works from CommonJS and decrypts on a worker thread', () => {
    const dir = project();
    writeFileSync(join(dir, 'main.cjs'), `'use strict';\nconst uid2 = require('uid2-engine');\nconst testing = require('uid2-engine/testing');\n(async () => {${PROGRAM}})().catch((e) => { console.error(e); process.exit(1); });\n`);
    const run = node(dir, 'main.cjs');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ status: 'Success', same: true, bid: 'Success', client: 'function' });
  });

  it('the main entry keeps test support out: the local operator, token encoding and the envelope live in uid2-engine/testing', () => {
    const dir = project();
    writeFileSync(
      join(dir, 'split.mjs'),
      `import * as uid2 from 'uid2-engine';\nimport * as testing from 'uid2-engine/testing';\nconst names = ['startLocalOperator', 'encodeAdvertisingToken', 'sealRequest', 'openResponse', 'MASTER_KEYSET_ID'];\nconsole.log(JSON.stringify({ main: names.filter((n) => n in uid2), testing: names.filter((n) => n in testing) }));\n`,
    );
    const run = node(dir, 'split.mjs');
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({ main: [], testing: ['startLocalOperator', 'encodeAdvertisingToken', 'sealRequest', 'openResponse', 'MASTER_KEYSET_ID'] });
  });

  it('import "uid2-engine" works from ESM', () => {
    const dir = project();
    writeFileSync(join(dir, 'main.mjs'), `import * as uid2 from 'uid2-engine';\nimport * as testing from 'uid2-engine/testing';\n${PROGRAM}\n`);
    const run = node(dir, 'main.mjs');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ status: 'Success', same: true, bid: 'Success', client: 'function' });
  });

  it('CommonJS and ESM get the same module instance (one copy of the classes)', () => {
    const dir = project();
    writeFileSync(
      join(dir, 'same.mjs'),
      `import { createRequire } from 'node:module';\nimport * as esm from 'uid2-engine';\nconst cjs = createRequire(import.meta.url)('uid2-engine');\nconsole.log(cjs.DecryptionEngine === esm.DecryptionEngine);\n`,
    );
    const run = node(dir, 'same.mjs');
    expect(run.stdout.trim()).toBe('true');
  });

  it('types resolve from a .cts and an .mts file under "module": "NodeNext" (no prom-client installed)', () => {
    const dir = project();
    const tsconfig = {
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'] },
      files: ['check.cts', 'check.mts'],
    };
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    const uses = `
      export async function use(token: string): Promise<string> {
        const engine: DecryptionEngine = await DecryptionEngine.create({ threads: 0, logger: console });
        const result: DecryptionResult = await engine.decrypt(token, 'example.com');
        const status: DecryptionStatus = result.status;
        const found: ExtractedTokens = extractUid2Tokens({ site: { domain: 'example.com' } });
        const perRequest: BidRequestResult[] = await engine.decryptBidRequests([found]);
        await engine.close();
        return status + perRequest.length;
      }
      // @ts-expect-error: a typo in an option is caught
      export const bad: EngineOptions = { thread: 1 };
    `;
    writeFileSync(
      join(dir, 'check.cts'),
      `import { DecryptionEngine, DecryptionStatus, extractUid2Tokens, type BidRequestResult, type DecryptionResult, type EngineOptions, type ExtractedTokens } from 'uid2-engine';\n${uses}`,
    );
    writeFileSync(
      join(dir, 'check.mts'),
      `import { DecryptionEngine, DecryptionStatus, extractUid2Tokens, type BidRequestResult, type DecryptionResult, type EngineOptions, type ExtractedTokens } from 'uid2-engine';\n${uses}`,
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const run = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);

    // And a type error is reported, so the check above is not vacuous (the library's own
    // declarations were just checked: skip them this time).
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ ...tsconfig, compilerOptions: { ...tsconfig.compilerOptions, skipLibCheck: true } }));
    writeFileSync(join(dir, 'check.cts'), `import { DecryptionEngine } from 'uid2-engine';\nexport const n: number = DecryptionEngine;\n`);
    const failing = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(failing.status).not.toBe(0);
    expect(failing.stdout).toMatch(/check\.cts\(2,14\): error TS2322/);
  }, 90_000);

  it('a prom-client Registry type-checks as engine.metrics() argument', () => {
    const dir = project(['prom-client']);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true, types: ['node'] },
        files: ['metrics.mts'],
      }),
    );
    writeFileSync(
      join(dir, 'metrics.mts'),
      `import { Registry } from 'prom-client';\nimport { DecryptionEngine } from 'uid2-engine';\nconst engine = await DecryptionEngine.create({ threads: 0 });\nawait engine.metrics(new Registry(), { prefix: 'bidder_uid2_' });\nexport {};\n`,
    );
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const run = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout + run.stderr).toBe('');
    expect(run.status).toBe(0);
  }, 90_000);
});
