import fc from 'fast-check';
import t from 'tap';
import { pdqWasmCore } from '../src/hashing/pdq-core.js';
import { blurAndDecimateJs, dct16Js, gradientSumJs, pdqFromLuma, pdqHashRaster, pdqLuma, pdqLumaSampling } from '../src/hashing/pdq.js';
import type { Raster } from '../src/hashing/signal-type.js';

// Bit patterns, so that -0 vs 0 or a NaN payload would count as a difference.
const bits = (values: Float32Array) => new Uint32Array(values.buffer, values.byteOffset, values.length);

/** Deterministic luma: integers 0-255 or arbitrary floats in [0, 255], as the RGB formula gives. */
function randomLuma(width: number, height: number, seed: number, integers: boolean): Float32Array {
  let state = seed >>> 0 || 1;
  const luma = new Float32Array(width * height);
  for (let i = 0; i < luma.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const unit = (state >>> 0) / 2 ** 32;
    luma[i] = integers ? Math.floor(unit * 256) : unit * 255;
  }
  return luma;
}

/** Deterministic raster of random bytes. */
function randomRaster(width: number, height: number, channels: Raster['channels'], seed: number): Raster {
  let state = seed >>> 0 || 1;
  const data = new Uint8Array(width * height * channels);
  for (let i = 0; i < data.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    data[i] = state >>> 24;
  }
  return { width, height, channels, data };
}

/** A colour raster with R = G = B everywhere (alpha stays random). */
function greyColourRaster(width: number, height: number, channels: 3 | 4, seed: number): Raster {
  const raster = randomRaster(width, height, channels, seed);
  const { data } = raster;
  for (let p = 0; p < data.length; p += channels) data[p + 1] = data[p + 2] = data[p];
  return raster;
}

t.test('WebAssembly SIMD is available on the supported Node versions', async (t) => {
  t.ok(pdqWasmCore);
});

