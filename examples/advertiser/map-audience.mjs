/**
 * An advertiser's audience sync with Identity Map v3: map the CRM's emails to raw UIDs, store the
 * current and previous raw UID and the refresh-from time of each, and on every later run map
 * again only what is new or due. Run it daily (cron): only the identities whose salt rotated
 * since the last run (about 1/365 of them a day) cost a request.
 *
 *   node map-audience.mjs AUDIENCE_FILE STORE_FILE
 *
 * AUDIENCE_FILE: one email per line (the CRM export). STORE_FILE: the JSON store this script
 * keeps (created on the first run). Environment: UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY
 * (e.g. from `uid2-engine operator`); NOW (ISO time, to see what a later day's run would do).
 * Prints one JSON summary line; never an email or a raw UID.
 *
 * What to do with each outcome:
 * - mapped: use `currentUid` from now on (segments, measurement); keep `previousUid` to join
 *   conversions and impressions recorded before the rotation; map again after `refreshFrom`;
 * - optout: the person opted out of UID2: delete their raw UIDs and do not target them;
 * - invalid identifier: fix the CRM record; nothing to send.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { IdentityMapV3Client } from '../../dist/index.js';

const [audienceFile, storeFile] = process.argv.slice(2);
if (!audienceFile || !storeFile) {
  process.stderr.write('usage: node map-audience.mjs AUDIENCE_FILE STORE_FILE\n');
  process.exit(2);
}
const now = process.env.NOW ? new Date(process.env.NOW) : new Date();

/** email -> { currentUid, previousUid, refreshFrom } | { optedOut: true } | { invalid: true } */
let store = {};
try {
  store = JSON.parse(readFileSync(storeFile, 'utf8')).identities;
} catch (err) {
  if (err.code !== 'ENOENT') throw err;
}

const audience = [...new Set(readFileSync(audienceFile, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean))];
// New emails, and mapped ones whose refresh-from time has passed. Opt-outs and invalid
// identifiers are not sent again.
const due = audience.filter((email) => {
  const entry = store[email];
  return entry === undefined || (entry.currentUid !== undefined && new Date(entry.refreshFrom) <= now);
});

// Credentials from the environment; 5,000 identities a request, one request at a time, 429 and
// 5xx retried with back-off (the client's defaults).
const client = new IdentityMapV3Client();
const counts = { audience: audience.length, sent: due.length, mapped: 0, rotated: 0, optedOut: 0, invalid: 0, kept: audience.length - due.length };
if (due.length > 0) {
  const result = await client.generateIdentityMap({ emails: due });
  due.forEach((email, i) => {
    const outcome = result.emails[i];
    if (outcome.status === 'mapped') {
      const before = store[email];
      if (before?.currentUid !== undefined && before.currentUid !== outcome.currentRawUid) counts.rotated++;
      store[email] = { currentUid: outcome.currentRawUid, previousUid: outcome.previousRawUid, refreshFrom: outcome.refreshFrom.toISOString() };
      counts.mapped++;
    } else if (outcome.reason === 'optout') {
      store[email] = { optedOut: true };
      counts.optedOut++;
    } else {
      store[email] = { invalid: true };
      counts.invalid++;
    }
  });
}
// Write the new store whole, then swap it in, so a crash never leaves half a store.
writeFileSync(`${storeFile}.tmp`, JSON.stringify({ updated: now.toISOString(), identities: store }));
renameSync(`${storeFile}.tmp`, storeFile);
process.stdout.write(`${JSON.stringify({ ...counts, requests: client.stats.requests })}\n`);
