/** `uid2-engine encrypt`: raw UIDs from arguments or input lines; {"status","token"} per raw UID. */
import { encryptRawUid } from '../token/encrypt.js';
import { encryptionRecord } from './format.js';
import { LineWriter, readLines } from './io.js';
import { parseNow } from './options.js';
import { resolveKeySet, type KeySourceValues } from './key-source.js';

export interface EncryptCommandValues extends KeySourceValues {
  now?: string;
  input?: string;
}

export async function runEncrypt(values: EncryptCommandValues, rawUids: string[]): Promise<void> {
  const fixedNow = parseNow(values.now);
  const keys = await resolveKeySet(values, 'sharing');
  const out = new LineWriter(process.stdout);
  const encryptOne = async (rawUid: string): Promise<void> => {
    await out.write(JSON.stringify(encryptionRecord(encryptRawUid(rawUid, keys, fixedNow ?? Date.now()))));
  };
  if (rawUids.length > 0) {
    for (const rawUid of rawUids) await encryptOne(rawUid);
  } else {
    for await (const line of readLines(values.input)) await encryptOne(line);
  }
  await out.flush();
}