const wasm = pdqWasmCore;
if (wasm) {
  const sameAsJs = (luma: Float32Array, width: number, height: number) => {
    const expected = bits(blurAndDecimateJs(luma, width, height));
    const actual = bits(wasm.blurAndDecimate(luma, width, height));
    return actual.every((word, i) => word === expected[i]);
  };

  t.test('WebAssembly blur is bit-identical to the JS blur', async (t) => {
    const sizes: Array<[number, number]> = [
      [5, 5], [5, 512], [512, 5], [7, 300], [8, 8], [63, 64], [64, 63], [65, 65], [128, 128], [129, 257],
      [256, 256], [300, 512], [511, 509], [512, 511], [512, 512],
    ];
    for (const [width, height] of sizes) {
      for (const integers of [true, false]) {
        t.ok(sameAsJs(randomLuma(width, height, width * 1000 + height, integers), width, height), `${width}x${height}`);
      }
    }
  });

  t.test('constant images and extreme values', async (t) => {
    for (const [width, height] of [[5, 7], [100, 80], [333, 512], [512, 512]] as const) {
      for (const value of [0, 255, 128, 0.1]) {
        t.ok(sameAsJs(new Float32Array(width * height).fill(value), width, height), `${width}x${height} all ${value}`);
      }
      const checker = Float32Array.from({ length: width * height }, (_, i) => ((i % width) + Math.floor(i / width)) % 2 ? 255 : 0);
      t.ok(sameAsJs(checker, width, height), `${width}x${height} 0/255 checkerboard`);
    }
  });

  t.test('random sizes', async (t) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 512 }),
        fc.integer({ min: 5, max: 512 }),
        fc.integer(),
        fc.boolean(),
        (width, height, seed, integers) => sameAsJs(randomLuma(width, height, seed, integers), width, height),
      ),
      { numRuns: 60 },
    );
    t.pass('60 random sizes');
  });

  t.test('luma written into WebAssembly memory, after a larger image', async (t) => {
    const large = randomLuma(512, 512, 1, false);
    wasm.blurAndDecimate(large, 512, 512);
    const luma = randomLuma(200, 150, 2, false);
    const inMemory = wasm.lumaBuffer(200, 150);
    inMemory.set(luma);
    t.same(bits(wasm.blurAndDecimate(inMemory, 200, 150)), bits(blurAndDecimateJs(luma, 200, 150)));
  });

  const wasmLuma = (raster: Raster) => {
    const { rows, columnOffsets } = pdqLumaSampling(raster.width, raster.height, raster.channels);
    const luma = wasm.luma(raster, rows, columnOffsets);
    return luma && bits(luma);
  };
  const sameLumaAsJs = (raster: Raster) => {
    const expected = bits(pdqLuma(raster).luma);
    const actual = wasmLuma(raster);
    return actual !== null && actual.length === expected.length && actual.every((word, i) => word === expected[i]);
  };
  const lumaSizes: Array<[number, number]> = [
    [4, 4], [5, 5], [7, 3], [100, 700], [640, 480], [512, 512], [513, 512], [512, 513], [1000, 750], [2000, 37], [37, 2000],
  ];

  t.test('WebAssembly luma is bit-identical to the JS luma', async (t) => {
    for (const [width, height] of lumaSizes) {
      for (const channels of [1, 2, 3, 4] as const) {
        const raster = randomRaster(width, height, channels, width * 7919 + height * 31 + channels);
        t.ok(sameLumaAsJs(raster), `${width}x${height}x${channels}`);
      }
    }
  });

  t.test('colour rasters that are grey where sampled take the grey values as luma', async (t) => {
    for (const [width, height] of lumaSizes) {
      for (const channels of [3, 4] as const) {
        const grey = greyColourRaster(width, height, channels, width + height);
        t.ok(sameLumaAsJs(grey), `${width}x${height}x${channels} all grey`);
        const { luma } = pdqLuma(grey);
        const { rows, columnOffsets } = pdqLumaSampling(width, height, channels);
        const lastSampled = rows[rows.length - 1] * width * channels + columnOffsets[columnOffsets.length - 1];
        t.equal(luma[luma.length - 1], grey.data[lastSampled], `${width}x${height}x${channels} grey branch taken`);

        // One pixel with G or B off where it is sampled (the first, or in the last
        // block) makes the whole image colour.
        for (const at of [0, lastSampled]) {
          for (const channel of [1, 2]) {
            const oneColour = { ...grey, data: grey.data.slice() };
            oneColour.data[at + channel] ^= 1;
            t.ok(sameLumaAsJs(oneColour), `${width}x${height}x${channels} channel ${channel} off at byte ${at}`);
          }
        }
      }
    }
    // Squashed away, a colour pixel changes nothing: column 999 and row 749 of 1000 x 750 are not sampled.
    const grey = greyColourRaster(1000, 750, 4, 5);
    const unsampled = { ...grey, data: grey.data.slice() };
    unsampled.data[(749 * 1000 + 999) * 4] ^= 1;
    t.same(wasmLuma(unsampled), wasmLuma(grey));
    t.ok(sameLumaAsJs(unsampled));
  });

  t.test('random rasters', async (t) => {
    fc.assert(
      fc.property(
        fc.integer({ min: 4, max: 1100 }),
        fc.integer({ min: 1, max: 1100 }),
        fc.constantFrom(1 as const, 2 as const, 3 as const, 4 as const),
        fc.integer(),
        (width, height, channels, seed) => sameLumaAsJs(randomRaster(width, height, channels, seed)),
      ),
      { numRuns: 60 },
    );
    t.pass('60 random rasters');
  });

  t.test('luma under 4 columns, or with too many bytes to copy in, is left to pdqLuma', async (t) => {
    t.equal(wasmLuma(randomRaster(3, 100, 4, 1)), null);
    // 512 sampled rows of 20000 RGBA pixels are 41 MB.
    const wide = randomRaster(20000, 600, 4, 2);
    t.equal(wasmLuma(wide), null);
    const { luma, width, height } = pdqLuma(wide);
    t.same(pdqHashRaster(wide).hash, pdqFromLuma(luma, width, height).hash);
  });

  t.test('pdqHashRaster with the WebAssembly luma hashes as the JS luma does, after a larger raster', async (t) => {
    for (const [width, height, channels] of [[2000, 1500, 3], [640, 480, 4], [300, 200, 1], [1000, 750, 2]] as const) {
      const raster = randomRaster(width, height, channels, width);
      const { luma, width: w, height: h } = pdqLuma(raster);
      const expected = pdqFromLuma(luma, w, h);
      const actual = pdqHashRaster(raster);
      t.same([actual.hash, actual.quality], [expected.hash, expected.quality], `${width}x${height}x${channels}`);
    }
  });

  t.test('WebAssembly DCT and gradient sum are bit-identical to the JS ones', async (t) => {
    const only = (pick: (row: number, col: number) => boolean) => Float32Array.from({ length: 64 * 64 }, (_, i) => (pick(i >> 6, i & 63) ? 255 : 0));
    const matrices = [
      randomLuma(64, 64, 7, true),
      randomLuma(64, 64, 8, false),
      blurAndDecimateJs(randomLuma(512, 512, 9, false), 512, 512),
      new Float32Array(64 * 64).fill(255),
      Float32Array.from({ length: 64 * 64 }, (_, i) => (i % 3 ? 0 : 255)),
      // Every neighbour differs by 255 (the largest sum), and steps at each edge alone.
      only((row, col) => (row + col) % 2 === 0),
      only((_, col) => col === 63),
      only((_, col) => col >= 59),
      only((_, col) => col === 0),
      only((row) => row === 63),
      only((row) => row === 0),
      // Differences of 2.55 * n, where the scaled term lands on a whole number.
      Float32Array.from({ length: 64 * 64 }, (_, i) => ((i * 7) % 100) * 2.55),
    ];
    for (const [i, a] of matrices.entries()) {
      const { dct, gradientSum } = wasm.transform(a);
      t.same(bits(dct), bits(dct16Js(a)), `DCT of matrix ${i}`);
      t.equal(gradientSum, gradientSumJs(a), `gradient sum of matrix ${i}`);
    }
    t.equal(wasm.transform(only((row, col) => (row + col) % 2 === 0)).gradientSum, 2 * 63 * 64 * 100, 'the largest sum');
    t.equal(wasm.transform(only((_, col) => col === 63)).gradientSum, 64 * 100, 'a step between the last two columns counts once per row');
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const a = randomLuma(64, 64, seed, false);
        const expected = bits(dct16Js(a));
        const actual = wasm.transform(a);
        return bits(actual.dct).every((word, k) => word === expected[k]) && actual.gradientSum === gradientSumJs(a);
      }),
      { numRuns: 100 },
    );
  });
}
