/**
 * Identity input rules, case by case: the uid2-operator's own normalization tests
 * (InputNormalizationTest) and the UID2 documentation's examples, the invalid forms the operator
 * refuses, and a differential property test against a character-by-character transcription of
 * the operator's email state machine, so the fast path cannot drift from the rule.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isNormalizedPhone, normalizeAndHashEmail, normalizeAndHashPhone, normalizeEmail, normalizeHash } from '../../src/index.js';

const sha = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64');

/** The operator's rule, one character at a time (the reference the fast code must match). */
function referenceNormalizeEmail(email: string): string | null {
  let local = '';
  let gmailLocal = '';
  let domain = '';
  let pendingSpaces = '';
  let inDomain = false;
  let inExtension = false;
  for (const ch of email.split('')) {
    const c = ch >= 'A' && ch <= 'Z' ? String.fromCharCode(ch.charCodeAt(0) + 32) : ch;
    if (!inDomain) {
      if (c === ' ') continue;
      if (c === '@') inDomain = true;
      else {
        local += c;
        if (c === '+') inExtension = true;
        else if (c !== '.' && !inExtension) gmailLocal += c;
      }
    } else {
      if (c === '@') return null;
      if (c === ' ') pendingSpaces += c;
      else {
        domain += pendingSpaces + c;
        pendingSpaces = '';
      }
    }
  }
  if (domain === '') return null;
  const chosen = domain === 'gmail.com' ? gmailLocal : local;
  return chosen === '' ? null : `${chosen}@${domain}`;
}

describe('normalizeEmail: the operator test cases', () => {
  // [input, normalized, base64 SHA-256 of normalized], from uid2-operator InputNormalizationTest.
  const valid: [string, string, string][] = [
    ['TEst.TEST@Test.com ', 'test.test@test.com', 'dvECjPKZHya0/SIhSGwP0m8SgTv1vzLxPULUOsm880M='],
    ['test.test@test.com', 'test.test@test.com', 'dvECjPKZHya0/SIhSGwP0m8SgTv1vzLxPULUOsm880M='],
    ['test.test@gmail.com', 'testtest@gmail.com', 'LkLfFrut8Tc3h/fIvYDiBKSbaMiau/DtaLBPQYszdMw='],
    ['test+test@test.com', 'test+test@test.com', 'rQ4yzdOz4uG8N54326QyZD6/JwqrXn4lmy34cVCojB8='],
    ['+test@test.com', '+test@test.com', 'weFizOVVWKlLfyorbBU8oxYDv4HJtTZCPMyZ4THzUQE='],
    ['test+test@gmail.com', 'test@gmail.com', 'h5JGBrQTGorO7q6IaFMfu5cSqqB6XTp1aybOD11spnQ='],
    ['testtest@test.com', 'testtest@test.com', 'd1Lr/s4GLLX3SvQVMoQdIMfbQPMAGZYry+2V+0pZlQg='],
    [' testtest@test.com', 'testtest@test.com', 'd1Lr/s4GLLX3SvQVMoQdIMfbQPMAGZYry+2V+0pZlQg='],
    ['testtest@test.com ', 'testtest@test.com', 'd1Lr/s4GLLX3SvQVMoQdIMfbQPMAGZYry+2V+0pZlQg='],
    [' testtest@test.com ', 'testtest@test.com', 'd1Lr/s4GLLX3SvQVMoQdIMfbQPMAGZYry+2V+0pZlQg='],
    ['  testtest@test.com  ', 'testtest@test.com', 'd1Lr/s4GLLX3SvQVMoQdIMfbQPMAGZYry+2V+0pZlQg='],
    [' test.test@gmail.com', 'testtest@gmail.com', 'LkLfFrut8Tc3h/fIvYDiBKSbaMiau/DtaLBPQYszdMw='],
    ['  test.test@gmail.com  ', 'testtest@gmail.com', 'LkLfFrut8Tc3h/fIvYDiBKSbaMiau/DtaLBPQYszdMw='],
    ['TEstTEst@GMail.Com  ', 'testtest@gmail.com', 'LkLfFrut8Tc3h/fIvYDiBKSbaMiau/DtaLBPQYszdMw='],
    [' TEstTEst@GMail.Com  ', 'testtest@gmail.com', 'LkLfFrut8Tc3h/fIvYDiBKSbaMiau/DtaLBPQYszdMw='],
    ['TEst.TEst+123@GMail.Com', 'testtest@gmail.com', 'LkLfFrut8Tc3h/fIvYDiBKSbaMiau/DtaLBPQYszdMw='],
    ['\u{1F60A}testtest@test.com', '\u{1F60A}testtest@test.com', 'fAFEUqApQ0V/M9mLj/IO54CgKgtQuARKsOMqtFklD4k='],
    ['testtest@\u{1F60A}test.com', 'testtest@\u{1F60A}test.com', 'tcng5pttf7Y2z4ylZTROvIMw1+IVrMpR4D1KeXSrdiM='],
    ['testtest@test.com\u{1F60A}', 'testtest@test.com\u{1F60A}', '0qI21FPLkuez/8RswfmircHPYz9Dtf7/Nch1rSWEQf0='],
  ];
  it.each(valid)('%j -> %j', (input, normalized, hash) => {
    expect(normalizeEmail(input)).toBe(normalized);
    expect(normalizeAndHashEmail(input)).toBe(hash);
  });

  // The operator's invalid forms.
  const invalid = ['', ' @', '@', 'a@', '@b', '@b.com', '+', ' ', '+@gmail.com', '.+@gmail.com', 'a@ba@z.com'];
  it.each(invalid)('%j is invalid', (input) => {
    expect(normalizeEmail(input)).toBeNull();
    expect(normalizeAndHashEmail(input)).toBeNull();
  });
});

