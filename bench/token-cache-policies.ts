/**
 * Which eviction policy the token cache should use, measured rather than assumed: LRU, SIEVE and
 * W-TinyLFU replayed over the same token streams (the bench's Zipf corpora) at several cache
 * sizes. Each policy here is a small, readable model over token strings (Map-based), good for hit
 * ratios; the ns/access it prints is the model's, a rough guide to each policy's hit-path work
 * (LRU relinks on every hit, SIEVE sets a bit, W-TinyLFU also hashes the token for its sketch).
 */

/** One access: the token text, and whether the cache would keep it (both layers decrypted). */
export interface Access {
  token: string;
  cacheable: boolean;
}

interface Policy {
  /** True on a hit; on a miss, inserts the token when `cacheable`. */
  access(token: string, cacheable: boolean): boolean;
}

class Lru implements Policy {
  readonly #map = new Map<string, true>();
  constructor(readonly capacity: number) {}
  access(token: string, cacheable: boolean): boolean {
    if (this.#map.delete(token)) {
      this.#map.set(token, true);
      return true;
    }
    if (!cacheable) return false;
    if (this.#map.size >= this.capacity) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(token, true);
    return false;
  }
}

interface SieveNode {
  token: string;
  visited: boolean;
  newer: SieveNode | null;
  older: SieveNode | null;
}

class Sieve implements Policy {
  readonly #map = new Map<string, SieveNode>();
  #newest: SieveNode | null = null;
  #oldest: SieveNode | null = null;
  #hand: SieveNode | null = null;
  constructor(readonly capacity: number) {}
  access(token: string, cacheable: boolean): boolean {
    const node = this.#map.get(token);
    if (node) {
      node.visited = true;
      return true;
    }
    if (!cacheable) return false;
    if (this.#map.size >= this.capacity) this.#evict();
    const fresh: SieveNode = { token, visited: false, newer: null, older: this.#newest };
    if (this.#newest) this.#newest.newer = fresh;
    this.#newest = fresh;
    this.#oldest ??= fresh;
    this.#map.set(token, fresh);
    return false;
  }
  #evict(): void {
    let node = this.#hand ?? this.#oldest!;
    while (node.visited) {
      node.visited = false;
      node = node.newer ?? this.#oldest!;
    }
    this.#hand = node.newer;
    if (node.newer) node.newer.older = node.older;
    else this.#newest = node.older;
    if (node.older) node.older.newer = node.newer;
    else this.#oldest = node.newer;
    this.#map.delete(node.token);
  }
}

/** Count-min sketch of 4-bit counters, halved every `10 x capacity` increments (TinyLFU aging). */
class FrequencySketch {
  readonly #rows: Uint8Array[];
  readonly #mask: number;
  readonly #resetAt: number;
  #samples = 0;
  constructor(capacity: number) {
    let width = 16;
    while (width < capacity) width *= 2;
    this.#mask = width - 1;
    this.#rows = Array.from({ length: 4 }, () => new Uint8Array(width));
    this.#resetAt = 10 * capacity;
  }
  static hash(token: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 0x01000193);
    return h >>> 0;
  }
  #index(hash: number, row: number): number {
    return (Math.imul(hash, [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f][row]!) >>> 16 ^ hash) & this.#mask;
  }
  increment(hash: number): void {
    for (let r = 0; r < 4; r++) {
      const i = this.#index(hash, r);
      if (this.#rows[r]![i]! < 15) this.#rows[r]![i]!++;
    }
    if (++this.#samples >= this.#resetAt) {
      for (const row of this.#rows) for (let i = 0; i < row.length; i++) row[i] = row[i]! >> 1;
      this.#samples /= 2;
    }
  }
  frequency(hash: number): number {
    let min = 15;
    for (let r = 0; r < 4; r++) min = Math.min(min, this.#rows[r]![this.#index(hash, r)]!);
    return min;
  }
}

/** W-TinyLFU (Einziger et al.): a 1% LRU window, then an SLRU main space behind a frequency filter. */
class WTinyLfu implements Policy {
  readonly #window = new Map<string, number>();
  readonly #probation = new Map<string, number>();
  readonly #protected = new Map<string, number>();
  readonly #sketch: FrequencySketch;
  readonly #windowSize: number;
  readonly #protectedSize: number;
  readonly #mainSize: number;
  constructor(capacity: number) {
    this.#windowSize = Math.max(1, Math.floor(capacity / 100));
    this.#mainSize = Math.max(1, capacity - this.#windowSize);
    this.#protectedSize = Math.floor(this.#mainSize * 0.8);
    this.#sketch = new FrequencySketch(capacity);
  }
  access(token: string, cacheable: boolean): boolean {
    const hash = FrequencySketch.hash(token);
    this.#sketch.increment(hash);
    if (this.#window.delete(token)) {
      this.#window.set(token, hash);
      return true;
    }
    if (this.#protected.delete(token)) {
      this.#protected.set(token, hash);
      return true;
    }
    if (this.#probation.delete(token)) {
      this.#protected.set(token, hash);
      if (this.#protected.size > this.#protectedSize) {
        const [demoted, h] = this.#protected.entries().next().value!;
        this.#protected.delete(demoted);
        this.#probation.set(demoted, h);
      }
      return true;
    }
    if (!cacheable) return false;
    this.#window.set(token, hash);
    if (this.#window.size <= this.#windowSize) return false;
    const [candidate, candidateHash] = this.#window.entries().next().value!;
    this.#window.delete(candidate);
    if (this.#probation.size + this.#protected.size < this.#mainSize) {
      this.#probation.set(candidate, candidateHash);
      return false;
    }
    const victims = this.#probation.size > 0 ? this.#probation : this.#protected;
    const [victim, victimHash] = victims.entries().next().value!;
    if (this.#sketch.frequency(candidateHash) > this.#sketch.frequency(victimHash)) {
      victims.delete(victim);
      this.#probation.set(candidate, candidateHash);
    }
    return false;
  }
}

export const POLICIES = {
  LRU: (capacity: number): Policy => new Lru(capacity),
  SIEVE: (capacity: number): Policy => new Sieve(capacity),
  'W-TinyLFU': (capacity: number): Policy => new WTinyLfu(capacity),
} as const;

export interface PolicyRow {
  corpus: string;
  capacity: number;
  policy: string;
  hitRatio: number;
  nsPerAccess: number;
}

/** Hit ratio of every policy at every capacity over `stream`, plus the unbounded cache's. */
export function replayPolicies(corpus: string, stream: readonly Access[], capacities: readonly number[]): PolicyRow[] {
  const rows: PolicyRow[] = [];
  const seen = new Set<string>();
  let unbounded = 0;
  for (const a of stream) {
    if (seen.has(a.token)) unbounded++;
    else if (a.cacheable) seen.add(a.token);
  }
  rows.push({ corpus, capacity: Number.POSITIVE_INFINITY, policy: 'unbounded', hitRatio: unbounded / stream.length, nsPerAccess: 0 });
  for (const capacity of capacities) {
    for (const [name, make] of Object.entries(POLICIES)) {
      const policy = make(capacity);
      let hits = 0;
      const started = process.hrtime.bigint();
      for (const a of stream) if (policy.access(a.token, a.cacheable)) hits++;
      const ns = Number(process.hrtime.bigint() - started);
      rows.push({ corpus, capacity, policy: name, hitRatio: hits / stream.length, nsPerAccess: ns / stream.length });
    }
  }
  return rows;
}
