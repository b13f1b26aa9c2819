/**
 * Byte sums over ranges of raster rows in WebAssembly SIMD
 * (src/hashing/blockhash-sums.wat), for blockhash's block values; the JS
 * version is the fallback where WebAssembly SIMD is unavailable and the test
 * oracle. Integer sums, so both give the same numbers.
 */
import { BLOCKHASH_SUMS_WASM_BASE64 } from './blockhash-sums-wasm.js';

// The project's lib settings (ES2023, no DOM) carry no WebAssembly types; these are the few used.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: object };
}
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

const WASM_PAGE_BYTES = 65536;

function createWasmRangeSums(): RangeSums | null {
  const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  // atob rather than Buffer, as in pdq-core.ts: the hashing core also runs in browsers.
  const bytes = Uint8Array.from(atob(BLOCKHASH_SUMS_WASM_BASE64), (c) => c.charCodeAt(0));
  // validate() is false where the engine lacks SIMD.
  if (!wasmApi || !wasmApi.validate(bytes)) return null;
  const wasm = new wasmApi.Instance(new wasmApi.Module(bytes)).exports as SumsExports;
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
