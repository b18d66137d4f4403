/**
 * Decrypts the tokens of many OpenRTB bid requests in one engine call: every token of every
 * request goes into a single `decryptBatch()`, so a bidder that gathers the requests of one
 * event-loop turn pays one dispatch for all of them.
 */
import { InvalidArgumentError } from '../errors.js';
import type { DecryptionResult, TimeInput } from '../types.js';
import { extractUid2Tokens, type TokenSource } from './extract.js';

/** One decrypted token of a bid request. */
export interface BidRequestToken {
  token: string;
  source: TokenSource;
  /** Where it was found, e.g. `user.eids[0].uids[0].id`. */
  path: string;
  result: DecryptionResult;
}

/** The outcome for one bid request, in the order the requests were given. */
export interface BidRequestResult {
  /** `id` of the bid request, when it is a string. */
  requestId?: string;
  /** The domain or app name the tokens were checked against (see `extractUid2Tokens`). */
  domainOrAppName: string | null;
  tokens: BidRequestToken[];
  /** Malformed parts of the request that were skipped (see `extractUid2Tokens`). */
  problems: string[];
}

/** Options of `engine.decryptBidRequests()`. */
export interface DecryptBidRequestsOptions {
  /** Decryption time; default the time of the call. */
  now?: TimeInput;
}

/** What decryptBidRequests needs of an engine (kept structural to avoid an import cycle). */
export interface BatchDecrypter {
  decryptBatch(
    tokens: readonly string[],
    options: { domains?: readonly (string | null | undefined)[]; now?: TimeInput },
  ): Promise<DecryptionResult[]>;
}

/**
 * Extracts the UID2/EUID tokens of each request and decrypts all of them in one
 * `decryptBatch()` call. A malformed request yields no tokens and its problems; it never fails
 * the others.
 * @throws InvalidArgumentError (as a rejection) when `requests` is not an array; the engine's
 *   errors (closed, overloaded, worker failed) reject the whole call
 */
export async function decryptBidRequests(
  engine: BatchDecrypter,
  requests: readonly unknown[],
  options: DecryptBidRequestsOptions = {},
): Promise<BidRequestResult[]> {
  if (!Array.isArray(requests)) throw new InvalidArgumentError('requests must be an array of bid requests');
  const extracted = requests.map(extractUid2Tokens);
  const tokens: string[] = [];
  const domains: (string | null)[] = [];
  for (const request of extracted) {
    for (const found of request.tokens) {
      tokens.push(found.token);
      domains.push(request.domainOrAppName);
    }
  }
  const results =
    tokens.length === 0 ? [] : await engine.decryptBatch(tokens, options.now === undefined ? { domains } : { domains, now: options.now });
  let next = 0;
  return extracted.map((request) => {
    const out: BidRequestResult = {
      domainOrAppName: request.domainOrAppName,
      tokens: request.tokens.map((found) => ({ ...found, result: results[next++]! })),
      problems: request.problems,
    };
    if (request.requestId !== undefined) out.requestId = request.requestId;
    return out;
  });
}
