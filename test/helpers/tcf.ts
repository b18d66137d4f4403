/**
 * Builds TCF v2 core strings for tests of EUID consent checks, bit by bit from the IAB layout
 * (independent of src/operator/tcf-consent.ts, which reads them).
 */
export interface TcfFields {
  version?: number;
  purposesConsent: number[];
  purposesLI: number[];
  vendorConsent: number[];
  vendorLI: number[];
  /** Encode the vendor sections as ranges instead of bit fields. */
  ranges?: boolean;
}

export function tcfString(f: TcfFields): string {
  const bits: number[] = [];
  const put = (value: number, n: number): void => {
    for (let i = n - 1; i >= 0; i--) bits.push(Math.floor(value / 2 ** i) % 2);
  };
  put(f.version ?? 2, 6);
  put(17_000_000_000, 36); // created (deciseconds)
  put(17_000_000_000, 36); // last updated
  put(7, 12); // cmp id
  put(1, 12); // cmp version
  put(0, 6); // consent screen
  put(4 * 26 * 64 + 13 * 64, 12); // language "EN"-ish
  put(100, 12); // vendor list version
  put(2, 6); // policy version
  put(0, 1); // service specific
  put(0, 1); // non-standard texts
  put(0, 12); // special features
  for (let p = 1; p <= 24; p++) put(f.purposesConsent.includes(p) ? 1 : 0, 1);
  for (let p = 1; p <= 24; p++) put(f.purposesLI.includes(p) ? 1 : 0, 1);
  put(0, 1); // purpose one treatment
  put(0, 12); // publisher country
  for (const vendors of [f.vendorConsent, f.vendorLI]) {
    const max = Math.max(0, ...vendors);
    put(max, 16);
    if (f.ranges) {
      put(1, 1);
      put(vendors.length, 12);
      for (const v of vendors) {
        put(0, 1);
        put(v, 16);
      }
    } else {
      put(0, 1);
      for (let v = 1; v <= max; v++) put(vendors.includes(v) ? 1 : 0, 1);
    }
  }
  put(0, 12); // no publisher restrictions
  while (bits.length % 8) bits.push(0);
  const bytes = Buffer.alloc(bits.length / 8);
  bits.forEach((b, i) => {
    if (b) bytes[i >> 3]! |= 0x80 >> (i & 7);
  });
  return bytes.toString('base64url');
}
