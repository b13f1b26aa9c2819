/** Hamming distance over byte strings: no strings or BigInt on this path. */

export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** popcount(a XOR b) for two equal-length byte arrays. */
export function hammingDistance(a: Uint8Array, b: Uint8Array): number {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`hash lengths differ: ${n} and ${b.length} bytes`);
  let d = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const x =
      ((a[i] ^ b[i]) << 24) | ((a[i + 1] ^ b[i + 1]) << 16) | ((a[i + 2] ^ b[i + 2]) << 8) | (a[i + 3] ^ b[i + 3]);
    d += popcount32(x);
  }
  for (; i < n; i++) d += popcount32(a[i] ^ b[i]);
  return d;
}

/** Whether hammingDistance(a, b) <= max, giving up at the first word that takes it past: most pairs of hashes differ in half their bits. */
export function withinDistance(a: Uint8Array, b: Uint8Array, max: number): boolean {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`hash lengths differ: ${n} and ${b.length} bytes`);
  let d = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    d += popcount32(((a[i] ^ b[i]) << 24) | ((a[i + 1] ^ b[i + 1]) << 16) | ((a[i + 2] ^ b[i + 2]) << 8) | (a[i + 3] ^ b[i + 3]));
    if (d > max) return false;
  }
  for (; i < n; i++) d += popcount32(a[i] ^ b[i]);
  return d <= max;
}
