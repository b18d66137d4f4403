#!/usr/bin/env node
// Sets up what `npm test` and `npm start` need on a bare machine, before they run (npm runs this
// as their `pretest` / `prestart` step). Node built-ins only: it runs before any dependency exists.
//
//   node scripts/setup.mjs            dependencies from the lock file when node_modules is missing
//                                     or does not match package-lock.json (`npm ci`)
//   node scripts/setup.mjs --redis    the same, then redis-server for the opt-out fleet tests:
//                                     installed with Debian's apt-get when missing and this user
//                                     may install packages (root, or sudo without a password),
//                                     otherwise one line naming the command to run, exit 1.
//
// UID2_SETUP_NO_INSTALL=1 turns both installs into that one line (for machines whose packages
// are managed elsewhere).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const noInstall = process.env.UID2_SETUP_NO_INSTALL === '1';

function say(line) {
  process.stderr.write(`uid2-engine setup: ${line}\n`);
}

function run(command, args, env = process.env) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (result.error) throw result.error;
  return result.status === 0;
}

/** Why node_modules does not match package-lock.json, or undefined when it does. */
export function dependencyDrift(dir = root) {
  const hidden = join(dir, 'node_modules', '.package-lock.json');
  if (!existsSync(hidden)) return 'node_modules is missing';
  let wanted;
  let installed;
  try {
    wanted = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')).packages ?? {};
    installed = JSON.parse(readFileSync(hidden, 'utf8')).packages ?? {};
  } catch {
    return 'node_modules/.package-lock.json cannot be read';
  }
  for (const [path, entry] of Object.entries(wanted)) {
    if (!path.startsWith('node_modules/')) continue;
    const have = installed[path];
    // Optional packages for other platforms (e.g. @napi-rs/nice-*) are never installed here.
    if (have === undefined) {
      if (entry.optional) continue;
      return `${path} is not installed`;
    }
    if (have.version !== entry.version) return `${path} is ${have.version}, the lock file wants ${entry.version}`;
  }
  return undefined;
}

function ensureDependencies() {
  const drift = dependencyDrift();
  if (drift === undefined) return;
  if (noInstall) {
    say(`${drift}; run: npm ci`);
    process.exit(1);
  }
  say(`${drift}: installing from the lock file (npm ci)`);
  if (!run('npm', ['ci', '--no-audit', '--no-fund'])) {
    say('npm ci failed; see its output above');
    process.exit(1);
  }
}

function has(command, args) {
  const r = spawnSync(command, args, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function ensureRedis() {
  if (has('redis-server', ['--version'])) return;
  const hint = 'the opt-out fleet tests need redis-server: run `sudo apt-get install -y redis-server` (Debian/Ubuntu) and try again';
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const prefix = isRoot ? [] : has('sudo', ['-n', 'true']) ? ['sudo', '-n'] : undefined;
  if (noInstall || prefix === undefined || !has('apt-get', ['--version'])) {
    say(hint);
    process.exit(1);
  }
  say('redis-server is missing: installing Debian\'s package (apt-get install -y redis-server)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (...args) => (prefix.length ? run(prefix[0], [...prefix.slice(1), 'apt-get', ...args], env) : run('apt-get', args, env));
  if (!apt('update') || !apt('install', '-y', 'redis-server') || !has('redis-server', ['--version'])) {
    say(`installing redis-server failed; ${hint}`);
    process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  ensureDependencies();
  if (process.argv.includes('--redis')) ensureRedis();
}
