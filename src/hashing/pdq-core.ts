/**
 * The PDQ luma, blur, decimation and DCT in WebAssembly SIMD
 * (src/hashing/pdq-core.wat), bit-identical to the JS versions in pdq.ts,
 * which stay the fallback where WebAssembly SIMD is unavailable.
 */
import { PDQ_CORE_WASM_BASE64 } from './pdq-core-wasm.js';
import { DCT_MATRIX } from './pdq-dct-matrix.js';
import type { Raster } from './signal-type.js';
import { WASM_PAGE_BYTES, type WasmMemory, wasmInstantiator } from './wasm-api.js';

interface CoreExports {
  memory: WasmMemory;
  luma(rows: number, columns: number, width: number, height: number, channels: number, out: number): void;
  blurAndDecimate(
    luma: number,
    width: number,
    height: number,
    imageA: number,
    imageB: number,
    columns: number,
    out: number,
    sums: number,
    rowSamples: number,
    colSamples: number,
  ): void;
  dct16(a: number, d: number, dT: number, t: number, b: number): void;
  gradientSum(a: number): number;
}

export interface PdqWasmCore {
  /**
   * pdqLuma's luma of the raster, sampled at `rows` (the source row of each
   * luma row, ascending) and `columnOffsets` (the byte offset in a source row of
   * each luma column), as pdqLumaSampling gives them, written where
   * pdqFromLuma expects it (see lumaBuffer). Null when the luma is under 4
   * columns wide or the sampled rows are too many bytes to copy in; pdqLuma
   * then does it.
   */
  luma(raster: Raster, rows: Int32Array, columnOffsets: Int32Array): Float32Array | null;
  /**
   * Where pdqFromLuma expects a width x height luma image in WebAssembly
   * memory: writing it here saves a copy. Valid until the next call into this
   * module with a larger image.
   */
  lumaBuffer(width: number, height: number): Float32Array;
  /** The 64 x 64 decimation of the tent-blurred luma, as blurAndDecimate in pdq.ts. */
  blurAndDecimate(luma: Float32Array, width: number, height: number): Float32Array;
  /** The 16 x 16 DCT block and the gradient sum of a 64 x 64 matrix, as dct16Js and gradientSumJs in pdq.ts. */
  transform(a: Float32Array): { dct: Float32Array; gradientSum: number };
}

/** Memory is sized for this side at load (the reference squashes larger images to it) and grows past it. */
const PDQ_MAX_SIDE = 512;
// Fixed addresses for the DCT: D, its transpose, the 64 x 64 input, T = D A, and B.
const DCT_D_ADDRESS = 0;
const DCT_D_TRANSPOSED_ADDRESS = DCT_D_ADDRESS + 16 * 64 * 4;
const DCT_INPUT_ADDRESS = DCT_D_TRANSPOSED_ADDRESS + 64 * 16 * 4;
const DCT_T_ADDRESS = DCT_INPUT_ADDRESS + 64 * 64 * 4;
const DCT_B_ADDRESS = DCT_T_ADDRESS + 16 * 64 * 4;
/** The luma's address is fixed too, so lumaBuffer and blurAndDecimate agree on it for any size. */
const LUMA_ADDRESS = DCT_B_ADDRESS + 16 * 16 * 4;
/**
 * Most raster bytes copied in for luma: memory never shrinks, and the copy
 * costs about 0.08 ms per MB, so near 16 MB (8192 x 6144 RGBA) it is as slow
 * as pdqLuma's JS. 12 MP RGBA is just under this.
 */
const MAX_LUMA_COPY_BYTES = 8 * 1024 * 1024;
/** The luma reads 4 bytes per pixel, so up to 3 past a raster's last byte. */
const RASTER_SLACK_BYTES = 4;

const align16 = (bytes: number) => (bytes + 15) & ~15;

function instantiate(): CoreExports | null {
  const make = wasmInstantiator(PDQ_CORE_WASM_BASE64);
  return make && (make() as CoreExports);
}

class WasmCore implements PdqWasmCore {
  constructor(private readonly wasm: CoreExports) {
    this.layout(PDQ_MAX_SIDE, PDQ_MAX_SIDE);
    new Float32Array(wasm.memory.buffer, DCT_D_ADDRESS, 16 * 64).set(DCT_MATRIX);
    const transposed = new Float32Array(wasm.memory.buffer, DCT_D_TRANSPOSED_ADDRESS, 64 * 16);
    for (let i = 0; i < 16; i++) {
      for (let k = 0; k < 64; k++) transposed[k * 16 + i] = DCT_MATRIX[i * 64 + k];
    }
  }

  /** Addresses of the scratch buffers for one image size (see blurAndDecimate in the .wat). */
  private layout(width: number, height: number) {
    // Room for any image the passes make, rows padded by up to 8 floats.
    const paddedSide = Math.max(width, height, 64) + 8;
    const imageA = align16(LUMA_ADDRESS + width * height * 4);
    const imageB = imageA + paddedSide * paddedSide * 4;
    const columns = imageB + paddedSide * paddedSide * 4;
    const out = columns + 64 * paddedSide * 4;
    const sums = out + 64 * 64 * 4;
    const rowSamples = sums + ((Math.max(width, height, 64) >> 2) + 1) * 16;
    const colSamples = rowSamples + 64 * 4;
    const end = colSamples + 64 * 4;
    this.reserve(end);
    return { imageA, imageB, columns, out, sums, rowSamples, colSamples, end };
  }

