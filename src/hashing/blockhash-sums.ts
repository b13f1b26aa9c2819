/**
 * Byte sums over ranges of raster rows in WebAssembly SIMD
 * (src/hashing/blockhash-sums.wat), for blockhash's block values; the JS
 * version is the fallback where WebAssembly SIMD is unavailable and the test
 * oracle. Integer sums, so both give the same numbers.
 */
import { BLOCKHASH_SUMS_WASM_BASE64 } from './blockhash-sums-wasm.js';
import { WASM_PAGE_BYTES, type WasmMemory, wasmInstantiator } from './wasm-api.js';

interface SumsExports {
  memory: WasmMemory;
  rangeSums(src: number, stride: number, rows: number, runs: number, nRuns: number, out: number): void;
}

/**
 * For `rows` rows of `stride` bytes from row `firstRow` of `data`, and each
 * range of a row given by `runs` (pairs of byte offset and length), the sum of
 * the bytes in the range: result[(y - firstRow) * runs / 2 + run]. The result
 * may be a view that the next call overwrites.
 */
export type RangeSums = (data: Uint8Array, stride: number, firstRow: number, rows: number, runs: Int32Array) => Int32Array;

/** Rows are handed over in pieces of about this many bytes, so memory stays small and the copy stays in cache. */
export const RANGE_SUMS_CHUNK_BYTES = 256 * 1024;

export const rangeSumsJs: RangeSums = (data, stride, firstRow, rows, runs) => {
  const nRuns = runs.length >> 1;
  const out = new Int32Array(rows * nRuns);
  for (let y = 0; y < rows; y++) {
    const row = (firstRow + y) * stride;
    for (let r = 0; r < nRuns; r++) {
      let sum = 0;
      for (let p = row + runs[2 * r], end = p + runs[2 * r + 1]; p < end; p++) sum += data[p];
      out[y * nRuns + r] = sum;
    }
  }
  return out;
};

function createWasmRangeSums(): RangeSums | null {
  const instantiate = wasmInstantiator(BLOCKHASH_SUMS_WASM_BASE64);
  if (!instantiate) return null;
  const wasm = instantiate() as SumsExports;
  return (data, stride, firstRow, rows, runs) => {
    const nRuns = runs.length >> 1;
    const runsAt = 0;
    const outAt = runs.byteLength;
    const pixelsAt = outAt + rows * nRuns * 4;
    const end = pixelsAt + rows * stride;
    const missing = end - wasm.memory.buffer.byteLength;
    if (missing > 0) wasm.memory.grow(Math.ceil(missing / WASM_PAGE_BYTES));
    const memory = wasm.memory.buffer;
    new Int32Array(memory, runsAt, runs.length).set(runs);
    new Uint8Array(memory).set(data.subarray(firstRow * stride, (firstRow + rows) * stride), pixelsAt);
    wasm.rangeSums(pixelsAt, stride, rows, runsAt, nRuns, outAt);
    return new Int32Array(memory, outAt, rows * nRuns);
  };
}

/** The WebAssembly version where available, else the JS one. */
export const rangeSums: RangeSums = createWasmRangeSums() ?? rangeSumsJs;
/** Whether rangeSums runs in WebAssembly (for tests and benches). */
export const rangeSumsInWasm = rangeSums !== rangeSumsJs;
