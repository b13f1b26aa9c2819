import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import t from 'tap';
import { blockhashBlocks, blockhashRaster, blockhashRasterFromBlocks, toRgba } from '../src/hashing/blockhash.js';
import { rangeSums, rangeSumsInWasm, rangeSumsJs } from '../src/hashing/blockhash-sums.js';
import { hammingDistance, popcount32, withinDistance } from '../src/hashing/hamming.js';
import { fromHex, InvalidHashError, toHex } from '../src/hashing/hex.js';
import { findSignalType, isSignalTypeName, md5, pdq, pdqRegion, SIGNAL_TYPE_NAMES, SIGNAL_TYPES, sha256 } from '../src/hashing/registry.js';
import { DIHEDRAL_NAMES, nthSmallest, pdqDihedralFromDct, pdqFromLuma, pdqHashRaster } from '../src/hashing/pdq.js';
import { generateWasmModule } from '../scripts/build-wasm.js';
import { BLOCKHASH_DIR, PDQ_DIR, blockhashExpected, pdqDihedralExpected, pdqExpected, rawPixels } from './helpers/fixtures.js';

t.test('hex: lower case out, either case in, everything else refused', async (t) => {
  const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 3);
  const hex = toHex(bytes);
  t.match(hex, /^[0-9a-f]{64}$/);
  t.same(fromHex(hex, 256), bytes);
  t.same(fromHex(hex.toUpperCase(), 256), bytes);
  const bad: unknown[] = [hex.slice(1), `${hex}0`, `0x${hex.slice(2)}`, `${hex.slice(0, 63)}g`, ` ${hex.slice(1)}`, '', 42, null];
  for (const input of bad) {
    t.throws(() => fromHex(input, 256), InvalidHashError, `refuses ${JSON.stringify(input)}`);
  }
  t.throws(() => fromHex('zz', 8), { code: 'INVALID_HASH', message: /not hex at position 1/ });
  t.throws(() => fromHex('0g', 8), { message: /not hex at position 2/ });
  t.throws(() => fromHex('abc', 256), { code: 'INVALID_HASH', message: /exactly 64 hex characters, got 3/ });
});

t.test('hamming distance counts differing bits', async (t) => {
  t.equal(popcount32(0), 0);
  t.equal(popcount32(0xffffffff), 32);
  t.equal(popcount32(0x80000001), 2);
  const a = new Uint8Array(32);
  const b = new Uint8Array(32);
  t.equal(hammingDistance(a, b), 0);
  for (let bit = 0; bit < 256; bit++) {
    b[bit >> 3] ^= 1 << (bit & 7);
    t.equal(hammingDistance(a, b), bit + 1);
  }
  t.throws(() => hammingDistance(new Uint8Array(32), new Uint8Array(16)), RangeError);
  t.equal(hammingDistance(new Uint8Array([0xff, 0, 0x0f]), new Uint8Array([0, 0, 0xff])), 12, 'odd lengths');
});

t.test('withinDistance agrees with hammingDistance at every bound, wherever the differing bits are', async (t) => {
  let seed = 7;
  const byte = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
  let checked = 0;
  for (let round = 0; round < 200; round++) {
    const a = Uint8Array.from({ length: 32 }, byte);
    const b = a.slice();
    // From 0 to 40 flipped bits, some all in the last word, so that an early exit on the first words must not decide.
    const flips = round % 41;
    for (let k = 0; k < flips; k++) {
      const bit = round % 3 === 0 ? 224 + (byte() & 31) : byte();
      b[bit >> 3] ^= 1 << (bit & 7);
    }
    const d = hammingDistance(a, b);
    for (const max of [0, 1, 7, 8, 9, 31, 255]) {
      if (withinDistance(a, b, max) !== d <= max) t.fail(`distance ${d}, bound ${max}`);
      checked++;
    }
  }
  t.equal(checked, 1400);
  t.equal(withinDistance(new Uint8Array([0xff, 0, 0x0f]), new Uint8Array([0, 0, 0xff]), 12), true, 'odd lengths');
  t.equal(withinDistance(new Uint8Array([0xff, 0, 0x0f]), new Uint8Array([0, 0, 0xff]), 11), false);
  t.throws(() => withinDistance(new Uint8Array(32), new Uint8Array(16), 8), RangeError);
});

