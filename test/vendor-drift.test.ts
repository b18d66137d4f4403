/**
 * The vendored vectors (test/vectors) are a verbatim copy of the workspace's shared/vectors. Where
 * that folder exists beside the repository, the two must hold the same files with the same bytes,
 * so an update there cannot be missed here. On a plain clone (no ../shared) there is nothing to
 * compare against, and the vendored copy alone is what the suite runs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VENDORED_DIR } from './helpers/vectors.js';

const sharedDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared/vectors');

describe('vendored vectors', () => {
  it('hold the decryption vectors and the cross-SDK token', () => {
    const names = readdirSync(VENDORED_DIR);
    expect(names).toContain('decrypt-vectors.json');
    expect(names).toContain('cross-sdk-token.json');
    const vectors = JSON.parse(readFileSync(resolve(VENDORED_DIR, 'decrypt-vectors.json'), 'utf8'));
    expect(vectors.decrypt.length).toBeGreaterThanOrEqual(55);
  });

  it.runIf(existsSync(sharedDir))('equal ../shared/vectors file for file, byte for byte', () => {
    const shared = readdirSync(sharedDir).sort();
    expect(readdirSync(VENDORED_DIR).sort()).toEqual(shared);
    for (const name of shared) {
      const same = readFileSync(resolve(sharedDir, name)).equals(readFileSync(resolve(VENDORED_DIR, name)));
      expect(same, `test/vectors/${name} differs from ../shared/vectors/${name}`).toBe(true);
    }
  });
});
