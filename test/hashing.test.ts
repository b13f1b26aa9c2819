import { createHash } from 'node:crypto';
import t from 'tap';
import { blockhashRaster, toRgba } from '../src/hashing/blockhash.js';
import { hammingDistance, popcount32 } from '../src/hashing/hamming.js';
import { fromHex, InvalidHashError, toHex } from '../src/hashing/hex.js';
import { SIGNAL_TYPES, isSignalTypeName } from '../src/hashing/index.js';
import { DIHEDRAL_NAMES, pdqDihedralFromDct, pdqFromLuma, pdqHashRaster } from '../src/hashing/pdq.js';
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

t.test('signal types: name, bits, threshold, distance', async (t) => {
  t.same(Object.keys(SIGNAL_TYPES), ['pdq', 'blockhash', 'md5', 'sha256', 'pdq-region']);
  t.equal(SIGNAL_TYPES['pdq-region'].bits, 256);
  t.equal(SIGNAL_TYPES.pdq.bits, 256);
  t.equal(SIGNAL_TYPES.pdq.defaultThreshold, 31);
  t.equal(SIGNAL_TYPES.blockhash.bits, 256);
  t.equal(SIGNAL_TYPES.md5.bits, 128);
  t.equal(SIGNAL_TYPES.sha256.defaultThreshold, 0);
  t.ok(isSignalTypeName('pdq'));
  t.notOk(isSignalTypeName('toString'), 'no prototype names');
  t.notOk(isSignalTypeName('PDQ'));
  const bytes = new TextEncoder().encode('abc');
  t.equal(toHex(SIGNAL_TYPES.md5.hashBytes(bytes)), '900150983cd24fb0d6963f7d28e17f72');
  t.equal(toHex(SIGNAL_TYPES.sha256.hashBytes(bytes)), createHash('sha256').update('abc').digest('hex'));
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

t.test('blockhash equals the reference C tool on every fixture', async (t) => {
  const rows = blockhashExpected().filter((r) => r.method === 'precise');
  t.equal(rows.length, 17);
  for (const row of rows) {
    const raster = await rawPixels(BLOCKHASH_DIR + row.file);
    t.equal(toHex(blockhashRaster(raster).hash), row.hash, row.file);
  }
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
