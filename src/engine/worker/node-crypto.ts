/**
 * The node-crypto backend: the TypeScript decoder (token/decrypt.ts evaluateToken) over
 * node:crypto, one token at a time, writing each outcome as a result record. The same rule code
 * the in-process client runs, so the two cannot disagree.
 */
import { evaluateToken } from '../../token/decrypt.js';
import type { ClientType } from '../../types.js';
import type { SnapshotKeys } from '../../keys/snapshot.js';
import {
  CODE_BY_STATUS,
  IDENTITY_EMAIL,
  IDENTITY_NONE,
  IDENTITY_PHONE,
  INPUT_HAS_DOMAIN,
  INPUT_INVALID,
  RECORD_BYTES,
  RECORD_CSTG,
  RECORD_DECODED,
  REC_F64_ESTABLISHED,
  REC_F64_EXPIRY,
  REC_F64_GENERATED,
  REC_I32_MASTER_KEY_ID,
  REC_I32_SITE_ID,
  REC_I32_SITE_KEY_ID,
  REC_U32_UID_LENGTH,
  REC_U32_UID_OFFSET,
  SUCCESS_CODE,
  type Slot,
} from '../wire/slot.js';

export function decodeWithNodeCrypto(s: Slot, count: number, keys: SnapshotKeys | null, clientType: ClientType, crashAt: number): void {
  for (let i = 0; i < count; i++) {
    if (i === crashAt) process.exit(70);
    const rec = i * RECORD_BYTES;
    const flags = s.flags[i]!;
    const tokenOff = s.table[i * 4]!;
    let domain: string | undefined;
    if (flags & INPUT_HAS_DOMAIN) {
      const off = s.table[i * 4 + 2]!;
      domain = s.bytes.toString('utf8', off, off + s.table[i * 4 + 3]!);
    }
    // An invalid input still goes through the rules (so NotInitialized/KeysNotSynced win), as a
    // value that can only be InvalidPayload.
    const token = flags & INPUT_INVALID ? null : s.bytes.toString('latin1', tokenOff, tokenOff + s.table[i * 4 + 1]!);
    const outcome = evaluateToken(token, keys, clientType, domain, s.nows[i]!);

    if (typeof outcome === 'string') {
      s.recordBytes[rec] = CODE_BY_STATUS.get(outcome)!;
      s.recordBytes[rec + 3] = 0;
      continue;
    }
    const code = CODE_BY_STATUS.get(outcome.status)!;
    s.recordBytes[rec] = code;
    s.recordBytes[rec + 1] = outcome.version;
    s.recordBytes[rec + 2] =
      outcome.identityType === undefined ? IDENTITY_NONE : outcome.identityType === 'Phone' ? IDENTITY_PHONE : IDENTITY_EMAIL;
    s.recordBytes[rec + 3] = RECORD_DECODED | (outcome.isClientSideGenerated ? RECORD_CSTG : 0);
    s.recordI32[(rec >> 2) + REC_I32_SITE_ID] = outcome.siteId;
    s.recordF64[(rec >> 3) + REC_F64_ESTABLISHED] = outcome.establishedMs;
    s.recordF64[(rec >> 3) + REC_F64_EXPIRY] = outcome.expiresMs;
    s.recordF64[(rec >> 3) + REC_F64_GENERATED] = outcome.generatedMs ?? Number.NaN;
    s.recordI32[(rec >> 2) + REC_I32_MASTER_KEY_ID] = outcome.masterKeyId;
    s.recordI32[(rec >> 2) + REC_I32_SITE_KEY_ID] = outcome.siteKeyId;
    if (code === SUCCESS_CODE) {
      // Always fits: a raw UID is shorter than its token text (wire/slot.ts).
      s.uids.set(outcome.uidBytes, tokenOff);
      s.recordU32[(rec >> 2) + REC_U32_UID_OFFSET] = tokenOff;
      s.recordU32[(rec >> 2) + REC_U32_UID_LENGTH] = outcome.uidBytes.length;
    }
  }
}
