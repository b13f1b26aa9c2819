/**
 * Stable LSD radix sort of `values` by `keys` (keys below 2^bits), in passes
 * of at most 12 bits so each pass's histogram stays in L1 cache: a counting
 * sort straight over millions of buckets misses cache on every element.
 * `scratchKeys` and `scratchValues` (same length) take turns with the inputs;
 * the result is in whichever pair is returned.
 */
export function radixSortPairs(
  keys: Uint32Array,
  values: Uint32Array,
  bits: number,
  scratchKeys: Uint32Array,
  scratchValues: Uint32Array,
): { keys: Uint32Array; values: Uint32Array } {
  const n = keys.length;
  const passes = Math.max(1, Math.ceil(bits / 12));
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

/**
 * Sorts slots 0..n-1 by their keys (below 2^bits, bits <= 26) into `slotsOut`,
 * leaving the sorted keys in `keys`: two LSD passes whose histograms are both
 * counted in one read of the keys, and whose first pass writes slot numbers
 * without reading them.
 */
export function sortSlotsByKey(keys: Uint32Array, bits: number, slotsOut: Uint32Array, scratchKeys: Uint32Array, scratchSlots: Uint32Array): void {
  const n = keys.length;
  const lowBits = bits >>> 1;
  const lowMask = (1 << lowBits) - 1;
  const low = new Uint32Array(1 << lowBits);
  const high = new Uint32Array(1 << (bits - lowBits));
  for (let i = 0; i < n; i++) {
    const key = keys[i];
    low[key & lowMask]++;
    high[key >>> lowBits]++;
  }
  exclusivePrefixSums(low);
  exclusivePrefixSums(high);
  for (let i = 0; i < n; i++) {
    const key = keys[i];
    const at = low[key & lowMask]++;
    scratchKeys[at] = key;
    scratchSlots[at] = i;
  }
  for (let i = 0; i < n; i++) {
    const key = scratchKeys[i];
    const at = high[key >>> lowBits]++;
    keys[at] = key;
    slotsOut[at] = scratchSlots[i];
  }
}

function exclusivePrefixSums(counts: Uint32Array): void {
  let sum = 0;
  for (let d = 0; d < counts.length; d++) {
    const c = counts[d];
    counts[d] = sum;
    sum += c;
  }
}