describe('normalizeEmail: the UID2 documentation examples', () => {
  const examples: [string, string][] = [
    ['MyEmail@example.com', 'FsGNM28LJQ8OLZB0Us65ZYp07NrovJSGTCMSKnLMJ6U='],
    ['MYEMAIL@example.com', 'FsGNM28LJQ8OLZB0Us65ZYp07NrovJSGTCMSKnLMJ6U='],
    ['JANESAOIRSE@example.com', '1mcOepIAfxtf94Xx/IHlOqbT170GvfXEc83HKGwoS20='],
    ['JaneSaoirse+UID2@example.com', 'bhQ2aMIGWT1ey4p7JyavdNlIQ4pe11/rrcv0u1jrxCc='],
    ['JANE.SAOIRSE@gmail.com', 'ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8='],
    ['JaneSaoirse+UID2@gmail.com', 'ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8='],
    ['janesaoirse@gmail.com', 'ku4mBX7Z3qJTXWyLFB1INzkyR2WZGW4ANSJUiW21iI8='],
  ];
  it.each(examples)('%j', (input, hash) => expect(normalizeAndHashEmail(input)).toBe(hash));
});

describe('normalizeEmail: each rule on its own', () => {
  it.each([
    ['spaces anywhere before the @ are dropped', 'a b .c@x.com', 'ab.c@x.com'],
    ['spaces inside the domain stay', 'a@x y.com', 'a@x y.com'],
    ['spaces leading the domain stay', 'a@ x.com', 'a@ x.com'],
    ['trailing spaces of the domain go', 'a@x.com   ', 'a@x.com'],
    ['only U+0020 counts as a space: tabs and NBSP stay', '\ta@x.com\u00a0', '\ta@x.com\u00a0'],
    ['only ASCII letters are lowercased', 'ÉLODIE@X.COM', 'Élodie@x.com'],
    ['the Kelvin sign is not an ASCII K', '\u212Aa@x.com', '\u212Aa@x.com'],
    ['dotted capital I is not an ASCII I', '\u0130A@X.com', '\u0130a@x.com'],
    ['gmail: dots go, + and after go', 'a.b.c+d.e+f@gmail.com', 'abc@gmail.com'],
    ['gmail is matched after lowercasing', 'A.B@GMAIL.COM', 'ab@gmail.com'],
    ['gmail is matched after trailing spaces go', 'a.b@gmail.com  ', 'ab@gmail.com'],
    ['googlemail.com is not gmail.com', 'a.b+c@googlemail.com', 'a.b+c@googlemail.com'],
    ['a subdomain of gmail.com is not gmail.com', 'a.b@mail.gmail.com', 'a.b@mail.gmail.com'],
    ['a leading space makes it another domain', 'a.b@ gmail.com', 'a.b@ gmail.com'],
    ['other domains keep dots and +', 'a.b+c@x.com', 'a.b+c@x.com'],
    ['no further syntax checks: a@b', 'a@b', 'a@b'],
    ['an already normalized address comes back as is', 'jane@example.com', 'jane@example.com'],
  ])('%s', (_, input, normalized) => {
    expect(normalizeEmail(input)).toBe(normalized);
    expect(normalizeAndHashEmail(input)).toBe(sha(normalized));
  });

  it.each([
    ['no @', 'jane.example.com'],
    ['two @', 'a@b@c'],
    ['an @ at the end of the domain', 'a@b.com@'],
    ['gmail local part of dots only', '...@gmail.com'],
    ['gmail local part that starts with +', '+a.b@gmail.com'],
    ['domain of spaces only', 'a@   '],
    ['local part of spaces only', '   @x.com'],
  ])('%s is invalid', (_, input) => {
    expect(normalizeEmail(input)).toBeNull();
    expect(normalizeAndHashEmail(input)).toBeNull();
  });

  it('non-strings are invalid, never a hash of "undefined"', () => {
    for (const v of [undefined, null, 42, {}, ['a@b.com']]) {
      expect(normalizeEmail(v as unknown as string)).toBeNull();
      expect(normalizeAndHashEmail(v as unknown as string)).toBeNull();
    }
  });

  it('an unpaired surrogate is hashed as Java encodes it (?), not as U+FFFD', () => {
    const email = 'a\ud800b@x.com';
    expect(normalizeEmail(email)).toBe(email);
    expect(normalizeAndHashEmail(email)).toBe(sha('a?b@x.com'));
    expect(normalizeAndHashEmail('a\udc00\ud83d\ude0a@x.com')).toBe(sha('a?\u{1F60A}@x.com'));
  });

  it('matches a character-by-character transcription of the operator (property)', () => {
    const char = fc.constantFrom('a', 'B', 'z', 'Z', '.', '+', '@', ' ', '\t', 'é', 'É', '\u212A', '\ud83d', '\ude0a', 'g', 'm', 'i', 'l', 'c', 'o');
    const tail = fc.constantFrom('', '@gmail.com', '@GMail.Com ', '@x.com', '  ', '@gmail.com  ');
    fc.assert(
      fc.property(fc.array(char, { maxLength: 24 }), tail, (chars, end) => {
        const input = chars.join('') + end;
        const expected = referenceNormalizeEmail(input);
        expect(normalizeEmail(input)).toBe(expected);
        if (expected !== null) expect(normalizeAndHashEmail(input)).toBe(sha(expected.replace(/[\ud800-\udfff]/g, (c, i: number, s: string) => {
          const code = c.charCodeAt(0);
          const paired = code < 0xdc00 ? /[\udc00-\udfff]/.test(s[i + 1] ?? '') : /[\ud800-\udbff]/.test(s[i - 1] ?? '');
          return paired ? c : '?';
        })));
      }),
      { numRuns: 3000 },
    );
  });
});

