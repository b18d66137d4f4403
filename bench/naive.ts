/**
 * The `naive` contender: what a Node developer would write by hand without this project, straight
 * from the token layout: Buffer.from(..., 'base64') and fresh node:crypto decipher objects per
 * layer, on the main thread. Written for the benchmark only. It checks expiry but none of the
 * SDK's other rules (scope, lifetime, CSTG domains), so it does a little less work than `inline`.
 */
import { createDecipheriv } from 'node:crypto';

export interface NaiveKeys {
  secrets: Map<number, Buffer>;
}

export interface NaiveResult {
  ok: boolean;
  uid?: string;
}

function gcm(key: Buffer, data: Buffer, start: number): Buffer {
  const d = createDecipheriv('aes-256-gcm', key, data.subarray(start, start + 12), { authTagLength: 16 });
  d.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([d.update(data.subarray(start + 12, data.length - 16)), d.final()]);
}

function cbc(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const d = createDecipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([d.update(data), d.final()]);
}

export function naiveDecrypt(token: string, keys: NaiveKeys, nowMs: number): NaiveResult {
  try {
    const bytes = Buffer.from(token, 'base64');
    if (bytes[0] === 2) {
      const master = cbc(keys.secrets.get(bytes.readInt32BE(1))!, bytes.subarray(5, 21), bytes.subarray(21));
      const expires = Number(master.readBigInt64BE(0));
      const identity = cbc(keys.secrets.get(master.readInt32BE(8))!, master.subarray(12, 28), master.subarray(28));
      const idLength = identity.readInt32BE(4);
      if (nowMs > expires) return { ok: false };
      return { ok: true, uid: identity.toString('utf8', 8, 8 + idLength) };
    }
    const master = gcm(keys.secrets.get(bytes.readInt32BE(2))!, bytes, 6);
    const expires = Number(master.readBigInt64BE(0));
    const site = gcm(keys.secrets.get(master.readInt32BE(29))!, master, 33);
    if (nowMs > expires) return { ok: false };
    return { ok: true, uid: site.toString('base64', 36) };
  } catch {
    return { ok: false };
  }
}
