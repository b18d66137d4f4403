/**
 * Turns hostile text (an error body, a status field, a socket error) into a short, single-line,
 * printable excerpt that is safe to put in an error message and a log line.
 */

/** Longest excerpt of a response put into an error message. */
export const MAX_EXCERPT_CHARS = 200;

// C0/C1 controls, line/paragraph separators and bidi overrides: they could forge log lines or
// make a message read differently from what it holds.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

/**
 * A single line of at most `max` characters, with every occurrence of each `redact` string
 * replaced by `[redacted]` (done before truncation, so no half of a credential survives either).
 */
export function safeExcerpt(text: string, redact: readonly (string | undefined)[] = [], max = MAX_EXCERPT_CHARS): string {
  // Only the head matters; cutting first bounds the work on a huge body.
  let line = text.slice(0, max * 8 + 1024).replace(UNPRINTABLE, ' ').replace(/\s+/g, ' ').trim();
  for (const secret of redact) {
    if (secret) line = line.split(secret).join('[redacted]');
  }
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