describe('phone numbers', () => {
  // uid2-operator InputNormalizationTest.
  const invalid = [
    '', 'asdaksjdakfj', 'DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs', 'QFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs',
    '06a418f467a14e1631a317b107548a1039d26f12ea45301ab14e7684b36ede58', '0C7E6A405862E402EB76A70F8A26FC732D07C32931E9FAE9AB1582911D2E8A3B',
    '+', '12345678', '123456789', '1234567890', '+12345678', '+123456789', '+ 12345678', '+ 123456789', '+ 1234 5678',
    '+ 1234 56789', '+1234567890123456', '+1234567890A', '+1234567890 ', '+1234567890+', '+12345+67890', '555-555-5555',
    '(555) 555-5555',
    // and a few more: non-ASCII digits, a leading space, a trailing newline
    '+１２３４５６７８９０', ' +1234567890', '+1234567890\n',
  ];
  it.each(invalid)('%j is not normalized', (phone) => {
    expect(isNormalizedPhone(phone)).toBe(false);
    expect(normalizeAndHashPhone(phone)).toBeNull();
  });
  const valid = ['+1234567890', '+12345678901', '+123456789012', '+1234567890123', '+12345678901234', '+123456789012345'];
  it.each(valid)('%j is normalized', (phone) => {
    expect(isNormalizedPhone(phone)).toBe(true);
    expect(normalizeAndHashPhone(phone)).toBe(sha(phone));
  });
  it('the documentation example hashes as documented', () => {
    expect(normalizeAndHashPhone('+12345678901')).toBe('EObwtHBUqDNZR33LNSMdtt5cafsYFuGmuY4ZLenlue4=');
  });
  it('non-strings are not phone numbers', () => {
    expect(isNormalizedPhone(12345678901 as unknown as string)).toBe(false);
    expect(normalizeAndHashPhone(null as unknown as string)).toBeNull();
  });
});

describe('normalizeHash', () => {
  // SHA-256 of foo@bar.com (uid2-operator InputNormalizationTest).
  const master = 'DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs=';
  it.each([master, '0C7E6A405862E402EB76A70F8A26FC732D07C32931E9FAE9AB1582911D2E8A3B', '0c7e6a405862e402eb76a70f8a26fc732d07c32931e9fae9ab1582911d2e8a3b', '0C7e6A405862e402EB76a70f8A26fc732d07c32931E9FAE9AB1582911D2E8A3B'])(
    '%j -> base64',
    (input) => expect(normalizeHash(input)).toBe(master),
  );
  it('base64 with stray low bits in the last character is read as the operator reads it', () => {
    // 't' differs from 's' only in bits that carry no data.
    expect(normalizeHash('DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijt=')).toBe(master);
  });
  it.each([
    // the operator's invalid forms
    '', 'asdaksjdakfj', 'DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs', 'QFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs',
    '0Z7E6A405862E402EB76A70F8A26FC732D07C32931E9FAE9AB1582911D2E8A3B', '0C7E6A405862E402EB76A70F8A26FC732D07C32931E9FAE9AB1582911D2E8A3B00',
    '000C7E6A405862E402EB76A70F8A26FC732D07C32931E9FAE9AB1582911D2E8A3B',
    // base64url, whitespace, 31 or 33 bytes in 44 characters, padding in the middle
    'DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs-', 'DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0u_js=', ' DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs',
    'DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uij==', 'DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijsA', 'DH5qQFhi5ALrdqcP=ib8cy0Hwykx6frpqxWCkR0uijs=',
    'DH5qQFhi5ALrdqcPiib8cy0Hwykx6frpqxWCkR0uijs=\n',
  ])('%j is refused', (input) => expect(normalizeHash(input)).toBeNull());
  it('non-strings are refused', () => expect(normalizeHash(undefined as unknown as string)).toBeNull());
});
