/** The domain to check client-side generated tokens against, from an OpenRTB `site.page` URL. */

/**
 * The host of `page` without a leading `www.`, lower-cased, or `undefined` when `page` is not a
 * URL with a host. A URL without a scheme (`example.com/path`, as some exchanges send) is read
 * as `http://`.
 *
 * This is a heuristic, not a public-suffix lookup: `news.example.co.uk` stays
 * `news.example.co.uk` and `www.shop.example.com` becomes `shop.example.com`. Publishers
 * register the names their tokens are generated on, which are usually exactly these hosts;
 * when `site.domain` is present it is used instead.
 */
export function domainFromPage(page: string): string | undefined {
  const text = page.trim();
  if (text === '') return undefined;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  // URL has already lower-cased and punycoded the host and dropped the port.
  const host = url.hostname.replace(/\.$/, '');
  if (host === '') return undefined;
  return host.startsWith('www.') && host.length > 4 ? host.slice(4) : host;
}
