/**
 * Packed storage for 256-bit codes, for the brute-force oracle: 8 Uint32 words
 * per code, each word the big-endian value of 4 hash bytes, so bit i of the
 * hash is bit (31 - i % 32) of word i / 32 (the layout multi-index hashing's
 * shards use too). When WebAssembly is available the words live in the
 * popcount scan module's memory, so a scan reads them in place.
 */
import { POPCOUNT_SCAN_WASM_BASE64 } from './popcount-scan-wasm.js';
import { popcount32 } from '../hashing/hamming.js';

export const CODE_BYTES = 32;
export const CODE_WORDS = 8;
/** Codes a scan call examines at most; its hit list is sized for this many. */
export const SCAN_CHUNK = 1 << 16;

const WASM_PAGE = 1 << 16;
// WebAssembly memory layout: query, then the hit list, then the codes.
const QUERY_OFFSET = 0;
const HITS_OFFSET = 64;
const CODES_OFFSET = HITS_OFFSET + SCAN_CHUNK * 4;
/** wasm32 addresses 4 GiB. */
const WASM_MAX_BYTES = 65536 * WASM_PAGE;

// The project's lib settings (ES2023, no DOM) carry no WebAssembly types; these are the few used.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

type ScanExport = (codes: number, first: number, count: number, query: number, radius: number, out: number) => number;

interface WasmScan {
  memory: WasmMemory;
  scan: ScanExport;
}

let wasmModule: object | null | undefined;

function compileScanModule(): object | null {
  if (wasmModule === undefined) {
    try {
      if (!wasmApi) throw new Error('no WebAssembly');
      wasmModule = new wasmApi.Module(Buffer.from(POPCOUNT_SCAN_WASM_BASE64, 'base64'));
    } catch {
      wasmModule = null;
    }
  }
  return wasmModule;
}

/** True when this runtime can run the WebAssembly scan. */
export function wasmScanAvailable(): boolean {
  return compileScanModule() !== null;
}

export function checkCode(code: Uint8Array): void {
  if (code.length !== CODE_BYTES) throw new RangeError(`code must be ${CODE_BYTES} bytes, got ${code.length}`);
}

export function readCodeWords(code: Uint8Array, into: Uint32Array, at = 0): void {
  checkCode(code);
  for (let i = 0; i < CODE_WORDS; i++) {
    const b = i * 4;
    into[at + i] = ((code[b] << 24) | (code[b + 1] << 16) | (code[b + 2] << 8) | code[b + 3]) >>> 0;
  }
}

export class CodeArena {
  // Set in the constructor, directly or through renewViews.
  /** 8 words per code; replaced (not resized) when the memory grows, so re-read after `reserve`. */
  words!: Uint32Array;
  /** Relative indices of the last `scanChunk` hits. */
  hits!: Uint32Array;
  private capacityCodes: number;
  private readonly wasm: WasmScan | null;
  private wasmQuery: Uint32Array | null;

  constructor(initialCapacity: number, useWasm: boolean) {
    this.capacityCodes = Math.max(1, initialCapacity);
    const module = useWasm ? compileScanModule() : null;
    if (module) {
      const instance = new wasmApi!.Instance(module, {});
      const memory = instance.exports.memory as WasmMemory;
      this.wasm = {
        memory,
        scan: instance.exports.scan as ScanExport,
      };
      this.growWasmMemory();
      this.wasmQuery = null;
      this.renewViews();
    } else {
      this.wasm = null;
      this.wasmQuery = null;
      this.words = new Uint32Array(this.capacityCodes * CODE_WORDS);
      this.hits = new Uint32Array(SCAN_CHUNK);
    }
  }

  get usesWasm(): boolean {
    return this.wasm !== null;
  }

  get capacity(): number {
    return this.capacityCodes;
  }

