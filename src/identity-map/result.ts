/**
 * The answer of `generateIdentityMap`: one outcome per identity, in the caller's four lists and
 * order (duplicates included), and the same outcomes keyed by the caller's input text, as the
 * official SDKs return them. The maps are built on first use: bulk callers read the lists.
 */
import { INPUT_KINDS, type CheckedInput } from './batches.js';
import type { IdentityMapOutcome, MappedIdentity, UnmappedIdentity } from './outcome.js';

export class IdentityMapV3Response {
  /** `emails[i]` is the outcome of `input.emails[i]` (empty when no emails were given). */
  readonly emails: readonly IdentityMapOutcome[];
  readonly phones: readonly IdentityMapOutcome[];
  readonly emailHashes: readonly IdentityMapOutcome[];
  readonly phoneHashes: readonly IdentityMapOutcome[];
  readonly #input: CheckedInput;
  #mapped: Map<string, MappedIdentity> | undefined;
  #unmapped: Map<string, UnmappedIdentity> | undefined;

  /** @param outcomes one per identity, in the flat order of batches.ts */
  constructor(input: CheckedInput, outcomes: readonly IdentityMapOutcome[]) {
    this.#input = input;
    let start = 0;
    const lists = INPUT_KINDS.map((kind) => outcomes.slice(start, (start += input[kind.key].length)));
    [this.emails, this.phones, this.emailHashes, this.phoneHashes] = lists as [IdentityMapOutcome[], IdentityMapOutcome[], IdentityMapOutcome[], IdentityMapOutcome[]];
  }

  /** Mapped identities keyed by the input as given, in the caller's order (emails, phones, emailHashes, phoneHashes). */
  get mapped(): ReadonlyMap<string, MappedIdentity> {
    if (!this.#mapped) this.#split();
    return this.#mapped!;
  }

  /** Unmapped identities (opted out, invalid, unknown reason) keyed by the input as given. */
  get unmapped(): ReadonlyMap<string, UnmappedIdentity> {
    if (!this.#unmapped) this.#split();
    return this.#unmapped!;
  }

  #split(): void {
    const mapped = new Map<string, MappedIdentity>();
    const unmapped = new Map<string, UnmappedIdentity>();
    const lists = [this.emails, this.phones, this.emailHashes, this.phoneHashes];
    INPUT_KINDS.forEach((kind, k) => {
      const identities = this.#input[kind.key];
      const outcomes = lists[k]!;
      for (let i = 0; i < identities.length; i++) {
        const outcome = outcomes[i]!;
        if (outcome.status === 'mapped') mapped.set(identities[i]!, outcome);
        else unmapped.set(identities[i]!, outcome);
      }
    });
    this.#mapped = mapped;
    this.#unmapped = unmapped;
  }
}
