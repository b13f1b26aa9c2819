/** Hamming distance over byte strings: no strings or BigInt on this path. */

export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Bits that differ in bytes i..i+3 of a and b. */
function wordDistance(a: Uint8Array, b: Uint8Array, i: number): number {
  return popcount32(((a[i] ^ b[i]) << 24) | ((a[i + 1] ^ b[i + 1]) << 16) | ((a[i + 2] ^ b[i + 2]) << 8) | (a[i + 3] ^ b[i + 3]));
}

function checkLengths(a: Uint8Array, b: Uint8Array): void {
  if (b.length !== a.length) throw new RangeError(`hash lengths differ: ${a.length} and ${b.length} bytes`);
}

/** popcount(a XOR b) for two equal-length byte arrays. */
export function hammingDistance(a: Uint8Array, b: Uint8Array): number {
  checkLengths(a, b);
  const n = a.length;
  let d = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) d += wordDistance(a, b, i);
  for (; i < n; i++) d += popcount32(a[i] ^ b[i]);
  return d;
}

/** Whether hammingDistance(a, b) <= max, giving up at the first word that takes it past: most pairs of hashes differ in half their bits. */
export function withinDistance(a: Uint8Array, b: Uint8Array, max: number): boolean {
  checkLengths(a, b);
  const n = a.length;
  let d = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    d += wordDistance(a, b, i);
    if (d > max) return false;
  }
  for (; i < n; i++) d += popcount32(a[i] ^ b[i]);
  return d <= max;
}
