/**
 * A local UID2 operator for tests, benchmarks and demos: a real `node:http` server on
 * 127.0.0.1 that serves `/v2/key/bidstream` and `/v2/key/sharing` with the production envelope,
 * generated keys on a rotation schedule, and faults injectable at runtime.
 *
 *   request ─► fault: drop / delay / http-error ─► route ─► bearer check (401) ─► body (413)
 *           ─► open envelope: version 1, tag, timestamp < 2 min from now, payload empty or a
 *              JSON object (400) ─► key JSON
 *           ─► fault: stale-keys / wrong-nonce ─► seal ─► fault: garbage / truncated ─► 200
 *
 * Where a client can tell, it answers as the real operator does (uid2-operator `V2RequestUtil`,
 * uid2-shared `AuthMiddleware`): the Bearer scheme in any case; the body is base64 text whatever
 * the Content-Type, except that `application/octet-stream` is first tried as raw envelope bytes
 * (answered in kind) and falls back to base64 text (answered as text).
 *
 * Opt-outs (`/v2/optout/status`, the admin route `/local/optout`, webhook delivery) live in
 * optout-routes.ts and optout-delivery.ts, `/v3/identity/map` in identity-map-routes.ts; this
 * file only routes to them. With `throttleFraction`, that fraction of requests to the service
 * routes is answered 429 with no body before anything else, as the service's rate limit does.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeBase64Strict } from '../codec/base64.js';
import { InvalidArgumentError, Uid2Error } from '../errors.js';
import { decodeSecretKey, OCTET_STREAM, openRequest, sealResponse, type OpenedEnvelope } from '../service/envelope.js';
import { IDENTITY_MAP_PATH, MAX_REQUEST_BODY_BYTES } from '../identity-map/request.js';
import { KEY_ENDPOINT_PATHS, type KeyEndpoint } from '../service/key-request.js';
import { TOKEN_GENERATE_PATH, TOKEN_REFRESH_PATH } from '../service/token-request.js';
import type { IdentityScope } from '../types.js';
import { GARBAGE_BODY, truncateBody, validateFault, type OperatorFault } from './faults.js';
import { KeyStore, type KeyResponseJson } from './key-store.js';
import { OperatorIdentities } from './identities.js';
import { identityMapJson } from './identity-map-routes.js';
import { mintToken, randomRawUid, rawUidFor, type MintTokenOptions } from './minting.js';
import { OptOutDelivery, type OptOutDeliveryStats } from './optout-delivery.js';
import { ADMIN_OPTOUT_PATH, OPTOUT_MAX_REQUEST_BYTES, OPTOUT_ROUTE_PATHS, OptOutRegistry } from './optout-routes.js';
import { RouteRefusal } from './routes.js';
import { TOKEN_MAX_REQUEST_BYTES, TokenRoutes } from './token-routes.js';
import { resolveOperatorOptions, type LocalOperatorOptions, type OperatorSite, type ResolvedOperatorOptions } from './options.js';

/** Requests are a few hundred bytes; anything much larger is refused before it is read. */
const MAX_REQUEST_BYTES = 64 * 1024;
/** How many recent requests `requests` keeps. */
const REQUEST_LOG_SIZE = 100;
/** The scheme AuthMiddleware expects, compared in lower case, with exactly one space. */
const BEARER_PREFIX = 'bearer ';

/** What the operator saw of one request (never the credentials themselves). */
export interface OperatorRequestRecord {
  method: string;
  path: string;
  /** The HTTP status answered; 0 when the connection was dropped. */
  status: number;
  /** `X-UID2-Client-Version`, if sent. */
  clientVersion: string | undefined;
  /** `Content-Type`, if sent. */
  contentType: string | undefined;
  /** True when `Authorization: Bearer <apiKey>` matched. */
  authorized: boolean;
  /** The fault in force when the request arrived. */
  fault: OperatorFault['kind'] | undefined;
}

