/**
 * `uid2-engine decrypt`: tokens from arguments, or one per input line; one JSON object per token
 * on stdout, in input order. A line may be a JSON object {"token", "domainOrAppName"}.
 */
import { decryptToken } from '../token/decrypt.js';
import { decryptionRecord } from './format.js';
import { LineWriter, readLines } from './io.js';
import { parseClientType, parseNow } from './options.js';
import { resolveKeySet, type KeySourceValues } from './key-source.js';

export interface DecryptCommandValues extends KeySourceValues {
  client?: string;
  domain?: string;
  now?: string;
  input?: string;
}

interface TokenInput {
  token: unknown;
  domainOrAppName: string | undefined;
}

/** A line is a token, or a JSON object naming the token and its domain or app name. */
export function parseTokenLine(line: string, defaultDomain: string | undefined): TokenInput {
  if (line.startsWith('{')) {
    try {
      const obj = JSON.parse(line) as Record<string, unknown>;
      const domain = obj['domainOrAppName'];
      return { token: obj['token'], domainOrAppName: typeof domain === 'string' ? domain : defaultDomain };
    } catch {
      // Not JSON: decrypt the line as it is; it will be reported as InvalidPayload.
    }
  }
  return { token: line, domainOrAppName: defaultDomain };
}

export async function runDecrypt(values: DecryptCommandValues, tokens: string[]): Promise<void> {
  const clientType = parseClientType(values.client);
  const fixedNow = parseNow(values.now);
  const keys = await resolveKeySet(values, clientType === 'sharing' ? 'sharing' : 'bidstream');
  const out = new LineWriter(process.stdout);
  const decryptOne = async (input: TokenInput): Promise<void> => {
    const result = decryptToken(input.token, keys, clientType, input.domainOrAppName, fixedNow ?? Date.now());
    await out.write(JSON.stringify(decryptionRecord(result)));
  };
  if (tokens.length > 0) {
    for (const token of tokens) await decryptOne({ token, domainOrAppName: values.domain });
  } else {
    for await (const line of readLines(values.input)) await decryptOne(parseTokenLine(line, values.domain));
  }
  await out.flush();
}
