/**
 * The fleet example (examples/fleet/run.mjs) end to end, as a user runs it: a real redis-server,
 * the local operator, `optout serve --store redis://...` and three example bidders with the
 * Redis opt-out store. It exits 0 only when every bidder stopped bidding on both opted-out users
 * and still bids on the third; the printed tables are checked too. Needs the build and
 * redis-server (fails, never skips, without it).
 */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const RUN = resolve(dirname(fileURLToPath(import.meta.url)), '../../examples/fleet/run.mjs');

describe('examples/fleet', () => {
  it('three bidders honor opt-outs made through the operator, shared through Redis', async () => {
    const child = spawn(process.execPath, [RUN], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(out).not.toContain('failed');
    expect(code).toBe(0);
    const after = out.slice(out.indexOf('after the opt-outs'));
    expect(after).toMatch(/alice\s+204\s+204\s+204/);
    expect(after).toMatch(/bob\s+204\s+204\s+204/);
    expect(after).toMatch(/carol\s+200\s+200\s+200/);
    expect(out).toMatch(/before any opt-out:[\s\S]*alice\s+200\s+200\s+200/);
  }, 60_000);
});
