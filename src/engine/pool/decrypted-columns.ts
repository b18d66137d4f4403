/**
 * What decryptColumns() answers: one typed array per result field, row i for input token i, as
 * the workers wrote them (engine/wire/columns.ts), and accessors that build one DecryptionResult
 * (equal to decryptBatch()'s, field for field) or one raw UID string on demand. Nothing is built
 * for a row until it is asked for.
 */
import { InvalidArgumentError } from '../../errors.js';
import { STATUS_BY_CODE, SUCCESS_CODE, checkedResult, failure, identityTypeOf } from '../../token/result.js';
import type { AdvertisingTokenVersion, DecryptionResult, DecryptionStatus } from '../../types.js';
import { COLUMN_CLIENT_SIDE_GENERATED, COLUMN_DECODED, COLUMN_OPTED_OUT, type ColumnViews } from '../wire/columns.js';

export class DecryptedColumns {
  /** Rows: one per input token, in input order. */
  readonly length: number;
  /** Status code of each row: `DecryptedColumns.STATUSES[code]` is its DecryptionStatus. */
  readonly status: Uint8Array;
  /** Token version (2, 3 or 4); 0 where the token did not decrypt. */
  readonly version: Uint8Array;
  /** Identity type: 0 none (v2, or not decrypted), 1 Email, 2 Phone. */
  readonly identityType: Uint8Array;
  /** COLUMN_* bits (`DecryptedColumns.FLAG_*`): client-side generated, decrypted, opted out. */
  readonly flags: Uint8Array;
  /** Site id; 0 where the token did not decrypt. */
  readonly siteId: Int32Array;
  /** The site of the key that encrypted the inner layer (DecryptionResult.siteKeySiteId); 0 where the token did not decrypt. */
  readonly siteKeySiteId: Float64Array;
  /** Established and expiry times, Unix ms; 0 where the token did not decrypt. */
  readonly established: Float64Array;
  readonly expiry: Float64Array;
  /**
   * Raw UID of row i: `uidBytes[uidOffset[i] .. uidOffset[i] + uidLength[i])` (v3/v4: the raw
   * bytes; v2: the identity's UTF-8 text). Length 0 unless Success, and for an opted-out UID
   * withheld by the engine's opt-out check (its bytes are zeroed).
   */
  readonly uidOffset: Uint32Array;
  readonly uidLength: Uint16Array;
  readonly uidBytes: Buffer;
  readonly #optOutChecked: boolean;
  readonly #uidWithheld: boolean;

  /** Status codes: the index into this list is the code in `status`. */
  static readonly STATUSES: readonly DecryptionStatus[] = STATUS_BY_CODE;
  static readonly FLAG_CLIENT_SIDE_GENERATED = COLUMN_CLIENT_SIDE_GENERATED;
  static readonly FLAG_DECODED = COLUMN_DECODED;
  static readonly FLAG_OPTED_OUT = COLUMN_OPTED_OUT;

  /** @internal built by the engine */
  constructor(views: ColumnViews, uidBytes: Buffer, optOut: { checked: boolean; returnUid: boolean }) {
    this.length = views.rows;
    this.status = views.status;
    this.version = views.version;
    this.identityType = views.identityType;
    this.flags = views.flags;
    this.siteId = views.siteId;
    this.siteKeySiteId = views.siteKeySiteId;
    this.established = views.established;
    this.expiry = views.expiry;
    this.uidOffset = views.uidOffset;
    this.uidLength = views.uidLength;
    this.uidBytes = uidBytes;
    this.#optOutChecked = optOut.checked;
    this.#uidWithheld = optOut.checked && !optOut.returnUid;
  }

  /**
   * Row `i` as a DecryptionResult, equal to what decryptBatch() answers for the same token.
   * @throws InvalidArgumentError when `i` is not a row index
   */
  result(i: number): DecryptionResult {
    this.#check(i);
    const flags = this.flags[i]!;
    let result: DecryptionResult;
    if ((flags & COLUMN_DECODED) === 0) {
      result = { ...failure(STATUS_BY_CODE[this.status[i]!]!) };
    } else {
      result = checkedResult(
        STATUS_BY_CODE[this.status[i]!]!,
        this.version[i]! as AdvertisingTokenVersion,
        identityTypeOf(this.identityType[i]!),
        (flags & COLUMN_CLIENT_SIDE_GENERATED) !== 0,
        this.siteId[i]!,
        this.siteKeySiteId[i]!,
        this.established[i]!,
        this.expiry[i]!,
        this.#uidText(i),
      );
    }
    if (this.#optOutChecked) result.optedOut = (flags & COLUMN_OPTED_OUT) !== 0;
    return result;
  }

  /**
   * Row `i`'s raw UID as DecryptionResult.uid shows it (base64 for v3/v4, the identity for v2), or
   * undefined unless Success (and for an opted-out UID the opt-out check withheld).
   * @throws InvalidArgumentError when `i` is not a row index
   */
  uid(i: number): string | undefined {
    this.#check(i);
    return this.#uidText(i);
  }

  #uidText(i: number): string | undefined {
    if (this.status[i] !== SUCCESS_CODE) return undefined;
    if (this.#uidWithheld && (this.flags[i]! & COLUMN_OPTED_OUT) !== 0) return undefined;
    const off = this.uidOffset[i]!;
    const end = off + this.uidLength[i]!;
    return this.version[i] === 2 ? this.uidBytes.toString('utf8', off, end) : this.uidBytes.toString('base64', off, end);
  }

  #check(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new InvalidArgumentError(`row must be an integer from 0 to ${this.length - 1} (got ${String(i)})`);
    }
  }
}
