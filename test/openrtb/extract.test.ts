/** extractUid2Tokens on bid requests shaped like real exchange traffic, and on hostile input. */
import { describe, expect, it } from 'vitest';
import { domainFromPage, extractUid2Tokens } from '../../src/index.js';

const T1 = 'AgAAAAN6QZRBcMHr7pqHtmAY+pTtsvW3Pn0S8mHXbgyrLHyWEjBZZDdsU4pB5ALVVJVcd+CGnSa+6oFjGnNOxkIeVsTPdu6ZfQ==';
const T2 = 'A4AAAAs6aUKLMhqGoHVqv6JgMLkYBmwmm8YSDKVgxbnQ4DsdCHu6YwMo6EeVMgSy';
const T3 = 'BEAAAAFt8UUR3kf-Bw0FMq1ybSNFyLsQdeYYK7gU3l2ZW5Q1eUy7cNqkZvg8cIoXRgqkYv1DLmiA';

/** An OpenRTB 2.6 web request as Prebid Server forwards it (trimmed). */
function webRequest26(): Record<string, unknown> {
  return {
    id: 'req-26-web',
    imp: [{ id: '1', banner: { format: [{ w: 300, h: 250 }] }, bidfloor: 0.5 }],
    site: { id: 'site-1', domain: 'publisher.example', page: 'https://www.publisher.example/article?x=1', publisher: { id: 'p1' } },
    device: { ua: 'Mozilla/5.0', ip: '203.0.113.7' },
    user: {
      id: 'exchange-user-1',
      eids: [
        { source: 'id5-sync.com', uids: [{ id: 'ID5*xyz', atype: 1 }] },
        { source: 'uidapi.com', uids: [{ id: T1, atype: 3 }] },
        { source: 'euid.eu', uids: [{ id: T2, atype: 3, ext: { stype: 'ppuid' } }] },
      ],
    },
    regs: { ext: { gdpr: 0 } },
    tmax: 120,
  };
}