  /** Makes room for at least `codes` codes, keeping the first `used`. */
  reserve(codes: number, used: number): void {
    if (codes <= this.capacityCodes) return;
    if (this.wasm) {
      const maxCodes = Math.floor((WASM_MAX_BYTES - CODES_OFFSET) / CODE_BYTES);
      if (codes > maxCodes) throw new RangeError(`more than ${maxCodes} codes do not fit in wasm32 memory`);
      this.capacityCodes = codes;
      // Growing a WebAssembly memory keeps its contents; only the views must be renewed.
      this.growWasmMemory();
      this.renewViews();
    } else {
      const words = new Uint32Array(codes * CODE_WORDS);
      words.set(this.words.subarray(0, used * CODE_WORDS));
      this.words = words;
      this.capacityCodes = codes;
    }
  }

  /** Bytes held for codes (capacity, not just used). */
  get byteLength(): number {
    return this.capacityCodes * CODE_BYTES;
  }

  /**
   * Writes to `hits` the index, relative to `first`, of each of the `count`
   * (<= SCAN_CHUNK) codes from `first` within `radius` of `query` (8 words);
   * returns how many.
   */
  scanChunk(first: number, count: number, query: Uint32Array, radius: number): number {
    if (this.wasm && this.wasmQuery) {
      this.wasmQuery.set(query);
      return this.wasm.scan(CODES_OFFSET, first, count, QUERY_OFFSET, radius, HITS_OFFSET);
    }
    const w = this.words;
    const hits = this.hits;
    const q0 = query[0], q1 = query[1], q2 = query[2], q3 = query[3];
    const q4 = query[4], q5 = query[5], q6 = query[6], q7 = query[7];
    let found = 0;
    for (let i = 0, p = first * CODE_WORDS; i < count; i++, p += CODE_WORDS) {
      const d =
        popcount32(w[p] ^ q0) + popcount32(w[p + 1] ^ q1) + popcount32(w[p + 2] ^ q2) + popcount32(w[p + 3] ^ q3) +
        popcount32(w[p + 4] ^ q4) + popcount32(w[p + 5] ^ q5) + popcount32(w[p + 6] ^ q6) + popcount32(w[p + 7] ^ q7);
      if (d <= radius) hits[found++] = i;
    }
    return found;
  }

  distance(slot: number, query: Uint32Array): number {
    const w = this.words;
    const p = slot * CODE_WORDS;
    return (
      popcount32(w[p] ^ query[0]) + popcount32(w[p + 1] ^ query[1]) + popcount32(w[p + 2] ^ query[2]) +
      popcount32(w[p + 3] ^ query[3]) + popcount32(w[p + 4] ^ query[4]) + popcount32(w[p + 5] ^ query[5]) +
      popcount32(w[p + 6] ^ query[6]) + popcount32(w[p + 7] ^ query[7])
    );
  }

  equals(slot: number, query: Uint32Array): boolean {
    const w = this.words;
    const p = slot * CODE_WORDS;
    for (let i = 0; i < CODE_WORDS; i++) if (w[p + i] !== query[i]) return false;
    return true;
  }

  copy(from: number, to: number): void {
    this.words.copyWithin(to * CODE_WORDS, from * CODE_WORDS, (from + 1) * CODE_WORDS);
  }

  private growWasmMemory(): void {
    const memory = this.wasm!.memory;
    const needed = Math.ceil((CODES_OFFSET + this.capacityCodes * CODE_BYTES) / WASM_PAGE);
    const pages = memory.buffer.byteLength / WASM_PAGE;
    if (needed > pages) memory.grow(needed - pages);
  }

  /** Takes new views on the memory (after it grew or the codes' capacity changed). */
  private renewViews(): void {
    const buffer = this.wasm!.memory.buffer;
    this.words = new Uint32Array(buffer, CODES_OFFSET, this.capacityCodes * CODE_WORDS);
    this.hits = new Uint32Array(buffer, HITS_OFFSET, SCAN_CHUNK);
    this.wasmQuery = new Uint32Array(buffer, QUERY_OFFSET, CODE_WORDS);
  }
}
