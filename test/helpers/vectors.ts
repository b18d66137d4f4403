/**
 * Loads the decryption vectors every build must pass: the copy vendored in test/vectors (taken
 * verbatim from the workspace's shared/vectors, never edited by hand; vendor-drift.test.ts checks
 * that the two stay equal wherever ../shared exists).
 */
import { readFileSync } from 'node:fs';
import type { DecryptionResult } from '../../src/index.js';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
/** The vendored copy inside the repository: the only one tests, bench and tools read. */
export const VENDORED_DIR = resolve(here, '../vectors');
export const VECTORS_PATH = resolve(VENDORED_DIR, 'decrypt-vectors.json');
export const CROSS_SDK_PATH = resolve(VENDORED_DIR, 'cross-sdk-token.json');

export interface VectorExpect {
  status: string;
  uid?: string | null;
  siteId?: number | null;
  identityType?: 'Email' | 'Phone' | null;
  advertisingTokenVersion?: number | null;
  isClientSideGenerated?: boolean | null;
  establishedMs?: number | null;
  expiryMs?: number | null;
}

export interface DecryptVector {
  name: string;
  keySet: string | null;
  clientType: 'bidstream' | 'sharing' | 'legacy';
  token: string;
  domainOrAppName: string | null;
  nowMs: number;
  expect: VectorExpect;
}

export interface EnvelopeVector {
  name: string;
  secretKey: string;
  nonceHex: string;
  responseBase64: string;
  expect: { ok: true; json: unknown } | { ok: false };
}

export interface VectorFile {
  format: string;
  keySets: Record<string, { endpoint: string; response: unknown }>;
  decrypt: DecryptVector[];
  responseEnvelopes: EnvelopeVector[];
}

export function loadVectors(): VectorFile {
  return JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as VectorFile;
}

export interface CrossSdkVector {
  keys: unknown;
  token: string;
  clientType: 'legacy';
  nowMs: number;
  expect: VectorExpect;
}

export function loadCrossSdkVector(): CrossSdkVector {
  return JSON.parse(readFileSync(CROSS_SDK_PATH, 'utf8')) as CrossSdkVector;
}

/**
 * Compares a result (library object or CLI record) with a vector's expectation: the status
 * always, and on Success every field the vector states (null = not checked).
 */
export function expectedFields(expect: VectorExpect): Record<string, unknown> {
  if (expect.status !== 'Success') return { status: expect.status };
  const fields: Record<string, unknown> = { status: expect.status, uid: expect.uid };
  const optional = ['siteId', 'identityType', 'advertisingTokenVersion', 'isClientSideGenerated'] as const;
  for (const name of optional) if (expect[name] !== null && expect[name] !== undefined) fields[name] = expect[name];
  if (expect.establishedMs != null) fields['establishedMs'] = expect.establishedMs;
  if (expect.expiryMs != null) fields['expiryMs'] = expect.expiryMs;
  return fields;
}

/** The fields of `result` that `expected` (from expectedFields) names, in the same units. */
export function comparable(result: DecryptionResult, expected: Record<string, unknown>): Record<string, unknown> {
  const actual: Record<string, unknown> = { status: result.status };
  for (const name of Object.keys(expected)) {
    if (name === 'establishedMs') actual[name] = result.established?.getTime();
    else if (name === 'expiryMs') actual[name] = result.expiry?.getTime();
    else if (name !== 'status') actual[name] = (result as unknown as Record<string, unknown>)[name];
  }
  return actual;
}
