/**
 * One POST to the UID2 service over Node's global fetch, with the failure modes mapped to typed
 * errors: the caller's abort, the timeout, network failures, non-200 answers (status plus a short
 * sanitised excerpt) and oversized bodies. The timeout covers the whole exchange, body included,
 * because a server that trickles its body is as stuck as one that never answers.
 */
import { AbortedError, EnvelopeError, ServiceHttpError, ServiceNetworkError, ServiceTimeoutError, Uid2Error } from '../errors.js';
import { isOctetStream } from './envelope.js';
import { safeExcerpt } from './sanitize.js';

/** How much of a non-200 body is read to build the error excerpt. */
const ERROR_BODY_READ_BYTES = 4096;

export interface PostRequest {
  url: URL;
  /** The endpoint path, for messages (the full URL is never printed). */
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array;
  timeoutMs: number;
  maxResponseBytes: number;
  /** Any of these aborting aborts the request (the caller's signal, the client's close, ...). */
  signals: readonly AbortSignal[];
  /** Strings to redact from anything the service echoes back (the credentials). */
  redact: readonly string[];
}

export interface PostResponse {
  /** True when the body came as `application/octet-stream` (raw envelope bytes). */
  binary: boolean;
  body: Buffer;
}

/** The cause of a fetch failure in a few safe words, e.g. `ECONNREFUSED` or `other side closed`. */
function describeCause(err: unknown, redact: readonly string[]): string {
  let cause: unknown = err;
  // fetch wraps the socket error: TypeError('fetch failed', { cause }).
  while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  if (!(cause instanceof Error)) return 'unknown error';
  const code = (cause as NodeJS.ErrnoException).code;
  const text = code && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
  return safeExcerpt(text, redact, 120) || 'unknown error';
}

/**
 * Reads at most `max` bytes of a body. With `truncate`, stops there quietly (for error
 * excerpts); otherwise a longer body is an error and is not read further.
 */
async function readLimited(stream: ReadableStream<Uint8Array> | null, max: number, truncate: boolean): Promise<Buffer> {
  if (!stream) return Buffer.alloc(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (total + value.byteLength > max) {
      reader.cancel().catch(() => undefined);
      if (truncate) {
        chunks.push(value.subarray(0, max - total));
        total = max;
        break;
      }
      throw new EnvelopeError(`response body is larger than ${max} bytes`);
    }
    chunks.push(value);
    total += value.byteLength;
  }
  return Buffer.concat(chunks, total);
}

/**
 * POSTs `request.body` and returns the 200 body.
 * @throws AbortedError, ServiceTimeoutError, ServiceNetworkError, ServiceHttpError, EnvelopeError
 */
export async function postToService(request: PostRequest): Promise<PostResponse> {
  const { path, signals, redact } = request;
  const aborted = signals.find((s) => s.aborted);
  if (aborted) throw abortReason(aborted.reason);
  const controller = new AbortController();
  const onAbort = function (this: AbortSignal): void {
    controller.abort(abortReason(this.reason));
  };
  for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(
    () => controller.abort(new ServiceTimeoutError(`no complete answer from ${path} within ${request.timeoutMs} ms`)),
    request.timeoutMs,
  );
  // A refresh must never be what keeps a process alive.
  timer.unref();
  // Whatever fails once our controller fired is reported as the reason it fired for.
  const failure = (err: unknown, during: string): Uid2Error => {
    if (controller.signal.aborted) return controller.signal.reason as Uid2Error;
    if (err instanceof Uid2Error) return err;
    return new ServiceNetworkError(`${during} ${path} failed: ${describeCause(err, redact)}`, { cause: err });
  };
  try {
    let response: Response;
    try {
      response = await fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
        // A redirect would carry the Authorization header to wherever it points; the key
        // endpoints never redirect, so a 3xx is reported as the HTTP error it is.
        redirect: 'manual',
      });
    } catch (err) {
      throw failure(err, 'request to');
    }
    try {
      if (response.status !== 200) {
        const head = await readLimited(response.body, ERROR_BODY_READ_BYTES, true);
        // A body longer than what was read is cut: its last characters may start a credential.
        const excerpt = safeExcerpt(head.toString('utf8'), redact, undefined, head.length === ERROR_BODY_READ_BYTES);
        throw new ServiceHttpError(
          response.status,
          `UID2 service answered HTTP ${response.status} to ${path}${excerpt ? `: ${excerpt}` : ''}`,
        );
      }
      const declared = Number(response.headers.get('content-length') ?? NaN);
      if (declared > request.maxResponseBytes) {
        response.body?.cancel().catch(() => undefined);
        throw new EnvelopeError(`response body is larger than ${request.maxResponseBytes} bytes`);
      }
      const body = await readLimited(response.body, request.maxResponseBytes, false);
      return { binary: isOctetStream(response.headers.get('content-type')), body };
    } catch (err) {
      throw failure(err, 'reading the answer of');
    }
  } finally {
    clearTimeout(timer);
    for (const s of signals) s.removeEventListener('abort', onAbort);
  }
}

/** A Uid2Error reason (e.g. the client's own "closed") is kept; any other abort becomes AbortedError. */
export function abortReason(reason: unknown): Uid2Error {
  return reason instanceof AbortedError ? reason : new AbortedError('the refresh was aborted');
}
