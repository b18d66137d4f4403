/**
 * Prints an OpenRTB 2.6 bid request carrying a fresh UID2 advertising token, for loading the
 * example bidder (e.g. `autocannon -i`). LOCAL OPERATOR ONLY: the local operator has no
 * token-generation endpoint, so this mints the token itself with the keys its sharing endpoint
 * hands to the caller site (a real UID2 service's tokens come from publishers; never do this with
 * real keys). Bidstream keys cannot be used: as from the real service they carry no keyset, so a
 * bidder cannot tell which key would encrypt.
 *
 * Environment: UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY, as for the bidder.
 * Usage: node examples/bidder/bid-request.mjs [--invalid] > /tmp/bid.json
 */
import { randomBytes } from 'node:crypto';
import { SharingClient, encodeAdvertisingToken } from '../../dist/index.js';

const client = new SharingClient();
const refreshed = await client.refresh();
if (!refreshed.success) {
  console.error(`bid-request: key refresh failed: ${refreshed.error.message} (${refreshed.error.code})`);
  process.exit(1);
}
const keySet = client.keySet;
const now = Date.now();
// The keys a sharer encrypts with: the master key and its own site's (the default keyset).
const masterKey = keySet.getMasterKey(now);
const siteKey = keySet.getDefaultKey(now);

const token = process.argv.includes('--invalid')
  ? 'A4AAAAs6aUKLMhqGoHVqv6JgMLkYBmwmm8YSDKVgxbnQ4DsdCHu6YwMo6EeVMgSy' // no key of this operator opens it
  : encodeAdvertisingToken({
      version: 4,
      masterKey,
      siteKey,
      rawUid: randomBytes(32).toString('base64'),
      siteId: keySet.callerSiteId,
      generatedMs: now,
      establishedMs: now,
      expiresMs: now + 3 * 86_400_000, // within the bidstream lifetime limit, unlike a 30-day sharing token
      identityScope: keySet.identityScope,
      identityType: 'Email',
    });

client.close();
process.stdout.write(
  JSON.stringify({
    id: `load-${randomBytes(4).toString('hex')}`,
    imp: [{ id: '1', banner: { format: [{ w: 300, h: 250 }] }, bidfloor: 0.1 }],
    site: { domain: 'example.com', page: 'https://www.example.com/article' },
    device: { ua: 'Mozilla/5.0', ip: '203.0.113.1' },
    user: { eids: [{ source: 'uidapi.com', uids: [{ id: token, atype: 3 }] }] },
    tmax: 100,
  }) + '\n',
);
