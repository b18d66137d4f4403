/**
 * The local operator's opt-outs: the registry of opted-out raw UIDs, `POST /v2/optout/status`
 * (the answer JSON; the operator opens and seals the envelope as for the key endpoints: only the
 * opted-out ones among at most 5,000 asked) and the
 * local admin route `POST /local/optout` (plain JSON, the operator's api key as bearer) that
 * opts a raw UID out and hands it to the webhook delivery, so the whole path runs on one machine.
 */
import { parseRawUid } from '../optout/raw-uid.js';
import { isOptOutMs } from '../optout/time.js';
import { MAX_OPTOUT_STATUS_BATCH, OPTOUT_STATUS_PATH } from '../service/optout-status-request.js';
import type { OptOutDelivery } from './optout-delivery.js';
import { RouteRefusal, type RouteAnswer } from './routes.js';

/** The admin route that opts a raw UID out (not a path of the real service). */
export const ADMIN_OPTOUT_PATH = '/local/optout';

/** A status request of 5,000 raw UIDs is ~330 KB of base64 envelope; refuse what is far beyond. */
export const OPTOUT_MAX_REQUEST_BYTES = 1024 * 1024;

/** The paths this module answers. */
export const OPTOUT_ROUTE_PATHS: ReadonlySet<string> = new Set([OPTOUT_STATUS_PATH, ADMIN_OPTOUT_PATH]);

function jsonAnswer(status: number, doc: object): RouteAnswer {
  return { status, contentType: 'application/json', body: JSON.stringify(doc) };
}

function clientError(status: number, message: string): RouteAnswer {
  return jsonAnswer(status, { status: status === 401 ? 'unauthorized' : 'client_error', message });
}

export class OptOutRegistry {
  /** Raw UID (base64) -> opt-out time, Unix ms. */
  readonly #optedOut = new Map<string, number>();
  readonly #delivery: OptOutDelivery | null;

  constructor(delivery: OptOutDelivery | null) {
    this.#delivery = delivery;
  }

  get size(): number {
    return this.#optedOut.size;
  }

  /** Whether `rawUid` (canonical base64) opted out: token generation and identity map ask. */
  isOptedOut(rawUid: string): boolean {
    return this.#optedOut.has(rawUid);
  }

  /**
   * Opts `rawUid` out at `optedOutMs` (first time kept) and queues its webhook delivery.
   * @returns false when `rawUid` is not a raw UID or the time is not valid
   */
  optOut(rawUid: string, optedOutMs: number): boolean {
    const bytes = parseRawUid(rawUid);
    if (!bytes || !isOptOutMs(optedOutMs)) return false;
    const canonical = bytes.toString('base64');
    if (!this.#optedOut.has(canonical)) this.#optedOut.set(canonical, optedOutMs);
    // A repeat is delivered again, as the real service may: the receiver must be idempotent.
    this.#delivery?.enqueue(canonical, this.#optedOut.get(canonical)!);
    return true;
  }

  /** The admin route: `{"advertising_id": raw UID, "opted_out_since"?: Unix ms}`. */
  adminAnswer(body: Buffer): RouteAnswer {
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch {
      return clientError(400, 'body must be JSON: {"advertising_id": "<raw UID>"}');
    }
    const d = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>;
    const since = d['opted_out_since'] ?? Date.now();
    if (typeof d['advertising_id'] !== 'string' || !this.optOut(d['advertising_id'], since as number)) {
      return clientError(400, 'advertising_id must be a raw UID (base64 of 32 or 33 bytes) and opted_out_since Unix ms');
    }
    return jsonAnswer(200, { status: 'success' });
  }

  /**
   * `/v2/optout/status`: the answer JSON for an opened request payload `{"advertising_ids": [...]}`
   * (the operator opens and seals the envelope as for the key endpoints).
   * @throws RouteRefusal (400) for a payload that is not that shape or asks about more than 5,000
   */
  statusJson(payload: Buffer): object {
    let ids: unknown;
    try {
      ids = (JSON.parse(payload.toString('utf8')) as Record<string, unknown> | null)?.['advertising_ids'];
    } catch {
      throw new RouteRefusal(400, 'payload is not JSON');
    }
    if (!Array.isArray(ids) || ids.some((id) => typeof id !== 'string')) throw new RouteRefusal(400, 'advertising_ids must be an array of strings');
    if (ids.length > MAX_OPTOUT_STATUS_BATCH) throw new RouteRefusal(400, `at most ${MAX_OPTOUT_STATUS_BATCH} advertising_ids a request`);
    const optedOut = (ids as string[]).flatMap((id) => {
      const since = this.#optedOut.get(parseRawUid(id)?.toString('base64') ?? '');
      return since === undefined ? [] : [{ advertising_id: id, opted_out_since: since }];
    });
    return { status: 'success', body: { opted_out: optedOut } };
  }
}
