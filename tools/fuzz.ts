/**
 * `npm run fuzz -- --minutes N [--seed S] [--cli-every K]`: hostile inputs against the library,
 * the engine (every backend this build has) and the CLI. A failing input is saved under
 * test/fuzz-corpus/ (the test suite replays every file there) and the run exits 1.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DecryptionEngine } from '../dist/index.js';
import { FUZZ_NOW_MS, checkLibrary, fuzzKeyJson, fuzzKeys, seedTokens, type FuzzCase } from './fuzz-target.js';
import { mutate, randomInput, seeded } from './mutate.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const corpusDir = `${root}test/fuzz-corpus`;
const cliPath = `${root}dist/cli/main.js`;

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '1' }, seed: { type: 'string', default: String(Date.now() % 1e9) }, 'cli-every': { type: 'string', default: '20' } },
});
const minutes = Number(values.minutes);
const seed = Number(values.seed);
const cliEvery = Number(values['cli-every']);
if (!(minutes > 0) || !Number.isInteger(seed) || !(cliEvery >= 1)) {
  process.stderr.write('usage: npm run fuzz -- --minutes N [--seed S] [--cli-every K]\n');
  process.exit(2);
}

let failures = 0;
function save(target: string, c: FuzzCase, problem: string): void {
  failures++;
  const record = { target, problem, input: c.input, domain: c.domain, nowMs: FUZZ_NOW_MS, keys: fuzzKeyJson(), seed };
  const name = createHash('sha256').update(JSON.stringify([target, c.input, c.domain])).digest('hex').slice(0, 16);
  mkdirSync(corpusDir, { recursive: true });
  writeFileSync(`${corpusDir}/${name}.json`, JSON.stringify(record, null, 2) + '\n');
  process.stderr.write(`FAIL [${target}] ${problem} -> test/fuzz-corpus/${name}.json\n`);
}

async function main(): Promise<void> {
  const r = seeded(seed);
  const keys = fuzzKeys();
  const seeds = seedTokens();
  const engines: { name: string; engine: DecryptionEngine }[] = [];
  for (const backend of ['node-crypto', 'native']) {
    process.env['UID2_ENGINE_BACKEND'] = backend;
    try {
      const engine = await DecryptionEngine.create({ keys: fuzzKeyJson(), threads: 1 });
      if (!engines.some((e) => e.engine.stats().backend === engine.stats().backend)) engines.push({ name: engine.stats().backend, engine });
      else await engine.close();
    } catch {
      // This build has no such backend.
    }
  }
  delete process.env['UID2_ENGINE_BACKEND'];
  // The default backend once more with the token cache on: inputs repeat (seeds and mutations of
  // them), so hits must answer exactly as the library does too.
  const cached = await DecryptionEngine.create({ keys: fuzzKeyJson(), threads: 1, tokenCache: { maxEntries: 4096 } });
  engines.push({ name: `${cached.stats().backend}+cache`, engine: cached });
  const deadline = Date.now() + minutes * 60_000;
  let inputs = 0;
  let blocks = 0;
  const domains = [null, 'fuzz.example', 'FUZZ.EXAMPLE', 'evil.example', '', 'x'.repeat(3000)];
  while (Date.now() < deadline) {
    const block: FuzzCase[] = [];
    for (let i = 0; i < 1000; i++) {
      const input = r() < 0.75 ? mutate(seeds[Math.floor(r() * seeds.length)]!, r).input : randomInput(r);
      block.push({ input, domain: domains[Math.floor(r() * domains.length)]! });
    }
    const expected = block.map((c) => {
      const checked = checkLibrary(keys, c);
      if ('problem' in checked) {
        save('library', c, checked.problem);
        return null;
      }
      return checked.results.bidstream;
    });
    for (const { name, engine } of engines) {
      const got = await engine.decryptBatch(block.map((c) => c.input as string), { domains: block.map((c) => c.domain), now: FUZZ_NOW_MS });
      got.forEach((g, i) => {
        if (expected[i] && JSON.stringify(g) !== JSON.stringify(expected[i])) save(`engine:${name}`, block[i]!, `engine ${g.status} vs library ${expected[i]!.status}`);
      });
    }
    if (blocks % cliEvery === 0) {
      const lines = block.map((c) => JSON.stringify({ token: c.input, domainOrAppName: c.domain })).join('\n') + '\n';
      const keysFile = join(tmpdir(), `uid2-fuzz-keys-${process.pid}.json`);
      writeFileSync(keysFile, JSON.stringify(fuzzKeyJson()));
      const run = spawnSync(process.execPath, [cliPath, 'decrypt', '--keys', keysFile, '--now', String(FUZZ_NOW_MS)], { input: lines, encoding: 'utf8', maxBuffer: 1 << 28 });
      const out = run.stdout.split('\n').filter(Boolean);
      if (run.status !== 0 || out.length !== block.length) {
        save('cli', block[0]!, `cli exited ${run.status} with ${out.length} of ${block.length} lines: ${run.stderr.slice(0, 200)}`);
      } else {
        out.forEach((line, i) => {
          const status = (JSON.parse(line) as { status: string }).status;
          if (expected[i] && status !== expected[i]!.status) save('cli', block[i]!, `cli ${status} vs library ${expected[i]!.status}`);
        });
      }
    }
    inputs += block.length;
    blocks++;
    if (blocks % 10 === 0) process.stderr.write(`fuzz: ${inputs.toLocaleString('en-US')} inputs, ${failures} failures\n`);
  }
  for (const { engine } of engines) await engine.close();
  process.stdout.write(
    `fuzz: ${inputs.toLocaleString('en-US')} inputs in ${minutes} min (seed ${seed}) through the library (3 client types), ` +
      `${engines.map((e) => `engine:${e.name}`).join(', ')} and the CLI every ${cliEvery} blocks: ${failures} failures\n`,
  );
  process.exitCode = failures > 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz crashed: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
