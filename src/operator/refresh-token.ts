/**
 * The local operator's refresh tokens. Clients treat them as opaque text; only the operator
 * reads them back. They have the sizes and the two layers of the real service's (uid2-operator
 * `EncryptedTokenEncoder`, `V2RequestUtil`), so the same length rule routes a v2 refresh:
 *
 *   refresh_token (388 base64 chars) := scope:u8 | refresh_key_id:i32
 *                                       | GCM(refresh_key, {"refresh_response_key": ..., "refresh_token": inner})
 *   inner (168 base64 chars)          := identity_byte:u8 | 3:u8 | refresh_key_id:i32 | GCM(refresh_key, payload)
 *   payload (90 bytes)                := expires_ms:i64 | created_ms:i64 | operator:13 | site_id:i32
 *                                       | publisher_id:i64 | client_key_id:i32 | privacy_bits:i32
 *                                       | established_ms:i64 | identity_byte:u8 | first_level_hash:32
 *   identity_byte := scope << 4 | type << 2 | 3
 *
 * The refresh token keeps the identity's first-level hash, never a raw UID: each refresh maps it
 * again with the salts in force, as the service does. The refresh key lives only in this
 * process, so a restarted operator cannot read an earlier one's refresh tokens (as if the
 * service had lost them: those refreshes are refused as invalid tokens).
 */
import { randomBytes } from 'node:crypto';
import { decodeBase64Strict } from '../codec/base64.js';
import { gcmDecrypt, gcmEncrypt } from '../crypto/aes.js';
import type { IdentityScope, IdentityType } from '../types.js';

/** Length of every v2 refresh token: the operator routes a refresh body by it. */
export const REFRESH_TOKEN_LENGTH = 388;
const INNER_VERSION = 3;
const PAYLOAD_LENGTH = 90;
const FIRST_LEVEL_HASH_LENGTH = 32;
const RESPONSE_KEY_LENGTH = 32;
/** Refresh keys are numbered apart from the key store's keys, so an id never means both. */
const REFRESH_KEY_ID = 1_000_000_001;

/** What a refresh token carries. */
export interface RefreshTokenFields {
  createdMs: number;
  expiresMs: number;
  siteId: number;
  privacyBits: number;
  establishedMs: number;
  identityType: IdentityType;
  firstLevelHash: Buffer;
}

/** A refresh request body opened: the inner token still to be read, and the key to seal the answer with. */
export interface OpenedRefreshToken {
  inner: string;
  responseKey: Buffer;
}

/** Why the outer layer was refused: the real operator's 400 `client_error` messages. */
export class RefreshTokenRefusal extends Error {}

function identityByte(scope: IdentityScope, type: IdentityType): number {
  return ((scope === 'EUID' ? 1 : 0) << 4) | ((type === 'Phone' ? 1 : 0) << 2) | 3;
}

export class RefreshTokenCodec {
  readonly #scope: IdentityScope;
  readonly #key = randomBytes(32);

  constructor(scope: IdentityScope) {
    this.#scope = scope;
  }

  /** A new refresh token for `fields` and the key its refresh responses are sealed with. */
  issue(fields: RefreshTokenFields): { refreshToken: string; responseKey: Buffer } {
    const id = identityByte(this.#scope, fields.identityType);
    const payload = Buffer.alloc(PAYLOAD_LENGTH);
    payload.writeBigInt64BE(BigInt(fields.expiresMs), 0);
    payload.writeBigInt64BE(BigInt(fields.createdMs), 8);
    // Operator identity (site 0, type 1 = service, version 0, key 0), as the real operator writes it.
    payload.writeUInt8(1, 20);
    payload.writeInt32BE(fields.siteId, 29);
    payload.writeInt32BE(fields.privacyBits, 45);
    payload.writeBigInt64BE(BigInt(fields.establishedMs), 49);
    payload.writeUInt8(id, 57);
    fields.firstLevelHash.copy(payload, 58);
    const innerHead = Buffer.alloc(6);
    innerHead.writeUInt8(id, 0);
    innerHead.writeUInt8(INNER_VERSION, 1);
    innerHead.writeInt32BE(REFRESH_KEY_ID, 2);
    const inner = Buffer.concat([innerHead, gcmEncrypt(this.#key, payload)]).toString('base64');

    const responseKey = randomBytes(RESPONSE_KEY_LENGTH);
    const json = JSON.stringify({ refresh_response_key: responseKey.toString('base64'), refresh_token: inner });
    const outerHead = Buffer.alloc(5);
    outerHead.writeUInt8((this.#scope === 'EUID' ? 1 : 0) << 4, 0);
    outerHead.writeInt32BE(REFRESH_KEY_ID, 1);
    const refreshToken = Buffer.concat([outerHead, gcmEncrypt(this.#key, Buffer.from(json, 'utf8'))]).toString('base64');
    return { refreshToken, responseKey };
  }

  /**
   * Opens the outer layer of a refresh request body (already known to be 388 characters).
   * @throws RefreshTokenRefusal with the message the real operator answers
   */
  open(body: string): OpenedRefreshToken {
    const bytes = decodeBase64Strict(body, 'standard');
    if (!bytes) throw new RefreshTokenRefusal('Invalid body: Body is not valid base64.');
    const keyId = bytes.readInt32BE(1);
    if (keyId !== REFRESH_KEY_ID) throw new RefreshTokenRefusal(`Invalid key: Generator of this token (Key ID: ${keyId}) does not exist.`);
    const plain = gcmDecrypt(this.#key, bytes, 5);
    if (!plain) throw new RefreshTokenRefusal('Invalid data: Check encryption method and encryption key.');
    try {
      const doc = JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
      const responseKey = typeof doc['refresh_response_key'] === 'string' ? decodeBase64Strict(doc['refresh_response_key'], 'standard') : null;
      const inner = doc['refresh_token'];
      if (!responseKey || responseKey.length !== RESPONSE_KEY_LENGTH || typeof inner !== 'string') throw new Error('missing data');
      return { inner, responseKey };
    } catch {
      throw new RefreshTokenRefusal('Invalid format: Payload is not valid json or missing required data.');
    }
  }

  /** Reads an inner refresh token; `null` for anything this operator did not issue in its scope. */
  read(inner: string): RefreshTokenFields | null {
    const bytes = decodeBase64Strict(inner, 'standard');
    if (!bytes || bytes.length < 6 || bytes[1] !== INNER_VERSION || bytes.readInt32BE(2) !== REFRESH_KEY_ID) return null;
    const payload = gcmDecrypt(this.#key, bytes, 6);
    if (!payload || payload.length !== PAYLOAD_LENGTH) return null;
    const id = payload[57]!;
    // Scope and type are written twice; both copies must agree, and the scope must be this operator's.
    if (id !== bytes[0] || (id >> 4) !== (this.#scope === 'EUID' ? 1 : 0)) return null;
    return {
      expiresMs: Number(payload.readBigInt64BE(0)),
      createdMs: Number(payload.readBigInt64BE(8)),
      siteId: payload.readInt32BE(29),
      privacyBits: payload.readInt32BE(45),
      establishedMs: Number(payload.readBigInt64BE(49)),
      identityType: ((id >> 2) & 3) === 0 ? 'Email' : 'Phone',
      firstLevelHash: Buffer.from(payload.subarray(58, 58 + FIRST_LEVEL_HASH_LENGTH)),
    };
  }
}
