/**
 * Prints an OpenRTB 2.6 bid request carrying a fresh UID2 advertising token, for loading the
 * example bidder (e.g. `autocannon -i`). The token comes the way a real one does: a publisher
 * generates it for a signed-in user with POST /v2/token/generate (PublisherClient), here for a
 * random test user of the operator that UID2_BASE_URL points to (the local operator, whose
 * api key is both a publisher's and a bidder's).
 *
 * Environment: UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY, as for the bidder.
 * Usage: node examples/bidder/bid-request.mjs [--invalid] > /tmp/bid.json
 */
import { randomBytes } from 'node:crypto';
import { PublisherClient } from '../../dist/index.js';

let token = 'A4AAAAs6aUKLMhqGoHVqv6JgMLkYBmwmm8YSDKVgxbnQ4DsdCHu6YwMo6EeVMgSy'; // no key of this operator opens it
if (!process.argv.includes('--invalid')) {
  try {
    const result = await new PublisherClient().generateToken({ email: `user-${randomBytes(6).toString('hex')}@example.com` });
    if (result.status !== 'success') throw Object.assign(new Error(`the user is ${result.status}`), { code: 'NO_TOKEN' });
    token = result.identity.advertisingToken;
  } catch (err) {
    console.error(`bid-request: token generation failed: ${err.message} (${err.code})`);
    process.exit(1);
  }
}

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
