/**
 * Turns hostile text (an error body, a status field, a socket error) into a short, single-line,
 * printable excerpt that is safe to put in an error message and a log line.
 *
 * Credentials are redacted before anything is cut: cutting first left the head of a credential
 * that straddled the cut, and collapsing whitespace then brought it into view. So the text is
 * first made one line (controls and separators to spaces, runs of white space to one), then
 * redacted, then cut. A service (or a proxy in front of it) may echo a credential encoded rather
 * than as given, so each character of a credential also matches its URL (`%2B`, `%2b`), JSON
 * (`\u002b`, `\/`) and base64url forms and `+` read as a space by a form decoder, with a space
 * allowed between characters (a wrapped line, once collapsed); and the credential's base64
 * encoding is redacted at each of the three byte alignments it can have inside a longer encoded
 * text (an echoed `Authorization` header, for instance).
 */

/** Longest excerpt of a response put into an error message. */
export const MAX_EXCERPT_CHARS = 200;

// C0/C1 controls, line/paragraph separators and bidi overrides: they could forge log lines or
// make a message read differently from what it holds.
const UNPRINTABLE_CLASS = '[\\u0000-\\u001f\\u007f-\\u009f\\u200b-\\u200f\\u2028-\\u202e\\u2066-\\u2069\\ufeff]';
const UNPRINTABLE = new RegExp(UNPRINTABLE_CLASS, 'g');
/** What may sit between two characters of an echoed credential, once white space is collapsed. */
const FILLER = ' ?';
/** Characters of text a matched form may span per character of the credential (`\u002b` and a space). */
const MAX_CHARS_PER_CHAR = 7;
/** Raw characters looked at, at most: past them the text counts as cut. */
const RAW_CHARS_PER_EXCERPT_CHAR = 128;
/** Base64 of a credential is redacted only when at least this long (shorter would hit common text). */
const MIN_BASE64_FORM = 16;

const REDACTED = '[redacted]';

/** Matches one character of a credential in any of the forms above. */
function charPattern(ch: string): string {
  const literal = ch.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  const code = ch.charCodeAt(0);
  if (code > 0xff) return literal;
  const hex = [...code.toString(16).padStart(2, '0')].map((d) => (/[a-f]/.test(d) ? `[${d}${d.toUpperCase()}]` : d)).join('');
  const forms = [literal, `%${hex}`, `\\\\u00${hex}`];
  if (ch === '/') forms.push('\\\\/', '_');
  if (ch === '+') forms.push('-', ' ');
  return `(?:${forms.join('|')})`;
}

/** The whole of `form`, each character in any of its forms; base64 padding (`=`) may be left out. */
function wholePattern(form: string): string {
  return [...form].map((ch, i) => (i === 0 ? charPattern(ch) : ch === '=' ? `(?:${FILLER}${charPattern(ch)})?` : `${FILLER}${charPattern(ch)}`)).join('');
}

/** Any non-empty beginning of `form`, as `wholePattern` spells it. */
function prefixPattern(form: string): string {
  const chars = [...form];
  let rest = '';
  for (let i = chars.length - 1; i >= 0; i--) rest = `${charPattern(chars[i]!)}${rest ? `(?:${FILLER}(?:${rest})?)?` : ''}`;
  return rest;
}

/** The characters of the base64 of `secret` preceded by `offset` bytes that depend on `secret` alone. */
function base64Interior(secret: string, offset: number): string {
  const bytes = Buffer.byteLength(secret, 'utf8');
  const text = Buffer.concat([Buffer.alloc(offset), Buffer.from(secret, 'utf8')]).toString('base64');
  // Character i carries bits [6i, 6i + 6) of the padded input; the secret's are [8 offset, 8 (offset + bytes)).
  const first = Math.ceil((8 * offset) / 6);
  const end = Math.floor((8 * (offset + bytes)) / 6);
  return text.slice(first, end);
}

interface Redaction {
  /** Every form of every credential (global). */
  whole: RegExp;
  /** A beginning of any form that runs to the end of the text. */
  cutTail: RegExp;
  /** The most characters of text one match may span. */
  longest: number;
}

function redactionFor(secrets: readonly (string | undefined)[]): Redaction | null {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    forms.add(secret);
    for (let offset = 0; offset < 3; offset++) {
      const interior = base64Interior(secret, offset);
      if (interior.length >= MIN_BASE64_FORM) forms.add(interior);
    }
  }
  if (forms.size === 0) return null;
  // Longest first: at one position the longer form wins.
  const sorted = [...forms].sort((a, b) => b.length - a.length);
  return {
    whole: new RegExp(sorted.map(wholePattern).join('|'), 'g'),
    cutTail: new RegExp(`(?:${sorted.map(prefixPattern).join('|')})$`),
    longest: sorted[0]!.length * MAX_CHARS_PER_CHAR,
  };
}

/**
 * The first `limit` characters of `text` with every match of `pattern` that starts before
 * `limit` replaced whole (a match may end past `limit`; what follows it is dropped).
 */
function redactHead(text: string, pattern: RegExp, limit: number): string {
  let out = '';
  let last = 0;
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m !== null && m.index < limit; m = pattern.exec(text)) {
    out += text.slice(last, m.index) + REDACTED;
    last = m.index + m[0].length;
  }
  return last < limit ? out + text.slice(last, limit) : out;
}

/**
 * A single line of at most `max` characters, with every credential in `redact` replaced by
 * `[redacted]`, as given or encoded (see above), before the text is cut.
 * @param cut true when `text` is the head of something longer (a body read in part): a
 *   beginning of a credential at its end cannot be told from other text, so it is dropped
 */
export function safeExcerpt(text: string, redact: readonly (string | undefined)[] = [], max = MAX_EXCERPT_CHARS, cut = false): string {
  // Only the head matters; bounding what is read bounds the work on a huge body.
  const rawLimit = max * RAW_CHARS_PER_EXCERPT_CHAR + 16_384;
  const window = max * 8 + 1024;
  let line = text.slice(0, rawLimit).replace(UNPRINTABLE, ' ').replace(/\s+/g, ' ');
  const redaction = redactionFor(redact);
  let head: string;
  if (redaction) {
    // A credential that starts inside the window ends within `longest` characters after it;
    // only when the text ends before that can its cut end be shown.
    if ((cut || text.length > rawLimit) && line.length < window + redaction.longest) {
      const tail = redaction.cutTail.exec(line);
      if (tail) line = line.slice(0, tail.index);
    }
    head = redactHead(line.slice(0, window + redaction.longest), redaction.whole, window);
  } else {
    head = line.slice(0, window);
  }
  const trimmed = head.trim();
  return trimmed.length > max ? `${trimmed.slice(0, max - 1)}…` : trimmed;
}