/** A running local operator. Credentials are plain fields: printing them is its purpose. */
export interface LocalOperator {
  /** Base URL for clients, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  readonly apiKey: string;
  readonly secretKey: string;
  readonly identityScope: IdentityScope;
  readonly callerSiteId: number;
  readonly sites: readonly OperatorSite[];
  /** The fault in force, or `null`. */
  readonly fault: OperatorFault | null;
  /** The most recent requests, oldest first (at most 100). */
  readonly requests: readonly OperatorRequestRecord[];
  /** Injects a fault into every following request; `null` clears it. */
  setFault(fault: OperatorFault | null): void;
  /** Adds a key that activates now to every keyset; returns the new key ids. */
  rotateKeys(): number[];
  /**
   * Rotates the salts of `fraction` (0-1, default all) of the salt buckets, those due soonest
   * first: their identities get new raw UIDs and report the old ones as previous raw UIDs.
   * @returns how many buckets rotated
   */
  rotateSalts(fraction?: number): number;
  /** Mints an advertising token with the keys active now. */
  mintToken(options: MintTokenOptions): string;
  /** The deterministic raw UID for `seed`. */
  rawUidFor(seed: string): string;
  /** A random raw UID. */
  randomRawUid(): string;
  /** The decrypted key response the endpoint would send now. */
  keyResponse(endpoint: KeyEndpoint): KeyResponseJson;
  /**
   * Opts a raw UID out (as `POST /local/optout` does): `/v2/optout/status` reports it from now
   * on, and it is delivered to the opt-out webhook when one is configured.
   * @throws InvalidArgumentError for a malformed raw UID or time
   */
  optOut(rawUid: string, optedOutMs?: number): void;
  /** What the opt-out webhook delivery has done (all zero without a webhook). */
  readonly optOutDelivery: OptOutDeliveryStats;
  /** Raw UIDs whose webhook delivery was acknowledged (200/204), in the order of the answers. */
  deliveredOptOuts(): readonly string[];
  /** Stops the server, drops open connections and cancels delayed answers. */
  close(): Promise<void>;
}

class HttpReply extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const value = (header ?? '').trim();
  if (value.slice(0, BEARER_PREFIX.length).toLowerCase() !== BEARER_PREFIX) return false;
  const given = Buffer.from(value.slice(BEARER_PREFIX.length), 'utf8');
  // Constant-time compare, so response timing does not reveal how much of the key matched.
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The real operator reads raw bytes only when the header equals this media type (in any case);
 * with parameters or anything else the body is base64 text.
 */
function announcesRawBytes(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.trim().toLowerCase() === OCTET_STREAM;
}

/**
 * V2RequestUtil refuses when `|Duration.between(timestamp, now).toMinutes()| > 1`. Duration
 * floors to whole seconds before toMinutes() truncates toward zero, so a timestamp 120 s or more
 * in the past is refused, and one more than 119 s in the future.
 */
function timestampTooFar(timestampMs: number, nowMs: number): boolean {
  const seconds = Math.floor((nowMs - timestampMs) / 1000);
  return Math.abs(Math.trunc(seconds / 60)) > 1;
}

