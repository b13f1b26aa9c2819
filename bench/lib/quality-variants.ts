/**
 * The edits stolen photos come back with (issue 5), as pure functions over
 * image bytes: sharp in memory, deterministic for a given seed (every random
 * choice comes from a generator seeded with `${seed}/${transform}`).
 *
 * Every variant starts from the photo's "base": the original decoded to RGB
 * and, when its long side is over BASE_LONG_SIDE, scaled down to it (what
 * messaging apps deliver; the victim's query is always the untouched
 * original). Output is JPEG quality 85 unless the table says otherwise. Sizes
 * are of the base, w x h; U[a,b] is drawn uniformly by the seeded generator.
 *
 * | category | transform | exact parameters |
 * | --- | --- | --- |
 * | easy | jpeg-q50 | re-encoded as JPEG quality 50 |
 * | easy | resize-50 | both sides x 0.5 (lanczos3) |
 * | easy | resize-30 | both sides x 0.3 (lanczos3) |
 * | easy | blur | Gaussian blur, sigma 1.5 |
 * | easy | noise | + Gaussian noise, sigma 10 levels, independent per pixel and channel (seeded Box-Muller), clamped |
 * | easy | brighter | + 40 on every channel, clamped |
 * | easy | darker | - 40 on every channel, clamped |
 * | easy | contrast | v -> 1.4 (v - 128) + 128, clamped |
 * | easy | gamma | v -> 255 (v / 255)^0.6 (mid-tones lighter) |
 * | easy | greyscale | luminance only (sharp greyscale), still 3-channel JPEG |
 * | easy | png | format change: lossless PNG of the base |
 * | easy | webp | format change: WebP quality 75 |
 * | medium | crop-uneven | per axis, U[5%,10%] of that side cut off, split between the two edges by U[0.15,0.85] |
 * | medium | letterbox | black bars of U[10%,15%] of the height above and below each (landscape or square); of the width left and right (portrait) |
 * | medium | frame-white | white border of U[5%,8%] of the short side on all four sides |
 * | medium | caption | a band 12% of the height, colour from a palette of 5, above or below (seeded), one line of text at 50% of its height |
 * | medium | watermark | "@handle" text, font 8% of the width, white at 40% opacity with a 25% dark outline, 3 lines turned -25 degrees across the image |
 * | medium | stickers | 2 or 3 opaque round "emoji" faces or hearts, together U[5%,8%] of the area (random shares), anywhere inside |
 * | medium | mirror | left-right mirror (flop) |
 * | medium | rot90 / rot180 / rot270 | turned clockwise by 90 / 180 / 270 degrees |
 * | hard | crop-20 | 20% of the area cut off: each side kept at sqrt(0.8) = 89.4%, the cut split between the two edges by U[0.2,0.8] |
 * | hard | center-70 | the central 70% of the width and of the height |
 * | hard | rotate-small | turned U[4,7] degrees, sign seeded (bilinear), then the largest centred rectangle of the base's aspect inside it (no corners) |
 * | hard | screenshot | portrait phone screenshot W x 2.1667W, W from {1080, 720, 540}: status bar 3%, chat header 6.5% (avatar, name, status), chat background, maybe a text bubble, the photo in a message bubble 72-85% of W wide (max 52% of the height) left or right with a time stamp on it, input bar 7.5% and gesture bar; light or dark theme |
 * | hard | collage | 2 x 2 grid of equal cells w' x h' (the photo scaled to w' = min(w, 800)), the photo in cell U{0..3}, the 3 other corpus photos given cropped to fill theirs; white gap of 1% of w' between cells in half the cases |
 */
import { createHash } from 'node:crypto';
import sharp, { type Sharp } from 'sharp';

export type Category = 'easy' | 'medium' | 'hard';
export const CATEGORIES: readonly Category[] = ['easy', 'medium', 'hard'];
export type VariantFormat = 'jpeg' | 'png' | 'webp';

/** Long side of the base every variant starts from. */
export const BASE_LONG_SIDE = 2048;
const JPEG_QUALITY = 85;

export interface Base {
  /** Packed RGB, width x height x 3. */
  data: Buffer;
  width: number;
  height: number;
}

