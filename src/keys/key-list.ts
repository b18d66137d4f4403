/**
 * The key-list form of a key set: what `parseKeys()` builds on the calling thread, maps over the
 * parsed Key objects. (The other form, read in place from shared memory, is keys/snapshot.ts.)
 */
import { activePosition, groupByKeyset, type Key, type KeyIndex } from './key.js';

/** The key-list form of a key set: maps over the parsed keys. */
export class KeyList implements KeyIndex {
  readonly size: number;
  readonly latestKeyExpiryMs: number;
  readonly #keys: readonly Key[];
  readonly #byId = new Map<number, Key>();
  /** Per keyset, its keys sorted by activation time (for active-key binary search). */
  readonly #byKeyset = new Map<number, readonly Key[]>();
  readonly #siteData: ReadonlyMap<number, readonly string[]>;
  /** Per site, its allowed domain and app names, lower-cased. */
  readonly #domainsBySite = new Map<number, ReadonlySet<string>>();

  constructor(keys: readonly Key[], siteData: ReadonlyMap<number, readonly string[]>) {
    this.#keys = Object.freeze([...keys]);
    this.size = keys.length;
    let latest = -Infinity;
    for (const key of keys) {
      this.#byId.set(key.id, key);
      if (key.expires * 1000 > latest) latest = key.expires * 1000;
    }
    this.latestKeyExpiryMs = latest;
    for (const [keysetId, indexes] of groupByKeyset(keys)) this.#byKeyset.set(keysetId, indexes.map((i) => keys[i]!));
    this.#siteData = siteData;
    for (const [siteId, names] of siteData) {
      this.#domainsBySite.set(siteId, new Set(names.map((n) => n.toLowerCase())));
    }
  }

  get keysetCount(): number {
    return this.#byKeyset.size;
  }

  get siteCount(): number {
    return this.#siteData.size;
  }

  keys(): readonly Key[] {
    return this.#keys;
  }

  getKey(id: number): Key | undefined {
    return this.#byId.get(id);
  }

  keysetIds(): number[] {
    return [...this.#byKeyset.keys()];
  }

  getActiveKey(keysetId: number, nowMs: number): Key | undefined {
    const list = this.#byKeyset.get(keysetId);
    if (!list) return undefined;
    const at = activePosition(list.length, (i) => list[i]!.activates, (i) => list[i]!.expires, nowMs);
    return at < 0 ? undefined : list[at];
  }

  siteIds(): number[] {
    return [...this.#siteData.keys()];
  }

  getDomainNames(siteId: number): readonly string[] | undefined {
    return this.#siteData.get(siteId);
  }

  isDomainOrAppNameAllowed(siteId: number, domainOrAppName: string): boolean {
    const names = this.#domainsBySite.get(siteId);
    return names !== undefined && names.has(domainOrAppName.toLowerCase());
  }
}
