/**
 * The engine's keys: one key feed (single scope) or one per scope (UID2 and EUID, a dual-scope
 * engine), published together as versioned snapshots, and the key set each token is judged by.
 *
 * Every change of any feed makes a new version. Its snapshot (PublishedSnapshot) carries each
 * feed's key-set snapshot buffer (keys/key-set.ts snapshotOf: encoded once per key set, off the
 * main thread for a worker-refreshed set), fully written before any batch can name it; batches
 * capture the one in force when they are cut, so each uses exactly one, and a refresh of one scope
 * leaves the other's buffer (and the workers' prepared contexts for it) as they were.
 *
 * A dual-scope engine routes each token to the key set of the scope its header names
 * (token/scope.ts identityScopeOf: EUID for a v3/v4 EUID prefix, UID2 otherwise); the workers and
 * the addon route their batches with the same rule, so every path judges a token by the same set.
 */
import { snapshotOf, type KeySet } from '../keys/key-set.js';
import type { Logger } from '../observability/logger.js';
import { identityScopeOf } from '../token/scope.js';
import type { IdentityScope } from '../types.js';
import { KeyFeed } from './key-feed.js';
import type { PublishedSnapshot } from './pool/dispatcher.js';

export class EngineKeys {
  /** Single scope: the engine's one feed. Dual scope: UID2's. */
  readonly main: KeyFeed;
  /** Dual scope only: EUID's. */
  readonly euid: KeyFeed | undefined;
  #version: number;
  #snapshot: PublishedSnapshot | null = null;

  constructor(dual: boolean, logger: Logger) {
    const changed = (): void => {
      this.#version++;
      this.#snapshot = null;
    };
    this.main = new KeyFeed(changed, logger, dual ? 'UID2' : undefined);
    this.euid = dual ? new KeyFeed(changed, logger, 'EUID') : undefined;
    // A dual-scope engine always has a snapshot, even before any keys: its batches must still be
    // routed, so that each scope's tokens answer NotInitialized (and are counted) as that scope's.
    this.#version = dual ? 1 : 0;
  }

  get dual(): boolean {
    return this.euid !== undefined;
  }

  /** The feed of `scope` (dual scope), or undefined when the engine has none for it. */
  feed(scope: IdentityScope): KeyFeed | undefined {
    return this.euid === undefined ? undefined : scope === 'EUID' ? this.euid : this.main;
  }

  /** Single scope: the key set in force. Dual scope: UID2's. */
  get keySet(): KeySet | undefined {
    return this.main.keySet;
  }

  /**
   * Which key set judges `token`: 1 for EUID's in a dual-scope engine, else 0 (the engine's, or
   * UID2's); a single-scope engine never reads the token. The index of stats' per-scope counts too.
   */
  scopeOf(token: unknown): 0 | 1 {
    return this.euid !== undefined && identityScopeOf(token) === 'EUID' ? 1 : 0;
  }

  /** The key set in force at scopeOf()'s index. */
  keySetAt(scope: 0 | 1): KeySet | undefined {
    return scope === 0 ? this.main.keySet : this.euid!.keySet;
  }

  /**
   * The snapshot new batches use (null while a single-scope engine has no keys), encoded on first
   * use after a change (an engine that never batches, e.g. with threads: 0, never pays for it).
   */
  get snapshot(): PublishedSnapshot | null {
    if (this.#snapshot !== null || this.#version === 0) return this.#snapshot;
    const main = this.main.keySet;
    const sab = main === undefined ? null : snapshotOf(main);
    if (this.euid === undefined) this.#snapshot = { version: this.#version, sab, keySet: main };
    else {
      const euid = this.euid.keySet;
      this.#snapshot = { version: this.#version, sab, keySet: main, euidSab: euid === undefined ? null : snapshotOf(euid), euidKeySet: euid };
    }
    return this.#snapshot;
  }

  get version(): number {
    return this.#version;
  }

  close(): void {
    this.main.close();
    this.euid?.close();
  }
}