t.test('signal types: one registry, each type one module with everything about it', async (t) => {
  t.same(SIGNAL_TYPE_NAMES, ['pdq', 'blockhash', 'md5', 'sha256', 'pdq-norm', 'pdq-region']);
  t.equal(findSignalType('pdq-region'), pdqRegion);
  for (const type of SIGNAL_TYPES) {
    t.equal(type.bytes * 8, type.bits, `${type.name}: bytes`);
    t.ok(type.defaultThreshold <= type.maxThreshold && type.maxThreshold <= type.bits, `${type.name}: thresholds in range`);
    t.equal(type.comparison === 'exact', type.maxThreshold === 0, `${type.name}: exact types match at distance 0 only`);
    t.ok(type.description.length > 20, `${type.name}: described`);
    const hash = Uint8Array.from({ length: type.bytes }, (_, i) => (i * 37 + 11) & 255);
    const text = type.format(hash);
    t.match(text, new RegExp(`^[0-9a-f]{${type.bits / 4}}$`), `${type.name}: lower-case hex`);
    t.same(type.parse(text.toUpperCase()), hash, `${type.name}: parsed back, either case`);
    t.throws(() => type.parse(text.slice(1), 'signals[2].hash'), { code: 'INVALID_HASH', message: /signals\[2\]\.hash/ });
    t.equal(type.distance(hash, hash), 0);
  }
  t.equal(pdq.defaultThreshold, 31);
  t.equal(pdq.minQuality, 50);
  t.ok(pdq.interoperable && !pdqRegion.interoperable, 'PDQ is exchanged with other systems; region hashes are this service\'s own');
  t.equal(pdqRegion.scope, 'region');
  t.equal(md5.bits, 128);
  t.equal(sha256.defaultThreshold, 0);
  t.ok(isSignalTypeName('pdq'));
  t.notOk(isSignalTypeName('toString'), 'no prototype names');
  t.notOk(isSignalTypeName('PDQ'));
  const bytes = new TextEncoder().encode('abc');
  t.equal(toHex(await md5.hashBytes(bytes)), '900150983cd24fb0d6963f7d28e17f72');
  t.equal(toHex(await sha256.hashBytes(bytes)), createHash('sha256').update('abc').digest('hex'));
  const big = Uint8Array.from({ length: 3_000_000 }, (_, i) => (i * 7) & 255);
  t.equal(toHex(await md5.hashBytes(big)), createHash('md5').update(big).digest('hex'), 'MD5 of a large file, as Node computes it');
  t.equal(toHex(await sha256.hashBytes(big)), createHash('sha256').update(big).digest('hex'));
});

t.test('PDQ core is bit-exact on the reference rasters (hash and quality)', async (t) => {
  const rows = pdqExpected().filter((r) => r.file.startsWith('decoded-'));
  t.equal(rows.length, 6);
  for (const row of rows) {
    const result = pdqHashRaster(await rawPixels(PDQ_DIR + row.file));
    t.equal(toHex(result.hash), row.hash, `${row.file} hash`);
    t.equal(result.quality, Number(row.quality), `${row.file} quality`);
  }
});

t.test('PDQ dihedral variants from one DCT equal the reference', async (t) => {
  const byFile = new Map<string, Record<string, string>[]>();
  for (const row of pdqDihedralExpected()) byFile.set(row.file, [...(byFile.get(row.file) ?? []), row]);
  t.equal(byFile.size, 3);
  for (const [file, rows] of byFile) {
    const { dct } = pdqHashRaster(await rawPixels(PDQ_DIR + file));
    const variants = pdqDihedralFromDct(dct).map(toHex);
    t.same(rows.map((r) => r.transform), DIHEDRAL_NAMES);
    t.same(variants, rows.map((r) => r.hash), `${file}: all 8 variants`);
  }
});

t.test('PDQ handles flat, tiny and exactly 64 x 64 input', async (t) => {
  const flat = pdqFromLuma(new Float32Array(100 * 80).fill(128), 100, 80);
  t.equal(flat.quality, 0, 'a flat image has no gradient');
  t.equal(pdqFromLuma(new Float32Array(16), 4, 4).quality, 0);
  t.same(pdqFromLuma(new Float32Array(16), 4, 4).hash, new Uint8Array(32), 'under 5 px: the reference gives the zero hash');
  // 64 x 64 input goes straight to the DCT.
  const luma = Float32Array.from({ length: 64 * 64 }, (_, i) => (i * 37) % 251);
  const direct = pdqFromLuma(luma, 64, 64);
  t.equal(direct.quality > 0, true);
  t.equal(countBits(direct.hash), 128, 'no ties: exactly half the bits set');
});

t.test('the median PDQ thresholds at is what a numeric sort gives, ties and signed zeros included', async (t) => {
  const scratch = new Float32Array(256);
  const sortedAt = (values: Float32Array, k: number) => Float32Array.from(values).sort()[k];
  const fixed = [
    new Float32Array(256),
    Float32Array.from({ length: 256 }, (_, i) => i),
    Float32Array.from({ length: 256 }, (_, i) => 255 - i),
    Float32Array.from({ length: 256 }, (_, i) => i % 2),
    Float32Array.from({ length: 256 }, (_, i) => (i % 3 === 0 ? -0 : i % 3 === 1 ? 0 : -1)),
  ];
  for (const [i, values] of fixed.entries()) {
    const before = values.slice();
    for (const k of [0, 127, 128, 255]) t.same(nthSmallest(scratch, values, k), sortedAt(values, k), `array ${i}, k ${k}`);
    t.same(values, before, 'the values are left as they were');
  }
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.float({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -3, max: 3 })), { minLength: 256, maxLength: 256 }),
      fc.integer({ min: 0, max: 255 }),
      (numbers, k) => {
        const values = Float32Array.from(numbers);
        return Object.is(nthSmallest(scratch, values, k) + 0, sortedAt(values, k) + 0);
      },
    ),
    { numRuns: 500 },
  );
});

