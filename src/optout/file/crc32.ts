/**
 * CRC-32 (the zlib / IEEE 802.3 polynomial, the same values as `zlib.crc32`) of a range of a
 * buffer, in JS: `zlib.crc32` exists only from Node 20.15 (the package supports every Node 20),
 * and a native call would need a subarray per 44-byte record while loading 10M of them.
 */
const TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  TABLE[n] = c;
}

/** CRC-32 of `bytes[start .. end)`, unsigned. */
export function crc32Range(bytes: Uint8Array, start: number, end: number): number {
  let c = -1;
  for (let i = start; i < end; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
