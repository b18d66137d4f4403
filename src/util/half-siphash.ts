/**
 * HalfSipHash-1-3 (Aumasson and Bernstein's SipHash on 32-bit words, reference in
 * github.com/veorq/SipHash; with 1 compression and 3 finalization rounds, the Linux kernel's
 * `hsiphash` on 32-bit machines) of a 12-byte message given as three little-endian words, with
 * a 64-bit key and a 32-bit result.
 *
 * Why this hash: a hash table whose entries come from hostile senders needs a keyed pseudo-random
 * function, so that without the key nobody can pick inputs that share a bucket (hash flooding).
 * SipHash is the construction made for exactly that and the one Python, Rust and the Linux kernel
 * use for their tables. The half (32-bit) variant with 1-3 rounds is what the Linux kernel offers
 * as hsiphash for hash tables whose outputs an attacker never sees (Rust and Python also settled
 * on 1-3 rounds for their tables): its words are JavaScript's fast integers, where 64-bit SipHash
 * would need BigInt or carry emulation, and it runs on every opt-out check of every decryption
 * (7 SipRounds here against 12 for the reference 2-4). Only the table's timing is visible from
 * outside, never a hash value, so a 64-bit key is far beyond what a sender can search.
 */

const INIT_V2 = 0x6c796765;
const INIT_V3 = 0x74656462;
/** The final block of a 12-byte message: its length in the top byte, no leftover bytes. */
const LENGTH_BLOCK_12 = 12 << 24;

/**
 * HalfSipHash-1-3 of the 12 bytes `w0 | w1 | w2` (each little-endian) under key `k0 | k1`, as a
 * uint32. Unrolled: one SipRound per message block (the three words, then the length block),
 * then three; each SipRound is the reference's four lines of add, rotate, xor.
 */
export function halfSipHash12(k0: number, k1: number, w0: number, w1: number, w2: number): number {
  let v0 = k0 | 0;
  let v1 = k1 | 0;
  let v2 = INIT_V2 ^ k0;
  let v3 = INIT_V3 ^ k1;
  v3 ^= w0;
  v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
  v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
  v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
  v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  v0 ^= w0;
  v3 ^= w1;
  v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
  v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
  v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
  v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  v0 ^= w1;
  v3 ^= w2;
  v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
  v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
  v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
  v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  v0 ^= w2;
  v3 ^= LENGTH_BLOCK_12;
  v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
  v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
  v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
  v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  v0 ^= LENGTH_BLOCK_12;
  v2 ^= 0xff;
  v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
  v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
  v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
  v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
  v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
  v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
  v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  v0 = (v0 + v1) | 0; v1 = (v1 << 5) | (v1 >>> 27); v1 ^= v0; v0 = (v0 << 16) | (v0 >>> 16);
  v2 = (v2 + v3) | 0; v3 = (v3 << 8) | (v3 >>> 24); v3 ^= v2;
  v0 = (v0 + v3) | 0; v3 = (v3 << 7) | (v3 >>> 25); v3 ^= v0;
  v2 = (v2 + v1) | 0; v1 = (v1 << 13) | (v1 >>> 19); v1 ^= v2; v2 = (v2 << 16) | (v2 >>> 16);
  return (v1 ^ v3) >>> 0;
}