export interface VariantContext {
  /** Seeds every random choice (with the transform's name). */
  seed: string;
  /** Other photos (original bytes); the collage needs 3. */
  others?: readonly Uint8Array[];
}

export interface Transform {
  name: string;
  category: Category;
  format: VariantFormat;
  /** How many other photos it needs in `context.others`. */
  others?: number;
  apply(base: Base, random: () => number, context: VariantContext): Promise<Buffer>;
}

/** Decodes the original and scales it to the base (see the header). */
export async function makeBase(bytes: Uint8Array, longSide = BASE_LONG_SIDE): Promise<Base> {
  const image = sharp(bytes).removeAlpha().toColourspace('srgb');
  const meta = await sharp(bytes).metadata();
  const width = meta.width!;
  const height = meta.height!;
  const scale = Math.min(1, longSide / Math.max(width, height));
  const resized = scale < 1 ? image.resize(Math.round(width * scale), Math.round(height * scale), { kernel: 'lanczos3' }) : image;
  const { data, info } = await resized.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`base has ${info.channels} channels`);
  return { data, width: info.width, height: info.height };
}

/** mulberry32 seeded from SHA-256 of the seed string: [0, 1). */
export function seededRandom(seed: string): () => number {
  let a = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const uniform = (random: () => number, lo: number, hi: number) => lo + (hi - lo) * random();
const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)];

const raw = (base: Base): Sharp => sharp(base.data, { raw: { width: base.width, height: base.height, channels: 3 } });
const jpeg = (image: Sharp, quality = JPEG_QUALITY) => image.jpeg({ quality }).toBuffer();

/** Applies a per-value function through a lookup table. */
function mapLevels(base: Base, f: (v: number) => number): Sharp {
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = Math.max(0, Math.min(255, Math.round(f(v))));
  const out = Buffer.allocUnsafe(base.data.length);
  for (let i = 0; i < out.length; i++) out[i] = lut[base.data[i]];
  return sharp(out, { raw: { width: base.width, height: base.height, channels: 3 } });
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const svg = (width: number, height: number, body: string) =>
  Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}</svg>`);
const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';

/** Cuts `fraction` of `size` off, split between the two edges by `split`: [start, kept length]. */
function cut(size: number, fraction: number, split: number): [number, number] {
  const removed = Math.round(size * fraction);
  const start = Math.round(removed * split);
  return [start, size - removed];
}

const CAPTIONS = ['who is this?', 'new pics in the group', 'found her profile', 'more in the channel', 'rate 1-10', 'sent by a member'];
const HANDLES = ['@leaks_room', '@hot_channel', '@group_24', '@private_pics', '@the_vault'];
const NAMES = ['Anna', 'Group chat', 'Marco', 'Channel 24', 'Sofia K.', 'Friends'];
const PALETTE = ['#e53935', '#1e88e5', '#43a047', '#fdd835', '#212121'];

function stickerShape(kind: number, cx: number, cy: number, r: number, colour: string): string {
  if (kind === 0) {
    // round face: disc, two eyes, a smile
    const eye = r * 0.14;
    return (
      `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${colour}" stroke="#6d4c00" stroke-width="${r * 0.04}"/>` +
      `<circle cx="${cx - r * 0.35}" cy="${cy - r * 0.25}" r="${eye}" fill="#3e2723"/><circle cx="${cx + r * 0.35}" cy="${cy - r * 0.25}" r="${eye}" fill="#3e2723"/>` +
      `<path d="M ${cx - r * 0.5} ${cy + r * 0.15} Q ${cx} ${cy + r * 0.75} ${cx + r * 0.5} ${cy + r * 0.15}" stroke="#3e2723" stroke-width="${r * 0.1}" fill="none" stroke-linecap="round"/>`
    );
  }
  // heart filling most of its circle
  const s = r / 1.1;
  return `<path d="M ${cx} ${cy + s} C ${cx - 1.6 * s} ${cy - 0.1 * s} ${cx - 0.9 * s} ${cy - 1.3 * s} ${cx} ${cy - 0.45 * s} C ${cx + 0.9 * s} ${cy - 1.3 * s} ${cx + 1.6 * s} ${cy - 0.1 * s} ${cx} ${cy + s} Z" fill="${colour}"/>`;
}