/** A non-empty request payload must be a JSON object (the real operator parses it as one). */
function isJsonObjectOrEmpty(payload: Buffer): boolean {
  if (payload.length === 0) return true;
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        reject(new HttpReply(413, 'request body too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

class LocalOperatorServer implements LocalOperator {
  readonly apiKey: string;
  readonly secretKey: string;
  readonly identityScope: IdentityScope;
  readonly callerSiteId: number;
  readonly sites: readonly OperatorSite[];
  readonly #options: ResolvedOperatorOptions;
  readonly #secret: Buffer;
  readonly #bearer: Buffer;
  readonly #store: KeyStore;
  readonly #delivery: OptOutDelivery | null;
  readonly #optOuts: OptOutRegistry;
  readonly #identities: OperatorIdentities;
  readonly #tokens: TokenRoutes;
  readonly #server: Server;
  readonly #closing = new AbortController();
  readonly #requests: OperatorRequestRecord[] = [];
  #fault: OperatorFault | null = null;
  #port = 0;

  constructor(options: ResolvedOperatorOptions) {
    this.#options = options;
    this.apiKey = options.apiKey;
    this.secretKey = options.secretKey;
    this.identityScope = options.identityScope;
    this.callerSiteId = options.callerSiteId;
    this.sites = options.sites;
    this.#secret = decodeSecretKey(options.secretKey);
    this.#bearer = Buffer.from(options.apiKey, 'utf8');
    this.#store = new KeyStore(options, Date.now());
    this.#delivery = options.optOutWebhook ? new OptOutDelivery(options.optOutWebhook) : null;
    this.#optOuts = new OptOutRegistry(this.#delivery);
    this.#identities = new OperatorIdentities(Date.now(), {
      bucketCount: options.saltBucketCount,
      rotationPeriodMs: options.saltRotationPeriodSeconds * 1000,
      isRawUidOptedOut: (rawUid) => this.#optOuts.isOptedOut(rawUid),
    });
    this.#tokens = new TokenRoutes(options, this.#store, this.#identities);
    this.#server = createServer((req, res) => void this.#handle(req, res));
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  get fault(): OperatorFault | null {
    return this.#fault;
  }

  get requests(): readonly OperatorRequestRecord[] {
    return this.#requests;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  setFault(fault: OperatorFault | null): void {
    this.#fault = validateFault(fault);
  }

  rotateKeys(): number[] {
    return this.#store.rotate(Date.now());
  }

  rotateSalts(fraction = 1): number {
    if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) throw new InvalidArgumentError('fraction must be a number in (0, 1]');
    return this.#identities.rotateSalts(fraction, Date.now());
  }

  mintToken(options: MintTokenOptions): string {
    return mintToken(this.#store, this.#options, options, Date.now());
  }

  rawUidFor(seed: string): string {
    return rawUidFor(seed);
  }

  randomRawUid(): string {
    return randomRawUid();
  }

  keyResponse(endpoint: KeyEndpoint): KeyResponseJson {
    return this.#store.keyResponse(endpoint, Date.now());
  }

  optOut(rawUid: string, optedOutMs: number = Date.now()): void {
    if (!this.#optOuts.optOut(rawUid, optedOutMs)) throw new InvalidArgumentError('rawUid must be a raw UID (base64 of 32 or 33 bytes) and optedOutMs Unix ms');
  }

  get optOutDelivery(): OptOutDeliveryStats {
    return this.#delivery?.stats ?? { pending: 0, delivered: 0, attempts: 0, retried: 0, failed: 0 };
  }

  deliveredOptOuts(): readonly string[] {
    return this.#delivery?.delivered() ?? [];
  }

  async close(): Promise<void> {
    this.#closing.abort();
    this.#delivery?.close();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fault = this.#fault;
    const record: OperatorRequestRecord = {
      method: req.method ?? '',
      path: (req.url ?? '').split('?')[0]!,
      status: 0,
      clientVersion: req.headers['x-uid2-client-version'] as string | undefined,
      contentType: req.headers['content-type'],
      authorized: bearerMatches(req.headers.authorization, this.#bearer),
      fault: fault?.kind,
    };
    this.#requests.push(record);
    if (this.#requests.length > REQUEST_LOG_SIZE) this.#requests.shift();
    try {
      if (this.#options.throttleFraction > 0 && !record.path.startsWith('/local/') && Math.random() < this.#options.throttleFraction) {
        // The service's rate limit: 429 with no body; the request body is drained so the
        // connection stays usable.
        record.status = 429;
        req.resume();
        res.writeHead(429, { 'Content-Length': 0 });
        res.end();
        return;
      }
      if (fault?.kind === 'drop-connection') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'delay') await this.#sleep(fault.ms);
      if (this.#closing.signal.aborted) return;
      const { status, contentType, body } = await this.#answer(req, record, fault);
      record.status = status;
      res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    } catch (err) {
      const reply = err instanceof RouteRefusal ? err : new RouteRefusal(err instanceof HttpReply ? err.status : 500, err instanceof HttpReply ? err.reason : 'internal error');
      record.status = reply.status;
      if (res.headersSent || res.destroyed) return;
      const body = JSON.stringify({ status: reply.serviceStatus, message: reply.message });
      res.writeHead(reply.status, { 'Content-Type': 'application/json', Connection: 'close' });
      res.end(body);
    }
  }

  async #answer(req: IncomingMessage, record: OperatorRequestRecord, fault: OperatorFault | null): Promise<{ status: number; contentType: string; body: string | Buffer }> {
    const endpoint = (Object.keys(KEY_ENDPOINT_PATHS) as KeyEndpoint[]).find((e) => KEY_ENDPOINT_PATHS[e] === record.path);
    const optOutRoute = OPTOUT_ROUTE_PATHS.has(record.path);
    const tokenRoute = record.path === TOKEN_GENERATE_PATH || record.path === TOKEN_REFRESH_PATH;
    const mapRoute = record.path === IDENTITY_MAP_PATH;
    if (!endpoint && !optOutRoute && !tokenRoute && !mapRoute) throw new HttpReply(404, 'no such endpoint');
    if (req.method !== 'POST') throw new HttpReply(405, 'method not allowed');
    if (fault?.kind === 'http-error') throw new HttpReply(fault.status ?? 500, `injected fault: HTTP ${fault.status ?? 500}`);
    if (record.path === TOKEN_REFRESH_PATH) {
      // No envelope and no api key needed: the refresh token is the body (token-routes.ts).
      const answer = this.#tokens.refreshAnswer(await readBody(req, TOKEN_MAX_REQUEST_BYTES), record.authorized, announcesRawBytes(record.contentType), Date.now());
      if (fault?.kind === 'garbage-body') return { status: 200, contentType: 'text/plain', body: GARBAGE_BODY };
      return fault?.kind === 'truncated-body' ? { ...answer, body: truncateBody(answer.body) } : answer;
    }
    if (!record.authorized) throw new HttpReply(401, 'invalid or missing api key');

    // A status request of 5,000 raw UIDs is far larger than a key request.
    const raw = await readBody(req, optOutRoute ? OPTOUT_MAX_REQUEST_BYTES : tokenRoute ? TOKEN_MAX_REQUEST_BYTES : mapRoute ? MAX_REQUEST_BODY_BYTES : MAX_REQUEST_BYTES);
    if (record.path === ADMIN_OPTOUT_PATH) return this.#optOuts.adminAnswer(raw);
    let binary = announcesRawBytes(record.contentType);
    let opened: OpenedEnvelope;
    if (binary) {
      try {
        opened = this.#openEnvelope(raw);
      } catch (err) {
        // As the real operator: retry the body as base64 text, and answer as text if that works;
        // a body that is not base64 keeps the binary error.
        const text = decodeBase64Strict(raw.toString('latin1').trim(), 'standard');
        if (!text) throw err;
        opened = this.#openEnvelope(text);
        binary = false;
      }
    } else {
      const bytes = decodeBase64Strict(raw.toString('latin1').trim(), 'standard');
      if (!bytes) throw new HttpReply(400, 'request body is not base64');
      opened = this.#openEnvelope(bytes);
    }
    const nowMs = Date.now();

    let json: object;
    if (record.path === TOKEN_GENERATE_PATH) {
      json = this.#tokens.generateJson(opened.payload, nowMs);
    } else if (!endpoint) {
      try {
        json = mapRoute ? identityMapJson(opened.payload, this.#identities, nowMs) : this.#optOuts.statusJson(opened.payload);
      } catch (err) {
        throw err instanceof RouteRefusal ? new HttpReply(err.status, err.message) : err;
      }
    } else {
      json = fault?.kind === 'stale-keys' ? this.#store.staleKeyResponse(endpoint, nowMs) : this.#store.keyResponse(endpoint, nowMs);
    }
    const nonce = fault?.kind === 'wrong-nonce' ? Buffer.from(opened.nonce.map((b) => b ^ 0xff)) : opened.nonce;
    const sealed = sealResponse(this.#secret, nonce, Buffer.from(JSON.stringify(json), 'utf8'), nowMs);
    if (fault?.kind === 'garbage-body') return { status: 200, contentType: 'text/plain', body: GARBAGE_BODY };
    const body = binary ? sealed : sealed.toString('base64');
    return {
      status: 200,
      contentType: binary ? OCTET_STREAM : 'text/plain',
      body: fault?.kind === 'truncated-body' ? truncateBody(body) : body,
    };
  }

  /** @throws HttpReply 400 for any envelope the real operator refuses */
  #openEnvelope(bytes: Buffer): OpenedEnvelope {
    let opened;
    try {
      opened = openRequest(this.#secret, bytes);
    } catch (err) {
      throw new HttpReply(400, err instanceof Uid2Error ? err.message : 'bad envelope');
    }
    if (timestampTooFar(opened.timestampMs, Date.now())) throw new HttpReply(400, 'request timestamp is too far from the operator clock (2 minutes)');
    if (!isJsonObjectOrEmpty(opened.payload)) throw new HttpReply(400, 'request payload is not a JSON object');
    return opened;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.#closing.signal;
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * Starts a local operator on 127.0.0.1 (see LocalOperatorOptions for every option and its
 * default) and resolves once it listens.
 * @throws InvalidArgumentError or SecretKeyError for bad options (synchronously validated)
 */
export async function startLocalOperator(options: LocalOperatorOptions = {}): Promise<LocalOperator> {
  const server = new LocalOperatorServer(resolveOperatorOptions(options));
  await server.listen();
  return server;
}
