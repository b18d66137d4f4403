/**
 * `uid2-engine keys`: fetches a key set (or reads a key file) and prints a one-line JSON summary
 * of it. Never a secret: only counts, ids, scope and times.
 */
import { KEY_ENDPOINT_PATHS } from '../service/key-request.js';
import { isoTime } from '../util/time.js';
import { resolveKeySet, type KeySourceValues } from './key-source.js';

export interface KeysCommandValues extends KeySourceValues {
  sharing?: boolean;
}

export async function runKeys(values: KeysCommandValues): Promise<void> {
  const endpoint = values.sharing ? 'sharing' : 'bidstream';
  const keySet = await resolveKeySet(values, endpoint);
  const summary: Record<string, unknown> = {
    source: values.keys !== undefined ? 'file' : KEY_ENDPOINT_PATHS[endpoint],
    identityScope: keySet.identityScope,
    keys: keySet.size,
    keysets: keySet.keysetIds().length,
    sites: keySet.siteIds().length,
    newestExpiry: isoTime(keySet.latestKeyExpiryMs),
  };
  if (keySet.callerSiteId !== undefined) {
    Object.assign(summary, {
      callerSiteId: keySet.callerSiteId,
      masterKeysetId: keySet.masterKeysetId ?? null,
      defaultKeysetId: keySet.defaultKeysetId ?? null,
      tokenExpirySeconds: keySet.tokenExpirySeconds,
    });
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}
