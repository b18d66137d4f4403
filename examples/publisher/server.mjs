/**
 * An example publisher site: a real node:http server that gives each signed-in user a UID2
 * identity, keeps it in the user's session, refreshes it when due, and hands the advertising
 * token to the page (where Prebid.js or an ad server puts it in the bid request).
 *
 *   POST /login   {"email": "..."}  → generateToken(); the identity goes into a new session
 *                 (cookie `sid`); answers {"uid2": "available" | "optout"}
 *   GET  /page    the signed-in user's identity, refreshed first when due → {"advertisingToken": ...}
 *                 or {"advertisingToken": null} (no identity, opted out, or refresh expired)
 *   POST /logout  drops the session
 *
 * Sessions live in a Map here; a real site keeps `identity.toJsonString()` in its own session
 * store (a cookie, Redis, a database). The email is never stored or logged: only its hash
 * leaves the process, inside generateToken().
 *
 * Environment: UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY (e.g. from `uid2-engine operator`),
 * PORT (default 8082; 0 picks a free port), HOST (default 127.0.0.1).
 * Prints its URL on stdout once listening; SIGTERM or SIGINT stops it.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { IdentityTokens, PublisherClient } from '../../dist/index.js';

const publisher = new PublisherClient(); // credentials from UID2_BASE_URL, UID2_API_KEY, UID2_SECRET_KEY
/** Session id → the identity's JSON string (what a real site keeps in its session store). */
const sessions = new Map();

function reply(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function readJson(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 64 * 1024) throw new Error('body too large');
  }
  return JSON.parse(body);
}

function sessionId(req) {
  return /(?:^|;\s*)sid=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1];
}

/** At login: generate the identity and keep it, or remember that the user opted out. */
async function login(req, res) {
  const { email } = await readJson(req);
  const result = await publisher.generateToken({ email });
  const sid = randomUUID();
  // An opted-out user gets a session without an identity: no token is ever sent for them.
  sessions.set(sid, result.status === 'success' ? result.identity.toJsonString() : null);
  reply(res, 200, { uid2: result.status === 'success' ? 'available' : 'optout' }, { 'set-cookie': `sid=${sid}; HttpOnly; SameSite=Lax; Path=/` });
}

/** On every page: the current advertising token, after a refresh when one is due. */
async function page(req, res) {
  const sid = sessionId(req);
  const kept = sid ? sessions.get(sid) : null;
  if (!kept) return reply(res, 200, { advertisingToken: null });
  let identity = IdentityTokens.fromJsonString(kept);
  if (!identity.isRefreshable()) {
    // The refresh token expired: the user must sign in again to get a new identity.
    sessions.set(sid, null);
    return reply(res, 200, { advertisingToken: null });
  }
  if (identity.isDueForRefresh()) {
    const refreshed = await publisher.refreshToken(identity);
    if (refreshed.status === 'optout') {
      sessions.set(sid, null);
      return reply(res, 200, { advertisingToken: null });
    }
    identity = refreshed.identity;
    sessions.set(sid, identity.toJsonString());
  }
  reply(res, 200, { advertisingToken: identity.advertisingToken });
}

const routes = { 'POST /login': login, 'GET /page': page, 'POST /logout': (req, res) => (sessions.delete(sessionId(req)), reply(res, 200, {})) };

const server = createServer((req, res) => {
  const route = routes[`${req.method} ${req.url}`];
  if (!route) return reply(res, 404, { error: 'not found' });
  Promise.resolve(route(req, res)).catch((err) => {
    // Error codes and messages of uid2-engine never hold the email or a token.
    process.stderr.write(`publisher: ${req.method} ${req.url} failed: ${err.code ?? 'ERROR'} ${err.message}\n`);
    if (!res.headersSent) reply(res, err.code === 'UID2_ERR_INVALID_IDENTITY' ? 400 : 502, { error: err.code ?? 'error' });
  });
});
server.listen(Number(process.env.PORT ?? 8082), process.env.HOST ?? '127.0.0.1', () => {
  const { address, port } = server.address();
  process.stdout.write(`http://${address}:${port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => server.close(() => process.exit(0)));
