import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import t from 'tap';
import {
  type Base,
  TRANSFORMS,
  inscribedScale,
  makeBase,
  makeVariant,
  seededRandom,
  transformByName,
} from '../bench/lib/quality-variants.js';
import { PDQ_DIR } from './helpers/fixtures.js';

/** Smooth colours, never dark, so that added black or white shows. */
async function synthetic(width: number, height: number): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = 90 + Math.round((120 * x) / width);
      data[i + 1] = 90 + Math.round((120 * y) / height);
      data[i + 2] = 120 + Math.round(60 * Math.sin(x / 17) * Math.cos(y / 23));
    }
  }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

async function pixels(bytes: Uint8Array) {
  const { data, info } = await sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

type Pixels = Awaited<ReturnType<typeof pixels>>;
const rowMean = (p: Pixels, y: number) => {
  let sum = 0;
  for (let x = 0; x < p.width; x++) for (let c = 0; c < 3; c++) sum += p.data[(y * p.width + x) * p.channels + c];
  return sum / (p.width * 3);
};
const colMean = (p: Pixels, x: number) => {
  let sum = 0;
  for (let y = 0; y < p.height; y++) for (let c = 0; c < 3; c++) sum += p.data[(y * p.width + x) * p.channels + c];
  return sum / (p.height * 3);
};

const landscape = await makeBase(await synthetic(480, 320));
const portrait = await makeBase(await synthetic(300, 450));
const others = [await synthetic(200, 200), readFileSync(`${PDQ_DIR}pen-and-coaster.png`), readFileSync(`${PDQ_DIR}LA.png`)];
const variant = (base: Base, name: string, seed = 'test') => makeVariant(base, transformByName(name), { seed, others });

t.test('every transform: decodable, declared format, deterministic by seed', async (t) => {
  t.ok(TRANSFORMS.length >= 25);
  t.same(new Set(TRANSFORMS.map((x) => x.category)), new Set(['easy', 'medium', 'hard']));
  for (const transform of TRANSFORMS) {
    const a = await makeVariant(landscape, transform, { seed: 'one', others });
    const b = await makeVariant(landscape, transform, { seed: 'one', others });
    t.ok(a.equals(b), `${transform.name}: same seed, same bytes`);
    const meta = await sharp(a).metadata();
    t.equal(meta.format, transform.format, `${transform.name}: ${transform.format}`);
  }
  for (const name of ['crop-uneven', 'noise', 'stickers', 'rotate-small', 'collage']) {
    const a = await variant(landscape, name, 'one');
    const b = await variant(landscape, name, 'two');
    t.notOk(a.equals(b), `${name}: another seed, other bytes`);
  }
});

t.test('base: long side capped, RGB', async (t) => {
  const bridge = await makeBase(readFileSync(`${PDQ_DIR}bridge-1-original.jpg`), 400);
  t.equal(Math.max(bridge.width, bridge.height), 400);
  t.equal(bridge.data.length, bridge.width * bridge.height * 3);
  const small = await makeBase(await synthetic(120, 90));
  t.same([small.width, small.height], [120, 90], 'smaller photos are not enlarged');
});

t.test('easy edits keep the frame; resizes scale it', async (t) => {
  for (const name of ['jpeg-q50', 'blur', 'noise', 'brighter', 'darker', 'contrast', 'gamma', 'greyscale', 'png', 'webp']) {
    const p = await pixels(await variant(landscape, name));
    t.same([p.width, p.height], [480, 320], name);
  }
  t.same(await pixels(await variant(landscape, 'resize-50')).then((p) => [p.width, p.height]), [240, 160]);
  t.same(await pixels(await variant(landscape, 'resize-30')).then((p) => [p.width, p.height]), [144, 96]);
  const grey = await pixels(await variant(landscape, 'greyscale'));
  const i = (100 * grey.width + 100) * grey.channels;
  t.ok(Math.abs(grey.data[i] - grey.data[i + 2]) <= 2, 'greyscale has equal channels');
  const bright = await pixels(await variant(landscape, 'brighter'));
  t.ok(rowMean(bright, 100) > rowMean(await pixels(await variant(landscape, 'png')), 100) + 30, 'brighter is brighter');
});

t.test('crops: uneven 5-10%, 20% of the area, centre 70%', async (t) => {
  for (const seed of ['a', 'b', 'c', 'd']) {
    const p = await pixels(await variant(landscape, 'crop-uneven', seed));
    t.ok(p.width >= 480 * 0.9 - 1 && p.width <= 480 * 0.95 + 1, `width ${p.width}`);
    t.ok(p.height >= 320 * 0.9 - 1 && p.height <= 320 * 0.95 + 1, `height ${p.height}`);
    const q = await pixels(await variant(landscape, 'crop-20', seed));
    t.ok(Math.abs((q.width * q.height) / (480 * 320) - 0.8) < 0.01, `crop-20 keeps 80% of the area (${q.width}x${q.height})`);
  }
  const c = await pixels(await variant(landscape, 'center-70'));
  t.same([c.width, c.height], [336, 224]);
});

t.test('letterbox adds black bars; frame adds white; caption adds a band', async (t) => {
  const l = await pixels(await variant(landscape, 'letterbox'));
  t.equal(l.width, 480);
  t.ok(l.height >= 320 * 1.2 - 2 && l.height <= 320 * 1.3 + 2, `height ${l.height}`);
  t.ok(rowMean(l, 0) < 8 && rowMean(l, l.height - 1) < 8, 'black rows top and bottom');
  t.ok(rowMean(l, l.height >> 1) > 80, 'photo in the middle');
  const p = await pixels(await variant(portrait, 'letterbox'));
  t.equal(p.height, 450);
  t.ok(colMean(p, 0) < 8 && colMean(p, p.width - 1) < 8, 'portrait: black columns left and right');
  const f = await pixels(await variant(landscape, 'frame-white'));
  const border = (f.width - 480) / 2;
  t.ok(border >= 320 * 0.05 - 1 && border <= 320 * 0.08 + 1, `border ${border}`);
  t.equal(f.height - 320, f.width - 480, 'same border on every side');
  t.ok(rowMean(f, 0) > 247 && colMean(f, f.width - 1) > 247, 'white edges');
  const cap = await pixels(await variant(landscape, 'caption'));
  t.same([cap.width, cap.height], [480, 320 + Math.round(320 * 0.12)]);
});

t.test('rotations, mirror', async (t) => {
  for (const name of ['rot90', 'rot270']) t.same(await pixels(await variant(landscape, name)).then((p) => [p.width, p.height]), [320, 480], name);
  t.same(await pixels(await variant(landscape, 'rot180')).then((p) => [p.width, p.height]), [480, 320]);
  const m = await pixels(await variant(landscape, 'mirror'));
  const red = (x: number) => m.data[((m.height >> 1) * m.width + x) * m.channels];
  t.ok(red(0) > red(m.width - 1) + 80, 'mirrored: the red ramp runs the other way');
});

t.test('small rotation: 4-7 degrees, cropped inside (no black corners)', async (t) => {
  for (const seed of ['a', 'b', 'c']) {
    const p = await pixels(await variant(landscape, 'rotate-small', seed));
    const low = inscribedScale(480, 320, 7);
    const high = inscribedScale(480, 320, 4);
    t.ok(p.width >= 480 * low - 4 && p.width <= 480 * high, `width ${p.width}`);
    for (const [x, y] of [
      [0, 0],
      [p.width - 1, 0],
      [0, p.height - 1],
      [p.width - 1, p.height - 1],
    ]) {
      const i = (y * p.width + x) * p.channels;
      t.ok(Math.max(p.data[i], p.data[i + 1], p.data[i + 2]) > 60, `corner ${x},${y} is photo`);
    }
  }
});

t.test('stickers cover about 5-8% of the area; watermark changes pixels but not the frame', async (t) => {
  const plain = await pixels(await variant(landscape, 'png'));
  for (const seed of ['a', 'b', 'c']) {
    const s = await pixels(await variant(landscape, 'stickers', seed));
    let changed = 0;
    for (let i = 0; i < s.width * s.height; i++) {
      const d = Math.abs(s.data[i * 3] - plain.data[i * 3]) + Math.abs(s.data[i * 3 + 1] - plain.data[i * 3 + 1]) + Math.abs(s.data[i * 3 + 2] - plain.data[i * 3 + 2]);
      if (d > 60) changed++;
    }
    const fraction = changed / (s.width * s.height);
    t.ok(fraction > 0.025 && fraction < 0.09, `stickers cover ${fraction.toFixed(3)}`);
  }
  const w = await pixels(await variant(landscape, 'watermark'));
  t.same([w.width, w.height], [480, 320]);
});

t.test('collage: 2 x 2 equal cells, the photo in one of them', async (t) => {
  for (const seed of ['a', 'b', 'c', 'd', 'e']) {
    const p = await pixels(await variant(landscape, 'collage', seed));
    const gap = p.width - 2 * 480;
    t.ok(gap === 0 || gap === Math.max(2, Math.round(480 * 0.01)), `gap ${gap}`);
    t.equal(p.height, 2 * 320 + gap);
    const errors = [0, 1, 2, 3].map((cell) => {
      const left = (cell % 2) * (480 + gap);
      const top = Math.floor(cell / 2) * (320 + gap);
      let sum = 0;
      for (let y = 0; y < 320; y += 4)
        for (let x = 0; x < 480; x += 4)
          for (let c = 0; c < 3; c++) sum += Math.abs(p.data[((top + y) * p.width + left + x) * 3 + c] - landscape.data[(y * 480 + x) * 3 + c]);
      return sum / ((320 / 4) * (480 / 4) * 3);
    });
    t.equal(errors.filter((e) => e < 4).length, 1, `exactly one cell is the photo (${errors.map((e) => e.toFixed(1))})`);
  }
});

t.test('screenshot: portrait phone frame, larger than the photo', async (t) => {
  for (const seed of ['a', 'b', 'c']) {
    const p = await pixels(await variant(landscape, 'screenshot', seed));
    t.ok([1080, 720, 540].includes(p.width), `width ${p.width}`);
    t.ok(Math.abs(p.height / p.width - 2340 / 1080) < 0.01, 'phone aspect');
    t.ok(p.height > p.width, 'portrait');
  }
});

t.test('seeded random: repeatable, in [0, 1)', async (t) => {
  const a = seededRandom('x');
  const b = seededRandom('x');
  const values = Array.from({ length: 1000 }, () => a());
  t.same(values.slice(0, 5), Array.from({ length: 5 }, () => b()));
  t.ok(values.every((v) => v >= 0 && v < 1));
  t.ok(Math.abs(values.reduce((x, y) => x + y, 0) / values.length - 0.5) < 0.05);
});