/** The photo as it appears in a chat app, in a phone screenshot. */
async function screenshot(base: Base, random: () => number): Promise<Buffer> {
  const W = pick(random, [1080, 720, 540]);
  const H = Math.round((W * 2340) / 1080);
  const u = W / 1080; // layout unit
  const dark = random() < 0.5;
  const theme = dark
    ? { header: '#17212b', chat: '#0e1621', bubbleIn: '#182533', bubbleOut: '#2b5278', text: '#ffffff', sub: '#7f91a4', input: '#17212b', field: '#242f3d' }
    : pick(random, [
        { header: '#517da2', chat: '#d6e4ef', bubbleIn: '#ffffff', bubbleOut: '#effdde', text: '#ffffff', sub: '#dbe8f5', input: '#ffffff', field: '#f1f1f1' },
        { header: '#075e54', chat: '#ece5dd', bubbleIn: '#ffffff', bubbleOut: '#dcf8c6', text: '#ffffff', sub: '#cde8e4', input: '#f0f0f0', field: '#ffffff' },
      ]);
  const status = Math.round(0.03 * H);
  const header = Math.round(0.065 * H);
  const inputBar = Math.round(0.075 * H);
  const gesture = Math.round(0.02 * H);
  const chatTop = status + header;
  const chatBottom = H - inputBar - gesture;
  const name = escapeXml(pick(random, NAMES));
  const clock = `${String(8 + Math.floor(random() * 14)).padStart(2, '0')}:${String(Math.floor(random() * 60)).padStart(2, '0')}`;

  // the photo bubble
  const pad = Math.round(8 * u);
  let photoW = Math.round(W * uniform(random, 0.72, 0.85)) - 2 * pad;
  let photoH = Math.round((photoW * base.height) / base.width);
  const maxH = Math.round(0.52 * H);
  if (photoH > maxH) {
    photoH = maxH;
    photoW = Math.round((photoH * base.width) / base.height);
  }
  const outgoing = random() < 0.5;
  const bubbleW = photoW + 2 * pad;
  const bubbleH = photoH + 2 * pad;
  const bubbleX = outgoing ? W - bubbleW - Math.round(24 * u) : Math.round(24 * u);
  const textBubble = random() < 0.6;
  const textH = Math.round(110 * u);
  const freeTop = chatTop + Math.round(30 * u) + (textBubble ? textH + Math.round(20 * u) : 0);
  const bubbleY = Math.round(uniform(random, freeTop, Math.max(freeTop, chatBottom - bubbleH - Math.round(30 * u))));
  const bubbleFill = outgoing ? theme.bubbleOut : theme.bubbleIn;
  const msgText = dark ? '#ffffff' : '#000000';

  let body =
    `<rect width="${W}" height="${H}" fill="${theme.chat}"/>` +
    // chat wallpaper: faint dots
    Array.from({ length: 40 }, () => `<circle cx="${Math.round(random() * W)}" cy="${Math.round(chatTop + random() * (chatBottom - chatTop))}" r="${Math.round((6 + random() * 14) * u)}" fill="${dark ? '#ffffff' : '#000000'}" fill-opacity="0.04"/>`).join('') +
    `<rect width="${W}" height="${chatTop}" fill="${theme.header}"/>` +
    `<text x="${Math.round(40 * u)}" y="${Math.round(status * 0.72)}" font-size="${Math.round(status * 0.55)}" fill="${theme.text}" ${FONT}>${clock}</text>` +
    `<rect x="${W - Math.round(110 * u)}" y="${Math.round(status * 0.3)}" width="${Math.round(60 * u)}" height="${Math.round(status * 0.4)}" rx="${Math.round(6 * u)}" fill="none" stroke="${theme.text}" stroke-width="${Math.max(1, Math.round(3 * u))}"/>` +
    `<rect x="${W - Math.round(106 * u)}" y="${Math.round(status * 0.3 + 4 * u)}" width="${Math.round(40 * u)}" height="${Math.round(status * 0.4 - 8 * u)}" fill="${theme.text}"/>` +
    // header: back arrow, avatar, name, status, menu dots
    `<path d="M ${Math.round(60 * u)} ${status + header / 2 - 22 * u} l ${-22 * u} ${22 * u} l ${22 * u} ${22 * u}" stroke="${theme.text}" stroke-width="${5 * u}" fill="none"/>` +
    `<circle cx="${Math.round(150 * u)}" cy="${status + header / 2}" r="${Math.round(header * 0.33)}" fill="${pick(random, PALETTE)}"/>` +
    `<text x="${Math.round(150 * u)}" y="${status + header / 2 + header * 0.12}" font-size="${Math.round(header * 0.32)}" fill="#ffffff" text-anchor="middle" ${FONT}>${name.charAt(0)}</text>` +
    `<text x="${Math.round(215 * u)}" y="${status + header * 0.45}" font-size="${Math.round(header * 0.26)}" font-weight="bold" fill="${theme.text}" ${FONT}>${name}</text>` +
    `<text x="${Math.round(215 * u)}" y="${status + header * 0.78}" font-size="${Math.round(header * 0.2)}" fill="${theme.sub}" ${FONT}>${pick(random, ['last seen recently', 'online', '1,204 members', 'typing...'])}</text>` +
    [0.35, 0.5, 0.65].map((f) => `<circle cx="${W - Math.round(50 * u)}" cy="${status + header * f}" r="${Math.round(5 * u)}" fill="${theme.text}"/>`).join('');
  if (textBubble) {
    const textOut = random() < 0.5;
    const tw = Math.round(W * uniform(random, 0.4, 0.7));
    const tx = textOut ? W - tw - Math.round(24 * u) : Math.round(24 * u);
    const ty = chatTop + Math.round(30 * u);
    body +=
      `<rect x="${tx}" y="${ty}" width="${tw}" height="${textH}" rx="${Math.round(24 * u)}" fill="${textOut ? theme.bubbleOut : theme.bubbleIn}"/>` +
      `<text x="${tx + Math.round(28 * u)}" y="${ty + textH * 0.6}" font-size="${Math.round(38 * u)}" fill="${msgText}" ${FONT}>${escapeXml(pick(random, CAPTIONS))}</text>`;
  }
  body +=
    `<rect x="${bubbleX}" y="${bubbleY}" width="${bubbleW}" height="${bubbleH}" rx="${Math.round(24 * u)}" fill="${bubbleFill}"/>` +
    // input bar: emoji button, field, microphone
    `<rect y="${H - inputBar - gesture}" width="${W}" height="${inputBar + gesture}" fill="${theme.input}"/>` +
    `<rect x="${Math.round(24 * u)}" y="${H - inputBar - gesture + inputBar * 0.15}" width="${W - Math.round(170 * u)}" height="${Math.round(inputBar * 0.7)}" rx="${Math.round(inputBar * 0.35)}" fill="${theme.field}"/>` +
    `<circle cx="${Math.round(24 * u + inputBar * 0.4)}" cy="${H - inputBar - gesture + inputBar / 2}" r="${Math.round(inputBar * 0.18)}" fill="none" stroke="#8a8a8a" stroke-width="${3 * u}"/>` +
    `<text x="${Math.round(24 * u + inputBar * 0.8)}" y="${H - inputBar - gesture + inputBar * 0.6}" font-size="${Math.round(inputBar * 0.3)}" fill="#8a8a8a" ${FONT}>Message</text>` +
    `<circle cx="${W - Math.round(75 * u)}" cy="${H - inputBar - gesture + inputBar / 2}" r="${Math.round(inputBar * 0.38)}" fill="${theme.header}"/>` +
    `<rect x="${W / 2 - 70 * u}" y="${H - gesture / 2 - 4 * u}" width="${140 * u}" height="${8 * u}" rx="${4 * u}" fill="${dark ? '#ffffff' : '#000000'}" fill-opacity="0.5"/>`;

  const photo = await raw(base).resize(photoW, photoH, { kernel: 'lanczos3' }).png().toBuffer();
  const stampW = Math.round(110 * u);
  const stampH = Math.round(40 * u);
  const stamp = svg(
    stampW,
    stampH,
    `<rect width="${stampW}" height="${stampH}" rx="${stampH / 2}" fill="#000000" fill-opacity="0.4"/><text x="${stampW / 2}" y="${stampH * 0.72}" font-size="${Math.round(stampH * 0.6)}" fill="#ffffff" text-anchor="middle" ${FONT}>${clock}</text>`,
  );
  const canvas = await sharp(svg(W, H, body)).flatten({ background: theme.chat }).png().toBuffer();
  return jpeg(
    sharp(canvas).composite([
      { input: photo, left: bubbleX + pad, top: bubbleY + pad },
      ...(photoW > stampW * 2 && photoH > stampH * 2
        ? [{ input: stamp, left: bubbleX + pad + photoW - stampW - Math.round(12 * u), top: bubbleY + pad + photoH - stampH - Math.round(12 * u) }]
        : []),
    ]),
  );
}

