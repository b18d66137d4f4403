/**
 * The consent check EUID's token generation makes on a `tcf_consent_string` (uid2-operator
 * `TransparentConsent`, with the IAB's TCF v2 decoder): the vendor (21, the operator's default
 * `tcf_vendor_id`) must hold, through consent or legitimate interest, purposes 1, 2, 3, 4, 7
 * and 10. Purposes count under consent only when the vendor has consent, and under legitimate
 * interest only when the vendor has legitimate interest; together they must cover all six.
 *
 * Only the core segment of a TCF v2 string is read (base64url, up to the first `.`):
 *
 *   version:6 = 2 | created:36 | last_updated:36 | cmp_id:12 | cmp_version:12 | screen:6
 *   | language:12 | vendor_list_version:12 | policy_version:6 | service_specific:1
 *   | non_standard_texts:1 | special_features:12 | purposes_consent:24 | purposes_li:24
 *   | purpose_one_treatment:1 | publisher_cc:12 | vendor consent section | vendor LI section
 *   section := max_vendor_id:16 | is_range:1 | (bits:max_vendor_id | count:12 | (is_range:1 | start:16 | end:16?)*)
 *
 * TCF v1 strings (retired by the IAB in 2020) are refused as invalid.
 */
import { decodeBase64Strict } from '../codec/base64.js';

export const TCF_VENDOR_ID = 21;
const REQUIRED_PURPOSES = [1, 2, 3, 4, 7, 10];
const PURPOSES_CONSENT_AT = 152;
const PURPOSES_LI_AT = 176;
const VENDOR_CONSENT_AT = 213;

class BitReader {
  constructor(
    readonly bytes: Buffer,
    public at: number,
  ) {}

  /** Reads `n` bits (n <= 36) big-endian; past the end throws. */
  read(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++, this.at++) {
      const byte = this.bytes[this.at >> 3];
      if (byte === undefined) throw new RangeError('TCF string ends early');
      value = value * 2 + ((byte >> (7 - (this.at & 7))) & 1);
    }
    return value;
  }
}

/** Reads a vendor section and says whether `vendorId` is in it; the reader ends after it. */
function vendorSectionHas(reader: BitReader, vendorId: number): boolean {
  const maxVendorId = reader.read(16);
  if (reader.read(1) === 0) {
    let has = false;
    for (let id = 1; id <= maxVendorId; id++) if (reader.read(1) === 1 && id === vendorId) has = true;
    return has;
  }
  let has = false;
  for (let entries = reader.read(12); entries > 0; entries--) {
    const isRange = reader.read(1) === 1;
    const start = reader.read(16);
    const end = isRange ? reader.read(16) : start;
    if (vendorId >= start && vendorId <= end) has = true;
  }
  return has;
}

/** `sufficient`, `insufficient`, or `invalid` for a string that is not a readable TCF v2 core string. */
export function checkTcfConsent(consent: unknown): 'sufficient' | 'insufficient' | 'invalid' {
  if (typeof consent !== 'string' || consent === '') return 'invalid';
  const core = decodeBase64Strict(consent.split('.')[0]!, 'url');
  if (!core) return 'invalid';
  try {
    const reader = new BitReader(core, 0);
    if (reader.read(6) !== 2) return 'invalid';
    const purposes = (at: number): Set<number> => {
      reader.at = at;
      const set = new Set<number>();
      for (let p = 1; p <= 24; p++) if (reader.read(1) === 1) set.add(p);
      return set;
    };
    const consented = purposes(PURPOSES_CONSENT_AT);
    const legitimate = purposes(PURPOSES_LI_AT);
    reader.at = VENDOR_CONSENT_AT;
    const vendorConsent = vendorSectionHas(reader, TCF_VENDOR_ID);
    const vendorLegitimate = vendorSectionHas(reader, TCF_VENDOR_ID);
    const held = new Set([...(vendorConsent ? consented : []), ...(vendorLegitimate ? legitimate : [])]);
    return REQUIRED_PURPOSES.every((p) => held.has(p)) ? 'sufficient' : 'insufficient';
  } catch {
    return 'invalid';
  }
}