t.test('blockhash equals the reference C tool on every fixture', async (t) => {
  const rows = blockhashExpected().filter((r) => r.method === 'precise');
  t.equal(rows.length, 17);
  for (const row of rows) {
    const raster = await rawPixels(BLOCKHASH_DIR + row.file);
    t.equal(toHex(blockhashRaster(raster).hash), row.hash, row.file);
  }
});

t.test('blockhash from block sums: the reference bits on every fixture, without an RGBA copy', async (t) => {
  for (const row of blockhashExpected().filter((r) => r.method === 'precise')) {
    const raster = await rawPixels(BLOCKHASH_DIR + row.file);
    t.equal(toHex(blockhashRasterFromBlocks(raster).hash), row.hash, `${row.file} (${raster.width} x ${raster.height} x ${raster.channels})`);
  }
});

t.test('blockhash from block sums equals blockhash-core over every pixel, any size and channel layout', async (t) => {
  let seed = 7;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const kinds = ['noise', 'flat', 'bands', 'holes'] as const;
  let cases = 0;
  for (let i = 0; i < 160; i++) {
    const channels = (1 + (i % 4)) as 1 | 2 | 3 | 4;
    const kind = kinds[(i >> 2) % 4];
    // Sides divisible by 16 (blockhash-core's even method) and not (its precise method), some under 16.
    const side = (j: number) => (j % 3 === 0 ? 16 * (1 + Math.floor(random() * 30)) : 5 + Math.floor(random() * 400));
    const width = side(i);
    const height = side(i >> 1);
    const data = new Uint8Array(width * height * channels);
    // Flat mid-grey and darker rasters put every block on its band's median: the tie rule decides.
    const level = Math.floor(random() * 256);
    for (let p = 0; p < width * height; p++) {
      const x = p % width;
      const y = Math.floor(p / width);
      for (let c = 0; c < channels; c++) {
        const alpha = (channels === 2 || channels === 4) && c === channels - 1;
        data[p * channels + c] = alpha
          ? kind === 'holes' && (x >> 2) % 3 === (y >> 2) % 2 ? 0 : kind === 'noise' && random() < 0.1 ? 0 : 255
          : kind === 'noise' ? Math.floor(random() * 256) : kind === 'flat' ? level : kind === 'bands' ? (Math.floor(x / 37) * 53 + Math.floor(y / 29) * 91) & 255 : (x * 3 + y) & 255;
      }
    }
    const raster = { width, height, channels, data };
    const want = toHex(blockhashRaster(raster).hash);
    if (toHex(blockhashRasterFromBlocks(raster).hash) !== want) t.fail(`${kind} ${width} x ${height} x ${channels}`);
    const viaJs = blockhashBlocks(raster, rangeSumsJs);
    t.same(viaJs, blockhashBlocks(raster), `JS and WebAssembly sums agree, ${width} x ${height} x ${channels}`);
    cases++;
  }
  t.equal(cases, 160);
  // A flat grey at or below mid-grey: every bit hangs on blockhash-core's "half the maximum" rule.
  for (const [width, height] of [[640, 480], [643, 488]]) {
    for (const level of [60, 128, 129]) {
      const raster = { width, height, channels: 3 as const, data: new Uint8Array(width * height * 3).fill(level) };
      t.equal(toHex(blockhashRasterFromBlocks(raster).hash), toHex(blockhashRaster(raster).hash), `flat ${level}, ${width} x ${height}`);
    }
  }
});

t.test('row range sums: WebAssembly equals JS', async (t) => {
  const { tsPath, source } = await generateWasmModule(fileURLToPath(new URL('../src/hashing/blockhash-sums.wat', import.meta.url)));
  t.equal(readFileSync(tsPath, 'utf8'), source, 'blockhash-sums.wat is assembled');
  t.ok(rangeSumsInWasm, 'WebAssembly SIMD is used on Node 20');
  const stride = 999;
  const data = Uint8Array.from({ length: stride * 7 }, (_, i) => (i * 2654435761) >>> 24);
  const runs = Int32Array.of(0, 999, 1, 0, 3, 16, 5, 31, 17, 32, 100, 33, 998, 1, 500, 499);
  t.same(Array.from(rangeSums(data, stride, 2, 5, runs)), Array.from(rangeSumsJs(data, stride, 2, 5, runs)));
});

t.test('toRgba expands grey, grey+alpha and RGB', async (t) => {
  const grey = { width: 2, height: 1, channels: 1 as const, data: Uint8Array.of(10, 20) };
  t.same(toRgba(grey), Uint8Array.of(10, 10, 10, 255, 20, 20, 20, 255));
  const greyAlpha = { width: 1, height: 1, channels: 2 as const, data: Uint8Array.of(9, 0) };
  t.same(toRgba(greyAlpha), Uint8Array.of(9, 9, 9, 0));
  const rgb = { width: 1, height: 1, channels: 3 as const, data: Uint8Array.of(1, 2, 3) };
  t.same(toRgba(rgb), Uint8Array.of(1, 2, 3, 255));
});

function countBits(bytes: Uint8Array): number {
  return hammingDistance(bytes, new Uint8Array(bytes.length));
}
