/** A deterministic stream of uniform numbers in [0, 1) (xorshift32), so a failing test fails the same way again. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

/** The bit patterns of floats, so that -0 against 0 or a NaN payload counts as a difference. */
export const floatBits = (values: Float32Array) => new Uint32Array(values.buffer, values.byteOffset, values.length);