async function collage(base: Base, random: () => number, others: readonly Uint8Array[]): Promise<Buffer> {
  if (others.length < 3) throw new Error('collage needs 3 other photos');
  const cellW = Math.min(base.width, 800);
  const cellH = Math.max(1, Math.round((cellW * base.height) / base.width));
  const gap = random() < 0.5 ? Math.max(2, Math.round(cellW * 0.01)) : 0;
  const slot = Math.floor(random() * 4);
  const cells: Buffer[] = [];
  let other = 0;
  for (let i = 0; i < 4; i++) {
    cells.push(
      i === slot
        ? await raw(base).resize(cellW, cellH, { kernel: 'lanczos3' }).png().toBuffer()
        : await sharp(others[other++]).removeAlpha().resize(cellW, cellH, { fit: 'cover' }).png().toBuffer(),
    );
  }
  return jpeg(
    sharp({ create: { width: 2 * cellW + gap, height: 2 * cellH + gap, channels: 3, background: '#ffffff' } }).composite(
      cells.map((input, i) => ({ input, left: (i % 2) * (cellW + gap), top: Math.floor(i / 2) * (cellH + gap) })),
    ),
  );
}

/** Largest centred rectangle of the w:h aspect inside a w x h image turned by `degrees`: scale factor. */
export function inscribedScale(width: number, height: number, degrees: number): number {
  const t = (Math.abs(degrees) * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  return Math.min(width / (width * c + height * s), height / (width * s + height * c));
}

export const TRANSFORMS: readonly Transform[] = [
  // easy
  { name: 'jpeg-q50', category: 'easy', format: 'jpeg', apply: (b) => jpeg(raw(b), 50) },
  { name: 'resize-50', category: 'easy', format: 'jpeg', apply: (b) => jpeg(raw(b).resize(Math.round(b.width * 0.5), Math.round(b.height * 0.5), { kernel: 'lanczos3' })) },
  { name: 'resize-30', category: 'easy', format: 'jpeg', apply: (b) => jpeg(raw(b).resize(Math.round(b.width * 0.3), Math.round(b.height * 0.3), { kernel: 'lanczos3' })) },
  { name: 'blur', category: 'easy', format: 'jpeg', apply: (b) => jpeg(raw(b).blur(1.5)) },
  {
    name: 'noise',
    category: 'easy',
    format: 'jpeg',
    apply: async (b, random) => {
      const out = Buffer.allocUnsafe(b.data.length);
      for (let i = 0; i < out.length; i += 2) {
        // Box-Muller: two independent N(0,1) per pair of uniforms
        const r = Math.sqrt(-2 * Math.log(1 - random()));
        const a = 2 * Math.PI * random();
        out[i] = Math.max(0, Math.min(255, Math.round(b.data[i] + 10 * r * Math.cos(a))));
        if (i + 1 < out.length) out[i + 1] = Math.max(0, Math.min(255, Math.round(b.data[i + 1] + 10 * r * Math.sin(a))));
      }
      return jpeg(sharp(out, { raw: { width: b.width, height: b.height, channels: 3 } }));
    },
  },
  { name: 'brighter', category: 'easy', format: 'jpeg', apply: (b) => jpeg(mapLevels(b, (v) => v + 40)) },
  { name: 'darker', category: 'easy', format: 'jpeg', apply: (b) => jpeg(mapLevels(b, (v) => v - 40)) },
  { name: 'contrast', category: 'easy', format: 'jpeg', apply: (b) => jpeg(mapLevels(b, (v) => 1.4 * (v - 128) + 128)) },
  { name: 'gamma', category: 'easy', format: 'jpeg', apply: (b) => jpeg(mapLevels(b, (v) => 255 * Math.pow(v / 255, 0.6))) },
  { name: 'greyscale', category: 'easy', format: 'jpeg', apply: (b) => jpeg(raw(b).greyscale().toColourspace('srgb')) },
  { name: 'png', category: 'easy', format: 'png', apply: (b) => raw(b).png().toBuffer() },
  { name: 'webp', category: 'easy', format: 'webp', apply: (b) => raw(b).webp({ quality: 75 }).toBuffer() },

  // medium
  {
    name: 'crop-uneven',
    category: 'medium',
    format: 'jpeg',
    apply: (b, random) => {
      const [left, width] = cut(b.width, uniform(random, 0.05, 0.1), uniform(random, 0.15, 0.85));
      const [top, height] = cut(b.height, uniform(random, 0.05, 0.1), uniform(random, 0.15, 0.85));
      return jpeg(raw(b).extract({ left, top, width, height }));
    },
  },
  {
    name: 'letterbox',
    category: 'medium',
    format: 'jpeg',
    apply: (b, random) => {
      const black = { r: 0, g: 0, b: 0 };
      if (b.height > b.width) {
        const side = Math.round(b.width * uniform(random, 0.1, 0.15));
        return jpeg(raw(b).extend({ left: side, right: side, background: black }));
      }
      const bar = Math.round(b.height * uniform(random, 0.1, 0.15));
      return jpeg(raw(b).extend({ top: bar, bottom: bar, background: black }));
    },
  },
  {
    name: 'frame-white',
    category: 'medium',
    format: 'jpeg',
    apply: (b, random) => {
      const border = Math.round(Math.min(b.width, b.height) * uniform(random, 0.05, 0.08));
      return jpeg(raw(b).extend({ top: border, bottom: border, left: border, right: border, background: { r: 255, g: 255, b: 255 } }));
    },
  },
  {
    name: 'caption',
    category: 'medium',
    format: 'jpeg',
    apply: (b, random) => {
      const band = Math.round(b.height * 0.12);
      const colour = pick(random, PALETTE);
      const ink = colour === '#fdd835' ? '#000000' : '#ffffff';
      const above = random() < 0.5;
      const text = escapeXml(pick(random, CAPTIONS));
      const layer = svg(
        b.width,
        band,
        `<rect width="${b.width}" height="${band}" fill="${colour}"/><text x="${b.width / 2}" y="${band * 0.68}" font-size="${Math.round(band * 0.5)}" font-weight="bold" fill="${ink}" text-anchor="middle" ${FONT}>${text}</text>`,
      );
      return sharp(layer)
        .flatten({ background: colour })
        .png()
        .toBuffer()
        .then((caption) =>
          jpeg(
            raw(b)
              .extend({ [above ? 'top' : 'bottom']: band, background: { r: 0, g: 0, b: 0 } })
              .composite([{ input: caption, left: 0, top: above ? 0 : b.height }]),
          ),
        );
    },
  },
  {
    name: 'watermark',
    category: 'medium',
    format: 'jpeg',
    apply: (b, random) => {
      const handle = escapeXml(pick(random, HANDLES));
      const size = Math.round(b.width * 0.08);
      const lines = [0.25, 0.55, 0.85]
        .map(
          (f) =>
            `<text x="${b.width / 2}" y="${Math.round(b.height * f)}" font-size="${size}" font-weight="bold" text-anchor="middle" fill="#ffffff" fill-opacity="0.4" stroke="#000000" stroke-opacity="0.25" stroke-width="${Math.max(1, size / 30)}" transform="rotate(-25 ${b.width / 2} ${Math.round(b.height * f)})" ${FONT}>${handle}</text>`,
        )
        .join('');
      return jpeg(raw(b).composite([{ input: svg(b.width, b.height, lines), left: 0, top: 0 }]));
    },
  },
  {
    name: 'stickers',
    category: 'medium',
    format: 'jpeg',
    apply: (b, random) => {
      const count = random() < 0.5 ? 2 : 3;
      const total = uniform(random, 0.05, 0.08) * b.width * b.height;
      const shares = Array.from({ length: count }, () => 0.5 + random());
      const sum = shares.reduce((x, y) => x + y, 0);
      const shapes = shares
        .map((share) => {
          const r = Math.min(Math.sqrt((total * share) / sum / Math.PI), Math.min(b.width, b.height) / 2 - 1);
          const cx = uniform(random, r, b.width - r);
          const cy = uniform(random, r, b.height - r);
          return stickerShape(random() < 0.6 ? 0 : 1, cx, cy, r, pick(random, ['#ffca28', '#ff7043', '#ec407a', '#ffd54f']));
        })
        .join('');
      return jpeg(raw(b).composite([{ input: svg(b.width, b.height, shapes), left: 0, top: 0 }]));
    },
  },
  { name: 'mirror', category: 'medium', format: 'jpeg', apply: (b) => jpeg(raw(b).flop()) },
  { name: 'rot90', category: 'medium', format: 'jpeg', apply: (b) => jpeg(raw(b).rotate(90)) },
  { name: 'rot180', category: 'medium', format: 'jpeg', apply: (b) => jpeg(raw(b).rotate(180)) },
  { name: 'rot270', category: 'medium', format: 'jpeg', apply: (b) => jpeg(raw(b).rotate(270)) },

  // hard
  {
    name: 'crop-20',
    category: 'hard',
    format: 'jpeg',
    apply: (b, random) => {
      const removed = 1 - Math.sqrt(0.8);
      const [left, width] = cut(b.width, removed, uniform(random, 0.2, 0.8));
      const [top, height] = cut(b.height, removed, uniform(random, 0.2, 0.8));
      return jpeg(raw(b).extract({ left, top, width, height }));
    },
  },
  {
    name: 'center-70',
    category: 'hard',
    format: 'jpeg',
    apply: (b) => {
      const width = Math.round(b.width * 0.7);
      const height = Math.round(b.height * 0.7);
      return jpeg(raw(b).extract({ left: Math.round((b.width - width) / 2), top: Math.round((b.height - height) / 2), width, height }));
    },
  },
  {
    name: 'rotate-small',
    category: 'hard',
    format: 'jpeg',
    apply: async (b, random) => {
      const degrees = uniform(random, 4, 7) * (random() < 0.5 ? -1 : 1);
      const turned = await raw(b).rotate(degrees, { background: { r: 0, g: 0, b: 0 } }).raw().toBuffer({ resolveWithObject: true });
      const scale = inscribedScale(b.width, b.height, degrees);
      // one pixel of margin against the interpolated edge
      const width = Math.floor(b.width * scale) - 2;
      const height = Math.floor(b.height * scale) - 2;
      const left = Math.round((turned.info.width - width) / 2);
      const top = Math.round((turned.info.height - height) / 2);
      return jpeg(sharp(turned.data, { raw: { width: turned.info.width, height: turned.info.height, channels: 3 } }).extract({ left, top, width, height }));
    },
  },
  { name: 'screenshot', category: 'hard', format: 'jpeg', apply: (b, random) => screenshot(b, random) },
  { name: 'collage', category: 'hard', format: 'jpeg', others: 3, apply: (b, random, context) => collage(b, random, context.others ?? []) },
];

export function transformByName(name: string): Transform {
  const transform = TRANSFORMS.find((t) => t.name === name);
  if (!transform) throw new Error(`no transform ${JSON.stringify(name)}`);
  return transform;
}

/** One variant of a photo: the transform's bytes, the same for the same base, seed and others. */
export function makeVariant(base: Base, transform: Transform, context: VariantContext): Promise<Buffer> {
  if ((transform.others ?? 0) > (context.others?.length ?? 0)) throw new Error(`${transform.name} needs ${transform.others} other photos`);
  return transform.apply(base, seededRandom(`${context.seed}/${transform.name}`), context);
}
