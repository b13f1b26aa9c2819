/**
 * Stable LSD radix sort of `values` by `keys` (keys below 2^bits), in passes
 * of at most 12 bits so each pass's histogram stays in L1 cache: a counting
 * sort straight over millions of buckets misses cache on every element.
 * `scratchKeys` and `scratchValues` (same length) take turns with the inputs;
 * the result is in whichever pair is returned.
 */
/** Passes radixSortPairs makes for keys of `bits` bits: an even count leaves the result in the inputs. */
export function radixPasses(bits: number): number {
  return Math.max(1, Math.ceil(bits / 12));
}

export function radixSortPairs(
  keys: Uint32Array,
  values: Uint32Array,
  bits: number,
  scratchKeys: Uint32Array,
  scratchValues: Uint32Array,
): { keys: Uint32Array; values: Uint32Array } {
  const n = keys.length;
  const passes = radixPasses(bits);
  const digitBits = Math.ceil(bits / passes);
  const digitMask = (1 << digitBits) - 1;
  const counts = new Uint32Array(1 << digitBits);
  let fromKeys = keys, fromValues = values, toKeys = scratchKeys, toValues = scratchValues;
  for (let pass = 0, shift = 0; pass < passes; pass++, shift += digitBits) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(fromKeys[i] >>> shift) & digitMask]++;
    let sum = 0;
    for (let d = 0; d <= digitMask; d++) {
      const c = counts[d];
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const key = fromKeys[i];
      const at = counts[(key >>> shift) & digitMask]++;
      toKeys[at] = key;
      toValues[at] = fromValues[i];
    }
    [fromKeys, toKeys] = [toKeys, fromKeys];
    [fromValues, toValues] = [toValues, fromValues];
  }
  return { keys: fromKeys, values: fromValues };
}
