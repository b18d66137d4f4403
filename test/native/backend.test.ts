/**
 * Backend selection with the addon reported missing (load.ts mocked): auto falls back to
 * node-crypto, a forced native fails DecryptionEngine.create() and client construction with a
 * typed error, and a bad UID2_ENGINE_BACKEND value is a configuration error.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

vi.mock('../../src/native/load.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/native/load.js')>()),
  loadNative: () => null,
  nativeUnavailableReason: () => 'native/build/Release/uid2_native.node is missing (mocked)',
}));

const { DecryptionEngine } = await import('../../src/engine/engine.js');
const { decoderOf, resolveBackend } = await import('../../src/native/backend.js');
const { NativeUnavailableError } = await import('../../src/errors.js');
const { BidstreamClient, SharingClient, decrypt } = await import('../../src/index.js');
const { Uid2Error } = await import('../../src/errors.js');

describe('backend selection without the addon', () => {
  const saved = process.env['UID2_ENGINE_BACKEND'];
  afterEach(() => {
    process.env['UID2_ENGINE_BACKEND'] = saved;
    if (saved === undefined) delete process.env['UID2_ENGINE_BACKEND'];
  });

  it.each([
    [{}, 'node-crypto'],
    [{ UID2_ENGINE_BACKEND: '' }, 'node-crypto'],
    [{ UID2_ENGINE_BACKEND: 'node-crypto' }, 'node-crypto'],
  ] as const)('resolveBackend(%j) is %s', (env, expected) => {
    expect(resolveBackend(env)).toBe(expected);
  });

  it.each([
    [{ UID2_ENGINE_BACKEND: 'native' }, NativeUnavailableError, 'UID2_ERR_NATIVE_UNAVAILABLE', /UID2_ENGINE_BACKEND=native but the native addon is unavailable: .*missing \(mocked\)/],
    [{ UID2_ENGINE_BACKEND: 'openssl' }, Uid2Error, 'UID2_ERR_CONFIG', /UID2_ENGINE_BACKEND must be "native" or "node-crypto" \(got "openssl"\)/],
  ] as const)('resolveBackend(%j) throws', (env, type, code, message) => {
    let error: unknown;
    try {
      resolveBackend(env);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(type);
    expect(error).toMatchObject({ code, name: type === NativeUnavailableError ? 'NativeUnavailableError' : 'ConfigError' });
    expect((error as Error).message).toMatch(message);
  });

  it('DecryptionEngine.create() fails loudly when native is forced but missing', async () => {
    process.env['UID2_ENGINE_BACKEND'] = 'native';
    await expect(DecryptionEngine.create({ threads: 1 })).rejects.toMatchObject({
      name: 'NativeUnavailableError',
      code: 'UID2_ERR_NATIVE_UNAVAILABLE',
    });
  });

  it('clients and the free decrypt() fail loudly when native is forced but missing', () => {
    process.env['UID2_ENGINE_BACKEND'] = 'native';
    for (const make of [() => new BidstreamClient(), () => new SharingClient(), () => decrypt('AAAA', {})]) {
      expect(make).toThrow(NativeUnavailableError);
    }
    expect(() => decoderOf('native')).toThrow(/the native addon is unavailable: .*missing \(mocked\)/);
  });

  it('clients and threads: 0 engines fall back to node-crypto by default', async () => {
    delete process.env['UID2_ENGINE_BACKEND'];
    expect(new BidstreamClient().backend).toBe('node-crypto');
    expect(new SharingClient().backend).toBe('node-crypto');
    const engine = await DecryptionEngine.create({ threads: 0 });
    try {
      expect(engine.stats().backend).toBe('node-crypto');
      expect((await engine.decrypt('AAAA')).status).toBe('NotInitialized');
    } finally {
      await engine.close();
    }
  });

  it('DecryptionEngine.create() falls back to node-crypto by default', async () => {
    delete process.env['UID2_ENGINE_BACKEND'];
    const engine = await DecryptionEngine.create({ threads: 1 });
    try {
      expect(engine.stats().backend).toBe('node-crypto');
      expect((await engine.decrypt('AAAA')).status).toBe('NotInitialized');
    } finally {
      await engine.close();
    }
  });
});
