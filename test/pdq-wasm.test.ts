import fc from 'fast-check';
import t from 'tap';
import { pdqWasmCore } from '../src/hashing/pdq-core.js';
import { blurAndDecimateJs, dct16Js } from '../src/hashing/pdq.js';

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

  t.test('WebAssembly DCT is bit-identical to the JS DCT', async (t) => {
    const matrices = [
      randomLuma(64, 64, 7, true),
      randomLuma(64, 64, 8, false),
      blurAndDecimateJs(randomLuma(512, 512, 9, false), 512, 512),
      new Float32Array(64 * 64).fill(255),
      Float32Array.from({ length: 64 * 64 }, (_, i) => (i % 3 ? 0 : 255)),
    ];
    for (const [i, a] of matrices.entries()) t.same(bits(wasm.dct16(a)), bits(dct16Js(a)), `matrix ${i}`);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const a = randomLuma(64, 64, seed, false);
        const expected = bits(dct16Js(a));
        return bits(wasm.dct16(a)).every((word, k) => word === expected[k]);
      }),
      { numRuns: 100 },
    );
  });
}