describe('extractUid2Tokens', () => {
  it('OpenRTB 2.6: user.eids, both sources, other providers ignored, site.domain', () => {
    expect(extractUid2Tokens(webRequest26())).toEqual({
      requestId: 'req-26-web',
      tokens: [
        { token: T1, source: 'uidapi.com', path: 'user.eids[1].uids[0].id' },
        { token: T2, source: 'euid.eu', path: 'user.eids[2].uids[0].id' },
      ],
      domainOrAppName: 'publisher.example',
      problems: [],
    });
  });

  it('OpenRTB 2.5: user.ext.eids; site.page only gives its host without www.', () => {
    const request = {
      id: 'req-25',
      imp: [{ id: '1', video: { w: 640, h: 480 } }],
      site: { page: 'https://www.News.Example.co.uk:8443/story/1?utm=a#top' },
      user: { ext: { eids: [{ source: 'uidapi.com', uids: [{ id: T1, atype: 3 }, { id: T3, atype: 3 }] }] } },
    };
    expect(extractUid2Tokens(request)).toEqual({
      requestId: 'req-25',
      tokens: [
        { token: T1, source: 'uidapi.com', path: 'user.ext.eids[0].uids[0].id' },
        { token: T3, source: 'uidapi.com', path: 'user.ext.eids[0].uids[1].id' },
      ],
      // Not a public-suffix lookup: the whole host stays.
      domainOrAppName: 'news.example.co.uk',
      problems: [],
    });
  });

  it('app requests use app.bundle', () => {
    const request = {
      id: 'req-app',
      app: { id: 'a1', bundle: 'com.example.app', storeurl: 'https://play.example/store/apps/details?id=com.example.app' },
      user: { eids: [{ source: 'uidapi.com', uids: [{ id: T3 }] }] },
    };
    const found = extractUid2Tokens(request);
    expect(found.domainOrAppName).toBe('com.example.app');
    expect(found.tokens.map((t) => t.token)).toEqual([T3]);
    expect(found.problems).toEqual([]);
  });

  it('both locations: tokens in order, a token repeated in both counts once', () => {
    const request = {
      site: { domain: 'example.com' },
      user: {
        eids: [{ source: 'uidapi.com', uids: [{ id: T1 }] }],
        ext: { eids: [{ source: 'uidapi.com', uids: [{ id: T1 }, { id: T2 }] }, { source: 'euid.eu', uids: [{ id: T3 }] }] },
      },
    };
    expect(extractUid2Tokens(request).tokens).toEqual([
      { token: T1, source: 'uidapi.com', path: 'user.eids[0].uids[0].id' },
      { token: T2, source: 'uidapi.com', path: 'user.ext.eids[0].uids[1].id' },
      { token: T3, source: 'euid.eu', path: 'user.ext.eids[1].uids[0].id' },
    ]);
  });

  it('sources match whatever their case and surrounding spaces', () => {
    const request = { user: { eids: [{ source: ' UIDAPI.com ', uids: [{ id: T1 }] }, { source: 'EUID.EU', uids: [{ id: T2 }] }] } };
    expect(extractUid2Tokens(request).tokens.map((t) => t.source)).toEqual(['uidapi.com', 'euid.eu']);
  });

  it('no user, no site and no app: nothing found, nothing wrong', () => {
    expect(extractUid2Tokens({ id: 'bare', imp: [] })).toEqual({ requestId: 'bare', tokens: [], domainOrAppName: null, problems: [] });
  });

  it('site.domain wins over site.page; a bad domain falls back to the page; a bad page is reported', () => {
    expect(extractUid2Tokens({ site: { domain: 'a.example', page: 'https://b.example/' } }).domainOrAppName).toBe('a.example');
    const badDomain = extractUid2Tokens({ site: { domain: 42, page: 'http://www.c.example/x' } });
    expect(badDomain.domainOrAppName).toBe('c.example');
    expect(badDomain.problems).toEqual(['site.domain must be a string, got a number']);
    const badPage = extractUid2Tokens({ site: { page: 'not a url at all' } });
    expect(badPage.domainOrAppName).toBeNull();
    expect(badPage.problems).toEqual(['site.page is not a URL with a host']);
    expect(extractUid2Tokens({ site: { page: ['x'] } }).problems).toEqual(['site.page must be a string, got an array']);
    expect(extractUid2Tokens({ site: { page: 'example.org/path' } }).domainOrAppName).toBe('example.org');
  });

  it.each([
    [null, 'bid request must be an object, got null'],
    [undefined, 'bid request must be an object, got nothing'],
    [[webRequest26()], 'bid request must be an object, got an array'],
    ['{"id":"json text"}', 'bid request must be an object, got a string'],
    [42, 'bid request must be an object, got a number'],
  ])('a non-object request %#: no tokens, one problem, no throw', (request, problem) => {
    expect(extractUid2Tokens(request)).toEqual({ tokens: [], domainOrAppName: null, problems: [problem] });
  });

  it('malformed parts are skipped, reported, and the rest is still used', () => {
    const request = {
      id: 7, // not a string: no requestId
      site: 'publisher.example',
      app: { bundle: '' },
      user: {
        eids: [
          null,
          'uidapi.com',
          { source: 5, uids: [{ id: T1 }] },
          { source: 'uidapi.com' },
          { source: 'uidapi.com', uids: { id: T1 } },
          { source: 'uidapi.com', uids: [null, { id: 7 }, { id: '' }, {}, 'x', { id: T3 }] },
          { source: 'other.example', uids: 'ignored: not ours' },
        ],
        ext: { eids: { source: 'uidapi.com', uids: [{ id: T2 }] } },
      },
    };
    const found = extractUid2Tokens(request);
    expect(found.requestId).toBeUndefined();
    expect(found.tokens).toEqual([{ token: T3, source: 'uidapi.com', path: 'user.eids[5].uids[5].id' }]);
    expect(found.domainOrAppName).toBeNull();
    expect(found.problems).toEqual([
      'user.eids[0] must be an object, got null',
      'user.eids[1] must be an object, got a string',
      'user.eids[2].source must be a string, got a number',
      'user.eids[3].uids must be an array, got nothing',
      'user.eids[4].uids must be an array, got an object',
      'user.eids[5].uids[0] must be an object, got null',
      'user.eids[5].uids[1].id must be a non-empty string, got a number',
      'user.eids[5].uids[2].id must be a non-empty string, got an empty string',
      'user.eids[5].uids[3].id must be a non-empty string, got nothing',
      'user.eids[5].uids[4] must be an object, got a string',
      'user.ext.eids must be an array, got an object',
      'site must be an object, got a string',
      'app.bundle must be a non-empty string, got a string',
    ]);
  });

  it('user and user.ext of the wrong type are reported', () => {
    expect(extractUid2Tokens({ user: [1] }).problems).toEqual(['user must be an object, got an array']);
    expect(extractUid2Tokens({ user: { ext: 'x' } }).problems).toEqual(['user.ext must be an object, got a string']);
    expect(extractUid2Tokens({ app: 3 }).problems).toEqual(['app must be an object, got a number']);
  });

  it('never throws on odd values anywhere (objects with throwing getters aside)', () => {
    const odd: unknown[] = [0, true, Symbol('s'), () => 1, new Date(0), new Map(), Object.create(null), [[]], { user: { eids: [[]] } }];
    for (const value of odd) {
      expect(() => extractUid2Tokens(value)).not.toThrow();
      expect(() => extractUid2Tokens({ user: value, site: value, app: value })).not.toThrow();
      expect(() => extractUid2Tokens({ user: { eids: [{ source: 'uidapi.com', uids: [value, { id: value }] }] } })).not.toThrow();
    }
  });
});

describe('domainFromPage', () => {
  it.each([
    ['https://www.example.com/a/b?c#d', 'example.com'],
    ['http://EXAMPLE.com:8080', 'example.com'],
    ['https://shop.www.example.com/', 'shop.www.example.com'],
    ['https://www.example.co.uk/', 'example.co.uk'],
    ['www.example.net/page', 'example.net'],
    ['  https://example.org/  ', 'example.org'],
    ['https://bücher.example/', 'xn--bcher-kva.example'],
    ['https://example.com./x', 'example.com'],
    ['https://www./', 'www'],
  ])('%s → %s', (page, domain) => {
    expect(domainFromPage(page)).toBe(domain);
  });

  it.each(['', '   ', 'ftp://example.com/file', 'javascript:alert(1)', 'http://', 'not a url'])('%j → undefined', (page) => {
    expect(domainFromPage(page)).toBeUndefined();
  });
});
