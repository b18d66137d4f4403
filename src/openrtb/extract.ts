/**
 * Finds UID2 and EUID advertising tokens in OpenRTB 2.5 / 2.6 bid requests, and the domain or
 * app name their client-side generated tokens are checked against.
 *
 *   user.eids[i]      (2.6)  ┐  { source: 'uidapi.com' | 'euid.eu', uids: [{ id, atype?, ext? }] }
 *   user.ext.eids[i]  (2.5)  ┘
 *   site.domain, else site.page's host (www. dropped), else app.bundle
 *
 * Bid requests come from the network: nothing here throws. Anything malformed is skipped and
 * described in `problems`, so a bidder can count or log it and still use the rest.
 */
import { domainFromPage } from './site-domain.js';

/** The eid sources this library decrypts: UID2 and EUID. */
export const UID2_SOURCE = 'uidapi.com';
export const EUID_SOURCE = 'euid.eu';
export type TokenSource = typeof UID2_SOURCE | typeof EUID_SOURCE;

/** One advertising token found in a bid request. */
export interface ExtractedToken {
  /** The advertising token, exactly as sent. */
  token: string;
  source: TokenSource;
  /** Where it was found, e.g. `user.ext.eids[1].uids[0].id`. */
  path: string;
}

/** What `extractUid2Tokens()` found in one bid request. */
export interface ExtractedTokens {
  /** `id` of the bid request, when it is a string. */
  requestId?: string;
  /** Tokens in request order (`user.eids` first); a token repeated in both places counts once. */
  tokens: ExtractedToken[];
  /** `site.domain`, else the host of `site.page` (see `domainFromPage`), else `app.bundle`; or null. */
  domainOrAppName: string | null;
  /** One line per malformed part that was skipped. Empty for a well-formed request. */
  problems: string[];
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** How a problem names what it got: 'null', 'nothing', 'an array', 'an object', 'a string', ... */
function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function sourceOf(value: unknown): TokenSource | undefined {
  if (typeof value !== 'string') return undefined;
  const source = value.trim().toLowerCase();
  return source === UID2_SOURCE || source === EUID_SOURCE ? source : undefined;
}

function collectEids(eids: unknown, path: string, out: ExtractedToken[], seen: Set<string>, problems: string[]): void {
  if (eids === undefined || eids === null) return;
  if (!Array.isArray(eids)) {
    problems.push(`${path} must be an array, got ${typeName(eids)}`);
    return;
  }
  eids.forEach((eid: unknown, i) => {
    const eidPath = `${path}[${i}]`;
    if (!isObject(eid)) {
      problems.push(`${eidPath} must be an object, got ${typeName(eid)}`);
      return;
    }
    const source = sourceOf(eid['source']);
    // Other identity providers' eids are none of this library's business, malformed or not.
    if (source === undefined) {
      if (typeof eid['source'] !== 'string') problems.push(`${eidPath}.source must be a string, got ${typeName(eid['source'])}`);
      return;
    }
    const uids = eid['uids'];
    if (!Array.isArray(uids)) {
      problems.push(`${eidPath}.uids must be an array, got ${typeName(uids)}`);
      return;
    }
    uids.forEach((uid: unknown, j) => {
      const uidPath = `${eidPath}.uids[${j}]`;
      if (!isObject(uid)) {
        problems.push(`${uidPath} must be an object, got ${typeName(uid)}`);
        return;
      }
      const id = uid['id'];
      if (typeof id !== 'string' || id === '') {
        problems.push(`${uidPath}.id must be a non-empty string, got ${id === '' ? 'an empty string' : typeName(id)}`);
        return;
      }
      // Exchanges that send both 2.5 and 2.6 locations repeat the same eids: decrypt once.
      const key = `${source}\n${id}`;
      if (seen.has(key)) return;
      seen.add(key);
      out.push({ token: id, source, path: `${uidPath}.id` });
    });
  });
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function findDomainOrAppName(request: Json, problems: string[]): string | null {
  const site = request['site'];
  const app = request['app'];
  if (site !== undefined && site !== null) {
    if (!isObject(site)) {
      problems.push(`site must be an object, got ${typeName(site)}`);
    } else {
      const domain = nonEmptyString(site['domain']);
      if (domain !== undefined) return domain;
      if (site['domain'] !== undefined && typeof site['domain'] !== 'string') {
        problems.push(`site.domain must be a string, got ${typeName(site['domain'])}`);
      }
      const page = site['page'];
      if (typeof page === 'string') {
        const fromPage = domainFromPage(page);
        if (fromPage !== undefined) return fromPage;
        problems.push('site.page is not a URL with a host');
      } else if (page !== undefined) {
        problems.push(`site.page must be a string, got ${typeName(page)}`);
      }
    }
  }
  if (app !== undefined && app !== null) {
    if (!isObject(app)) {
      problems.push(`app must be an object, got ${typeName(app)}`);
    } else {
      const bundle = nonEmptyString(app['bundle']);
      if (bundle !== undefined) return bundle;
      if (app['bundle'] !== undefined) problems.push(`app.bundle must be a non-empty string, got ${typeName(app['bundle'])}`);
    }
  }
  return null;
}

/**
 * Finds the UID2 (`uidapi.com`) and EUID (`euid.eu`) tokens of an OpenRTB 2.5/2.6 bid request
 * in `user.eids` and `user.ext.eids`, and the domain or app name to check client-side generated
 * tokens against: `site.domain`, else the host of `site.page` without `www.` (a heuristic, not a
 * public-suffix lookup; see `domainFromPage`), else `app.bundle`.
 *
 * Never throws: a non-object request, wrong types and missing fields are skipped and reported in
 * `problems`.
 */
export function extractUid2Tokens(bidRequest: unknown): ExtractedTokens {
  const problems: string[] = [];
  if (!isObject(bidRequest)) {
    return { tokens: [], domainOrAppName: null, problems: [`bid request must be an object, got ${typeName(bidRequest)}`] };
  }
  const result: ExtractedTokens = { tokens: [], domainOrAppName: null, problems };
  const id = bidRequest['id'];
  if (typeof id === 'string') result.requestId = id;

  const user = bidRequest['user'];
  const seen = new Set<string>();
  if (user !== undefined && user !== null) {
    if (!isObject(user)) {
      problems.push(`user must be an object, got ${typeName(user)}`);
    } else {
      collectEids(user['eids'], 'user.eids', result.tokens, seen, problems);
      const ext = user['ext'];
      if (isObject(ext)) collectEids(ext['eids'], 'user.ext.eids', result.tokens, seen, problems);
      else if (ext !== undefined && ext !== null) problems.push(`user.ext must be an object, got ${typeName(ext)}`);
    }
  }
  result.domainOrAppName = findDomainOrAppName(bidRequest, problems);
  return result;
}
