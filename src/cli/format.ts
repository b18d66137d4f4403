/**
 * The CLI's encrypt records (JSON lines). Decryption records have their one home with the bulk
 * path's writers: engine/wire/record-format.ts.
 */
import type { EncryptionResult } from '../types.js';

export function encryptionRecord(result: EncryptionResult): { status: string; token: string | null } {
  return { status: result.status, token: result.encryptedData ?? null };
}