  private reserve(end: number): void {
    const missing = end - this.wasm.memory.buffer.byteLength;
    if (missing > 0) this.wasm.memory.grow(Math.ceil(missing / WASM_PAGE_BYTES));
  }

  private writeDecimationIndices(address: number, n: number): void {
    const indices = new Int32Array(this.wasm.memory.buffer, address, 64);
    for (let i = 0; i < 64; i++) indices[i] = Math.floor(((i + 0.5) * n) / 64);
  }

  luma(raster: Raster, rows: Int32Array, columnOffsets: Int32Array): Float32Array | null {
    const width = columnOffsets.length;
    const height = rows.length;
    if (width < 4) return null;
    // Only the sampled rows are copied in, each once, consecutive ones in one set().
    const rowBytes = raster.width * raster.channels;
    let copiedRows = 0;
    for (let y = 0; y < height; y++) if (y === 0 || rows[y] !== rows[y - 1]) copiedRows++;
    if (copiedRows * rowBytes > MAX_LUMA_COPY_BYTES) return null;
    const rowAddressesAt = align16(this.layout(width, height).end);
    const columnOffsetsAt = align16(rowAddressesAt + height * 4);
    const pixelsAt = align16(columnOffsetsAt + width * 4);
    this.reserve(pixelsAt + copiedRows * rowBytes + RASTER_SLACK_BYTES);
    this.copyRows(raster, rows, rowAddressesAt, pixelsAt);
    const memory = this.wasm.memory.buffer;
    new Int32Array(memory, columnOffsetsAt, width).set(columnOffsets);
    this.wasm.luma(rowAddressesAt, columnOffsetsAt, width, height, raster.channels, LUMA_ADDRESS);
    return new Float32Array(memory, LUMA_ADDRESS, width * height);
  }

  /** Copies the sampled rows to `pixelsAt` (runs of consecutive rows in one set()), their addresses to `rowAddressesAt`. */
  private copyRows(raster: Raster, rows: Int32Array, rowAddressesAt: number, pixelsAt: number): void {
    const height = rows.length;
    const rowBytes = raster.width * raster.channels;
    const memory = this.wasm.memory.buffer;
    const bytes = new Uint8Array(memory);
    const rowAddresses = new Int32Array(memory, rowAddressesAt, height);
    let next = pixelsAt;
    let runStart = rows[0];
    let runAt = pixelsAt;
    for (let y = 0; y < height; y++) {
      if (y > 0 && rows[y] === rows[y - 1]) {
        rowAddresses[y] = rowAddresses[y - 1];
        continue;
      }
      if (y > 0 && rows[y] !== rows[y - 1] + 1) {
        bytes.set(raster.data.subarray(runStart * rowBytes, (rows[y - 1] + 1) * rowBytes), runAt);
        runStart = rows[y];
        runAt = next;
      }
      rowAddresses[y] = next;
      next += rowBytes;
    }
    bytes.set(raster.data.subarray(runStart * rowBytes, (rows[height - 1] + 1) * rowBytes), runAt);
  }

  lumaBuffer(width: number, height: number): Float32Array {
    this.layout(width, height);
    return new Float32Array(this.wasm.memory.buffer, LUMA_ADDRESS, width * height);
  }

  blurAndDecimate(luma: Float32Array, width: number, height: number): Float32Array {
    const at = this.layout(width, height);
    if (luma.buffer !== this.wasm.memory.buffer || luma.byteOffset !== LUMA_ADDRESS) {
      new Float32Array(this.wasm.memory.buffer, LUMA_ADDRESS, width * height).set(luma.subarray(0, width * height));
    }
    this.writeDecimationIndices(at.rowSamples, height);
    this.writeDecimationIndices(at.colSamples, width);
    this.wasm.blurAndDecimate(LUMA_ADDRESS, width, height, at.imageA, at.imageB, at.columns, at.out, at.sums, at.rowSamples, at.colSamples);
    return new Float32Array(this.wasm.memory.buffer, at.out, 64 * 64).slice();
  }

  transform(a: Float32Array): { dct: Float32Array; gradientSum: number } {
    new Float32Array(this.wasm.memory.buffer, DCT_INPUT_ADDRESS, 64 * 64).set(a);
    this.wasm.dct16(DCT_INPUT_ADDRESS, DCT_D_ADDRESS, DCT_D_TRANSPOSED_ADDRESS, DCT_T_ADDRESS, DCT_B_ADDRESS);
    const dct = new Float32Array(this.wasm.memory.buffer, DCT_B_ADDRESS, 256).slice();
    return { dct, gradientSum: this.wasm.gradientSum(DCT_INPUT_ADDRESS) };
  }
}

const wasm = instantiate();

/** The WebAssembly blur and DCT, or null where WebAssembly SIMD is unavailable. */
export const pdqWasmCore: PdqWasmCore | null = wasm && new WasmCore(wasm);
