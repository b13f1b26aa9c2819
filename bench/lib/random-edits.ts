/**
 * Edits stolen photos come back with, drawn AT RANDOM over realistic ranges
 * (issue 18): the independent quality set of bench/quality.
 *
 * This module knows nothing of the matching method: it imports nothing from
 * src/ (no region grid, no threshold, no hash), only sharp. Every parameter is
 * drawn from a generator seeded with `${seed}/${photo}/${family}/${k}`, so a
 * run is repeatable and the same for every method measured on it.
 *
 * Each family's edits are stratified over its bins (one draw per bin, the
 * amount uniform inside the bin), so that the recall curve has as many pairs
 * in every bin. After the edit, a variant is delivered as a messaging app
 * would: the long side scaled down to one of 960, 1280, 1600 or 2048 px if
 * larger, JPEG quality U[70, 95] (families that choose their own format say so).
 *
 * | family | amount (bins) | what is drawn |
 * | --- | --- | --- |
 * | reencode | JPEG or WebP quality, 20-100 in 4 bins | format (JPEG, WebP) and quality U[20, 95] |
 * | resize | output long side, px: 160-320-640-1280-2048 | long side uniform in the bin (never above the original's) |
 * | colour | kind: levels, saturation, tone | levels: brightness x U[0.7, 1.3], + U[-30, 30], contrast U[0.7, 1.4], gamma U[0.6, 1.7]; saturation U[0, 1.8] (0 = greyscale); tone: hue turned U[-40, 40] degrees, or sepia, or a colour tint of strength U[0.15, 0.4] |
 * | crop | share of the more-cut axis removed: 0-35% in 5% bins | that share on a random axis, U[0, it] on the other, each axis's cut split between its two edges by U[0, 1] |
 * | centre | share of the area removed: 0-50% in 10% bins | centred; each side scaled by sqrt(kept area) times U[0.9, 1.1] (and its inverse on the other side) |
 * | rotate | degrees, 0-15 in 2.5 bins | sign at random; the largest centred rectangle of the photo's shape inside the turned photo (no corners), times U[0.96, 1] |
 * | stickers | share of the photo covered: 0-25% in 5% bins | 1-6 stickers (emoji faces, hearts, stars, round badges, labels "18+", "HOT", "NEW", "LEAK"), opaque, random sizes, colours and places; the share is measured from the drawn layer |
 * | watermark | mean opacity over the photo: 0-25% in 5% bins | tiled diagonal handles, a corner handle on a box, a large centred handle, or a round logo; opacity U[0.35, 1]; measured from the drawn layer |
 * | caption | bar height over photo height: 5-30% in 5% bins | above, below (the canvas grows), over the top, bottom or middle (opacity U[0.6, 1]), or both top and bottom (meme); colour and one or two lines of text |
 * | screenshot | photo's share of the screenshot's area: 0-15-30-45-100% | chat bubble (photo U[0.5, 0.85] of the screen width), full-screen viewer (toolbars over the photo), or feed post (header, photo, actions); phone 720-1440 px wide, light or dark |
 * | collage | number of cells, 2-9 | cells in rows; each cell's shape is its row's (the photo's cell U[0.75, 1.33] x the photo's aspect), every photo cropped to fill its cell (centred); gaps 0-1.5% of the width in white, black or a colour |
 *
 * Dark and low-contrast originals (`darkOriginal`): the photo darkened
 * (x U[0.06, 0.3], then gamma U[1, 1.6]) or flattened (its levels squeezed
 * to a range U[10, 40] wide around a level U[40, 200]); `darkEdit` makes
 * their reposts: re-encoded (JPEG U[50, 95]), resized (long side U[320,
 * 1280]), cropped (up to 35% per axis as above) or shared (resized to U[640,
 * 1280] and re-encoded at U[60, 85]).
 */
import { createHash } from 'node:crypto';
import sharp, { type OverlayOptions, type Sharp } from 'sharp';

export type FamilyName = 'reencode' | 'resize' | 'colour' | 'crop' | 'centre' | 'rotate' | 'stickers' | 'watermark' | 'caption' | 'screenshot' | 'collage';
export type FamilyGroup = 'easy' | 'geometric' | 'overlay' | 'composite';

export interface Family {
  name: FamilyName;
  group: FamilyGroup;
  /** What the amount measures, for the report. */
  unit: string;
  /** Bin labels in order; numeric families also give their edges. */
  bins: readonly string[];
  edges?: readonly number[];
  /** How many other photos one edit needs (collage cells). */
  others?: number;
}

const numeric = (edges: number[], format: (x: number) => string) => ({
  edges,
  bins: edges.slice(0, -1).map((lo, i) => `${format(lo)}-${format(edges[i + 1])}`),
});
const percent = (x: number) => `${Math.round(x * 100)}%`;

export const FAMILIES: readonly Family[] = [
  { name: 'reencode', group: 'easy', unit: 'quality', ...numeric([20, 40, 60, 80, 100], String) },
  { name: 'resize', group: 'easy', unit: 'long side px', ...numeric([160, 320, 640, 1280, 2048], String) },
  { name: 'colour', group: 'easy', unit: 'kind', bins: ['levels', 'saturation', 'tone'] },
  { name: 'crop', group: 'geometric', unit: 'share of an axis removed', ...numeric([0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35], percent) },
  { name: 'centre', group: 'geometric', unit: 'share of the area removed', ...numeric([0, 0.1, 0.2, 0.3, 0.4, 0.5], percent) },
  { name: 'rotate', group: 'geometric', unit: 'degrees', ...numeric([0, 2.5, 5, 7.5, 10, 12.5, 15], String) },
  { name: 'stickers', group: 'overlay', unit: 'share covered', ...numeric([0, 0.05, 0.1, 0.15, 0.2, 0.25], percent) },
  { name: 'watermark', group: 'overlay', unit: 'mean opacity', ...numeric([0, 0.05, 0.1, 0.15, 0.2, 0.25], percent) },
  { name: 'caption', group: 'overlay', unit: 'bar height / photo height', ...numeric([0.05, 0.1, 0.15, 0.2, 0.25, 0.3], percent) },
  { name: 'screenshot', group: 'composite', unit: 'photo share of the screen', ...numeric([0, 0.15, 0.3, 0.45, 1], percent) },
  { name: 'collage', group: 'composite', unit: 'cells', bins: ['2', '3', '4', '5', '6', '7', '8', '9'], others: 8 },
];

export const familyByName = (name: string): Family => {
  const family = FAMILIES.find((f) => f.name === name);
  if (!family) throw new Error(`no edit family ${JSON.stringify(name)}; known: ${FAMILIES.map((f) => f.name).join(', ')}`);
  return family;
};

/** The bin label of an amount in a numeric family (the last bin is closed). */
export function binOf(family: Family, amount: number): string {
  const edges = family.edges!;
  for (let i = 0; i < edges.length - 1; i++) if (amount < edges[i + 1]) return family.bins[i];
  return family.bins[family.bins.length - 1];
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

type Random = () => number;
const uniform = (random: Random, lo: number, hi: number) => lo + (hi - lo) * random();
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)];
const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

/** One drawn edit: the family, the drawn amount (numeric families) and the bin it is reported in (measured where drawing cannot set it exactly). */
export interface Edit {
  family: FamilyName;
  bin: string;
  amount: number;
  /** What else was drawn, for a person reading the cache. */
  detail: string;
}

export interface Photo {
  /** Decoded RGB, width x height x 3. */
  data: Buffer;
  width: number;
  height: number;
}

export async function decodePhoto(bytes: Uint8Array): Promise<Photo> {
  const { data, info } = await sharp(bytes).rotate().removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

const raw = (photo: Photo): Sharp => sharp(photo.data, { raw: { width: photo.width, height: photo.height, channels: 3 } });
const toPhoto = async (image: Sharp): Promise<Photo> => {
  const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
};

/** The last step of every edit: scaled to a messaging app's size and re-encoded. */
async function deliver(image: Photo, random: Random): Promise<Buffer> {
  const longSide = pick(random, [960, 1280, 1600, 2048]);
  const scale = Math.min(1, longSide / Math.max(image.width, image.height));
  let out = raw(image);
  if (scale < 1) out = out.resize(Math.max(1, Math.round(image.width * scale)), Math.max(1, Math.round(image.height * scale)), { kernel: 'lanczos3' });
  return out.jpeg({ quality: Math.round(uniform(random, 70, 95)) }).toBuffer();
}

/**
 * The k-th edit of a family for one photo (k < family.bins.length: the
 * stratum), with its bytes. `others` are decoded photos for collage cells.
 */
export async function makeEdit(photo: Photo, family: Family, k: number, seed: string, others: readonly Photo[] = []): Promise<{ edit: Edit; bytes: Buffer }> {
  const random = seededRandom(`${seed}/${family.name}/${k}`);
  const drawn = await EDITS[family.name](photo, random, k, family, others);
  const bytes = drawn.bytes ?? (await deliver(drawn.image!, random));
  return { edit: { family: family.name, bin: drawn.bin ?? binOf(family, drawn.amount), amount: drawn.amount, detail: drawn.detail }, bytes };
}

interface Drawn {
  image?: Photo;
  /** Set when the edit chose its own format. */
  bytes?: Buffer;
  amount: number;
  bin?: string;
  detail: string;
}
type EditFn = (photo: Photo, random: Random, k: number, family: Family, others: readonly Photo[]) => Promise<Drawn>;

/** An amount uniform inside bin k of a numeric family. */
const inBin = (family: Family, k: number, random: Random) => uniform(random, family.edges![k], family.edges![k + 1]);

// ------------------------------------------------------------------ easy

async function reencode(photo: Photo, random: Random, k: number, family: Family): Promise<Drawn> {
  const quality = Math.round(clamp(inBin(family, k, random), 20, 95));
  const webp = random() < 0.5;
  const image = raw(photo);
  const bytes = webp ? await image.webp({ quality }).toBuffer() : await image.jpeg({ quality }).toBuffer();
  return { bytes, amount: quality, detail: `${webp ? 'webp' : 'jpeg'} q${quality}` };
}

async function resize(photo: Photo, random: Random, k: number, family: Family): Promise<Drawn> {
  const long = Math.max(photo.width, photo.height);
  const target = Math.round(Math.min(inBin(family, k, random), long));
  const scale = target / long;
  const width = Math.max(1, Math.round(photo.width * scale));
  const height = Math.max(1, Math.round(photo.height * scale));
  const kernel = pick(random, ['lanczos3', 'cubic', 'linear', 'nearest'] as const);
  const bytes = await raw(photo).resize(width, height, { kernel }).jpeg({ quality: Math.round(uniform(random, 70, 95)) }).toBuffer();
  return { bytes, amount: target, detail: `${width}x${height} ${kernel}` };
}

/** Applies a per-value function to every channel through a lookup table. */
function mapLevels(photo: Photo, f: (v: number) => number): Photo {
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = clamp(Math.round(f(v)), 0, 255);
  const data = Buffer.allocUnsafe(photo.data.length);
  for (let i = 0; i < data.length; i++) data[i] = lut[photo.data[i]];
  return { ...photo, data };
}

async function colour(photo: Photo, random: Random, k: number): Promise<Drawn> {
  const kind = ['levels', 'saturation', 'tone'][k];
  if (kind === 'levels') {
    const gain = uniform(random, 0.7, 1.3);
    const offset = uniform(random, -30, 30);
    const contrast = uniform(random, 0.7, 1.4);
    const gamma = uniform(random, 0.6, 1.7);
    const image = mapLevels(photo, (v) => 255 * Math.pow(clamp((contrast * (v * gain + offset - 128) + 128) / 255, 0, 1), gamma));
    return { image, amount: k, bin: kind, detail: `gain ${gain.toFixed(2)} offset ${offset.toFixed(0)} contrast ${contrast.toFixed(2)} gamma ${gamma.toFixed(2)}` };
  }
  if (kind === 'saturation') {
    const saturation = uniform(random, 0, 1.8);
    return { image: await toPhoto(raw(photo).modulate({ saturation })), amount: k, bin: kind, detail: `saturation ${saturation.toFixed(2)}` };
  }
  const tone = pick(random, ['hue', 'sepia', 'tint'] as const);
  if (tone === 'hue') {
    const hue = Math.round(uniform(random, -40, 40));
    return { image: await toPhoto(raw(photo).modulate({ hue })), amount: k, bin: kind, detail: `hue ${hue}` };
  }
  if (tone === 'sepia') {
    const image = await toPhoto(raw(photo).recomb([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]]));
    return { image, amount: k, bin: kind, detail: 'sepia' };
  }
  const strength = uniform(random, 0.15, 0.4);
  const tint = [pick(random, [255, 40]), pick(random, [255, 120, 40]), pick(random, [255, 40])];
  const data = Buffer.allocUnsafe(photo.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.round((1 - strength) * photo.data[i] + strength * tint[i % 3]);
  return { image: { ...photo, data }, amount: k, bin: kind, detail: `tint ${tint.join(',')} x${strength.toFixed(2)}` };
}

// ------------------------------------------------------------------ geometric

/** Cuts `fraction` of `size` off, split between the two edges by `split`: [start, kept length]. */
function cut(size: number, fraction: number, split: number): [number, number] {
  const removed = Math.round(size * fraction);
  const start = Math.round(removed * split);
  return [start, Math.max(1, size - removed)];
}

async function crop(photo: Photo, random: Random, k: number, family: Family): Promise<Drawn> {
  const most = inBin(family, k, random);
  const other = uniform(random, 0, most);
  const acrossMost = random() < 0.5;
  const [rx, ry] = acrossMost ? [most, other] : [other, most];
  const [sx, sy] = [random(), random()];
  const [left, width] = cut(photo.width, rx, sx);
  const [top, height] = cut(photo.height, ry, sy);
  const image = await toPhoto(raw(photo).extract({ left, top, width, height }));
  return { image, amount: most, detail: `x ${percent(rx)} split ${sx.toFixed(2)}, y ${percent(ry)} split ${sy.toFixed(2)}` };
}

async function centre(photo: Photo, random: Random, k: number, family: Family): Promise<Drawn> {
  const removed = inBin(family, k, random);
  const jitter = uniform(random, 0.9, 1.1);
  const kx = Math.min(1, Math.sqrt(1 - removed) * jitter);
  const ky = Math.min(1, (1 - removed) / kx);
  const width = Math.max(1, Math.round(photo.width * kx));
  const height = Math.max(1, Math.round(photo.height * ky));
  const image = await toPhoto(raw(photo).extract({ left: Math.round((photo.width - width) / 2), top: Math.round((photo.height - height) / 2), width, height }));
  return { image, amount: 1 - kx * ky, detail: `kept ${percent(kx)} x ${percent(ky)}` };
}

/** Scale of the largest centred rectangle of the w:h shape inside a w x h image turned by `degrees`. */
export function inscribedScale(width: number, height: number, degrees: number): number {
  const t = (Math.abs(degrees) * Math.PI) / 180;
  const c = Math.cos(t);
  const s = Math.sin(t);
  return Math.min(width / (width * c + height * s), height / (width * s + height * c));
}

async function rotate(photo: Photo, random: Random, k: number, family: Family): Promise<Drawn> {
  const degrees = inBin(family, k, random) * (random() < 0.5 ? -1 : 1);
  const turned = await raw(photo).rotate(degrees, { background: { r: 0, g: 0, b: 0 } }).raw().toBuffer({ resolveWithObject: true });
  const scale = inscribedScale(photo.width, photo.height, degrees) * uniform(random, 0.96, 1);
  const width = Math.max(1, Math.floor(photo.width * scale) - 2);
  const height = Math.max(1, Math.floor(photo.height * scale) - 2);
  const left = Math.round((turned.info.width - width) / 2);
  const top = Math.round((turned.info.height - height) / 2);
  const image = await toPhoto(sharp(turned.data, { raw: { width: turned.info.width, height: turned.info.height, channels: 3 } }).extract({ left, top, width, height }));
  return { image, amount: Math.abs(degrees), detail: `${degrees.toFixed(2)} degrees, kept ${percent(scale)}` };
}

// ------------------------------------------------------------------ overlays

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const svg = (width: number, height: number, body: string) =>
  Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}</svg>`);
const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';
const HANDLES = ['@leaks_room', '@hot_channel', '@group_24', '@private_pics', '@the_vault', 't.me/balkan_x', '@exposed_daily'];
const CAPTIONS = ['who is this?', 'new pics in the group', 'found her profile', 'more in the channel', 'rate 1-10', 'sent by a member', 'DM for more', 'full set in comments'];
const LABELS = ['18+', 'HOT', 'NEW', 'LEAK', 'VIP'];
const PALETTE = ['#e53935', '#1e88e5', '#43a047', '#fdd835', '#212121', '#ffffff', '#8e24aa', '#ff6f00'];
const STICKER_COLOURS = ['#ffca28', '#ff7043', '#ec407a', '#ffd54f', '#29b6f6', '#66bb6a', '#ab47bc', '#ffffff', '#212121'];

/** Mean alpha (0-1) of an SVG layer drawn at the photo's size: how much of the photo it hides. */
async function coverage(layer: Buffer): Promise<number> {
  const { data, info } = await sharp(layer).ensureAlpha().extractChannel(3).raw().toBuffer({ resolveWithObject: true });
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum += data[i];
  return sum / (255 * info.width * info.height);
}

function stickerShape(random: Random, cx: number, cy: number, r: number): string {
  const colour = pick(random, STICKER_COLOURS);
  const kind = Math.floor(random() * 5);
  if (kind === 0) {
    const eye = r * 0.14;
    return (
      `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${pick(random, ['#ffca28', '#ffd54f', '#ffb300'])}" stroke="#6d4c00" stroke-width="${r * 0.04}"/>` +
      `<circle cx="${cx - r * 0.35}" cy="${cy - r * 0.25}" r="${eye}" fill="#3e2723"/><circle cx="${cx + r * 0.35}" cy="${cy - r * 0.25}" r="${eye}" fill="#3e2723"/>` +
      `<path d="M ${cx - r * 0.5} ${cy + r * 0.15} Q ${cx} ${cy + r * 0.75} ${cx + r * 0.5} ${cy + r * 0.15}" stroke="#3e2723" stroke-width="${r * 0.1}" fill="none" stroke-linecap="round"/>`
    );
  }
  if (kind === 1) {
    const s = r / 1.1;
    return `<path d="M ${cx} ${cy + s} C ${cx - 1.6 * s} ${cy - 0.1 * s} ${cx - 0.9 * s} ${cy - 1.3 * s} ${cx} ${cy - 0.45 * s} C ${cx + 0.9 * s} ${cy - 1.3 * s} ${cx + 1.6 * s} ${cy - 0.1 * s} ${cx} ${cy + s} Z" fill="${pick(random, ['#e53935', '#ec407a', '#d81b60'])}"/>`;
  }
  if (kind === 2) {
    const points = Array.from({ length: 10 }, (_, i) => {
      const radius = i % 2 === 0 ? r : r * 0.45;
      const a = (i * Math.PI) / 5 - Math.PI / 2;
      return `${cx + radius * Math.cos(a)},${cy + radius * Math.sin(a)}`;
    }).join(' ');
    return `<polygon points="${points}" fill="${pick(random, ['#ffd600', '#ffab00', '#ffffff'])}" stroke="#000000" stroke-opacity="0.3" stroke-width="${r * 0.03}"/>`;
  }
  if (kind === 3) {
    const ink = colour === '#ffffff' || colour === '#ffd54f' ? '#000000' : '#ffffff';
    return `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${colour}"/><text x="${cx}" y="${cy + r * 0.22}" font-size="${r * 0.62}" font-weight="bold" fill="${ink}" text-anchor="middle" ${FONT}>${pick(random, LABELS)}</text>`;
  }
  const w = r * 1.9;
  const h = r * 0.9;
  const ink = colour === '#ffffff' || colour === '#ffd54f' ? '#000000' : '#ffffff';
  return `<rect x="${cx - w / 2}" y="${cy - h / 2}" width="${w}" height="${h}" rx="${h * 0.2}" fill="${colour}" transform="rotate(${uniform(random, -20, 20)} ${cx} ${cy})"/><text x="${cx}" y="${cy + h * 0.22}" font-size="${h * 0.6}" font-weight="bold" fill="${ink}" text-anchor="middle" ${FONT}>${pick(random, LABELS)}</text>`;
}

async function stickers(photo: Photo, random: Random, k: number, family: Family): Promise<Drawn> {
  const target = inBin(family, k, random);
  const count = 1 + Math.floor(random() * 6);
  const shares = Array.from({ length: count }, () => 0.3 + random());
  const sum = shares.reduce((a, b) => a + b, 0);
  const area = photo.width * photo.height;
  const places = shares.map(() => [random(), random()]);
  const state = random();
  // Shapes fill their circles unevenly and may overlap: sizes are scaled until the drawn share is the target's.
  let scale = 1;
  let best = { layer: svg(photo.width, photo.height, ''), covered: 0 };
  for (let step = 0; step < 4; step++) {
    const shapeRandom = seededRandom(`${state}`);
    const shapes = shares.map((share, i) => {
      const r = Math.min(scale * Math.sqrt((target * area * share) / sum / (0.8 * Math.PI)), Math.min(photo.width, photo.height) / 2 - 1);
      return stickerShape(shapeRandom, r + places[i][0] * (photo.width - 2 * r), r + places[i][1] * (photo.height - 2 * r), r);
    });
    const layer = svg(photo.width, photo.height, shapes.join(''));
    const covered = await coverage(layer);
    if (Math.abs(covered - target) < Math.abs(best.covered - target)) best = { layer, covered };
    scale *= Math.sqrt(target / Math.max(covered, 1e-4));
  }
  const image = await toPhoto(raw(photo).composite([{ input: best.layer, left: 0, top: 0 }]));
  return { image, amount: best.covered, detail: `${count} stickers` };
}

function watermarkLayer(photo: Photo, random: Random, size: number, opacity: number): string {
  const { width: w, height: h } = photo;
  const handle = escapeXml(pick(random, HANDLES));
  const style = pick(random, ['tiled', 'corner', 'centre', 'logo'] as const);
  const text = (x: number, y: number, s: number, extra = '') =>
    `<text x="${x}" y="${y}" font-size="${s}" font-weight="bold" text-anchor="middle" fill="#ffffff" stroke="#000000" stroke-opacity="0.5" stroke-width="${Math.max(1, s / 25)}" ${extra} ${FONT}>${handle}</text>`;
  if (style === 'tiled') {
    const angle = uniform(random, -40, 40);
    const rows = Math.max(1, Math.round(h / (size * 3)));
    const lines = Array.from({ length: rows }, (_, i) => text(w / 2, ((i + 0.5) * h) / rows + size / 3, size, `transform="rotate(${angle} ${w / 2} ${((i + 0.5) * h) / rows})"`));
    return `<g opacity="${opacity}">${lines.join('')}</g>`;
  }
  if (style === 'corner') {
    const bw = size * handle.length * 0.62;
    const x = random() < 0.5 ? bw / 2 + size * 0.3 : w - bw / 2 - size * 0.3;
    const y = random() < 0.5 ? size * 1.2 : h - size * 0.5;
    return `<g opacity="${opacity}"><rect x="${x - bw / 2}" y="${y - size}" width="${bw}" height="${size * 1.3}" fill="#000000" fill-opacity="0.5"/>${text(x, y, size)}</g>`;
  }
  if (style === 'centre') return `<g opacity="${opacity}">${text(w / 2, h / 2 + size / 3, size * 1.6, `transform="rotate(${uniform(random, -30, 0)} ${w / 2} ${h / 2})"`)}</g>`;
  const r = size * 2.2;
  const cx = uniform(random, r, w - r);
  const cy = uniform(random, r, h - r);
  return `<g opacity="${opacity}"><circle cx="${cx}" cy="${cy}" r="${r}" fill="${pick(random, PALETTE)}" stroke="#ffffff" stroke-width="${r * 0.08}"/>${text(cx, cy + size * 0.3, size * 0.8)}</g>`;
}

async function watermark(photo: Photo, random: Random, k: number, family: Family): Promise<Drawn> {
  const target = inBin(family, k, random);
  const opacity = uniform(random, 0.35, 1);
  const state = random();
  // The layout's coverage is not known before it is drawn: the text size is searched for the drawn share.
  let lo = 0.01;
  let hi = 0.6;
  let best = { layer: svg(photo.width, photo.height, ''), covered: 0 };
  for (let step = 0; step < 7; step++) {
    const size = Math.max(8, ((lo + hi) / 2) * Math.min(photo.width, photo.height));
    const layer = svg(photo.width, photo.height, watermarkLayer(photo, seededRandom(`${state}`), size, opacity));
    const covered = await coverage(layer);
    if (Math.abs(covered - target) < Math.abs(best.covered - target)) best = { layer, covered };
    if (covered < target) lo = (lo + hi) / 2;
    else hi = (lo + hi) / 2;
  }
  const image = await toPhoto(raw(photo).composite([{ input: best.layer, left: 0, top: 0 }]));
  return { image, amount: best.covered, detail: `opacity ${opacity.toFixed(2)}` };
}

function captionBar(random: Random, width: number, height: number, opacity: number): string {
  const colour = pick(random, PALETTE);
  const ink = ['#fdd835', '#ffffff'].includes(colour) ? '#000000' : '#ffffff';
  const lines = height > width * 0.12 && random() < 0.5 ? [pick(random, CAPTIONS), pick(random, CAPTIONS)] : [pick(random, CAPTIONS)];
  const size = Math.min((height / lines.length) * 0.6, (width / Math.max(...lines.map((l) => l.length))) * 1.5);
  const texts = lines.map((line, i) => `<text x="${width / 2}" y="${((i + 0.5) * height) / lines.length + size * 0.35}" font-size="${size}" font-weight="bold" fill="${ink}" text-anchor="middle" ${FONT}>${escapeXml(line)}</text>`);
  return `<rect width="${width}" height="${height}" fill="${colour}" fill-opacity="${opacity}"/>${texts.join('')}`;
}

async function caption(photo: Photo, random: Random, k: number, family: Family): Promise<Drawn> {
  const share = inBin(family, k, random);
  const place = pick(random, ['above', 'below', 'over-top', 'over-bottom', 'over-middle', 'meme'] as const);
  const { width: w, height: h } = photo;
  const bar = Math.max(4, Math.round(h * share));
  const render = async (height: number, opacity: number) =>
    sharp(svg(w, height, captionBar(random, w, height, opacity)))
      .png()
      .toBuffer();
  if (place === 'above' || place === 'below') {
    const layer = await render(bar, 1);
    const image = await toPhoto(
      raw(photo)
        .extend({ [place === 'above' ? 'top' : 'bottom']: bar, background: { r: 0, g: 0, b: 0 } })
        .composite([{ input: layer, left: 0, top: place === 'above' ? 0 : h }]),
    );
    return { image, amount: share, detail: place };
  }
  const opacity = uniform(random, 0.6, 1);
  const bars = place === 'meme' ? [0, h - Math.round(bar / 2)] : [place === 'over-top' ? 0 : place === 'over-bottom' ? h - bar : Math.round((h - bar) / 2)];
  const height = place === 'meme' ? Math.round(bar / 2) : bar;
  const layers = await Promise.all(bars.map(async (top) => ({ input: await render(height, opacity), left: 0, top })));
  return { image: await toPhoto(raw(photo).composite(layers)), amount: share, detail: `${place} opacity ${opacity.toFixed(2)}` };
}

// ------------------------------------------------------------------ composites

export const EDITS: Record<FamilyName, EditFn> = {
  reencode,
  resize,
  colour,
  crop,
  centre,
  rotate,
  stickers,
  watermark,
  caption,
  screenshot: (photo, random) => screenshot(photo, random),
  collage: (photo, random, k, _family, others) => collage(photo, random, k + 2, others),
};

interface Theme {
  bar: string;
  background: string;
  card: string;
  ink: string;
  sub: string;
}
const THEMES: Theme[] = [
  { bar: '#17212b', background: '#0e1621', card: '#182533', ink: '#ffffff', sub: '#7f91a4' },
  { bar: '#517da2', background: '#d6e4ef', card: '#ffffff', ink: '#ffffff', sub: '#dbe8f5' },
  { bar: '#075e54', background: '#ece5dd', card: '#dcf8c6', ink: '#ffffff', sub: '#cde8e4' },
  { bar: '#ffffff', background: '#ffffff', card: '#fafafa', ink: '#000000', sub: '#737373' },
  { bar: '#000000', background: '#000000', card: '#121212', ink: '#ffffff', sub: '#a8a8a8' },
];

/** Status bar, a header with avatar and name, and a bottom bar: the phone chrome every layout shares. */
function chrome(random: Random, W: number, H: number, theme: Theme, u: number): string {
  const status = Math.round(0.03 * H);
  const header = Math.round(0.065 * H);
  const bottom = Math.round(0.07 * H);
  const name = escapeXml(pick(random, ['Anna', 'Group chat', 'Marco', 'Channel 24', 'Sofia K.', 'Friends', 'leaks room']));
  const clock = `${String(8 + Math.floor(random() * 14)).padStart(2, '0')}:${String(Math.floor(random() * 60)).padStart(2, '0')}`;
  return (
    `<rect width="${W}" height="${status + header}" fill="${theme.bar}"/>` +
    `<text x="${40 * u}" y="${status * 0.72}" font-size="${status * 0.55}" fill="${theme.ink}" ${FONT}>${clock}</text>` +
    `<circle cx="${150 * u}" cy="${status + header / 2}" r="${header * 0.33}" fill="${pick(random, PALETTE)}"/>` +
    `<text x="${215 * u}" y="${status + header * 0.45}" font-size="${header * 0.26}" font-weight="bold" fill="${theme.ink}" ${FONT}>${name}</text>` +
    `<text x="${215 * u}" y="${status + header * 0.78}" font-size="${header * 0.2}" fill="${theme.sub}" ${FONT}>${pick(random, ['last seen recently', 'online', '1,204 members', '12.5K subscribers'])}</text>` +
    `<rect y="${H - bottom}" width="${W}" height="${bottom}" fill="${theme.bar}"/>` +
    `<rect x="${24 * u}" y="${H - bottom + bottom * 0.18}" width="${W - 170 * u}" height="${bottom * 0.64}" rx="${bottom * 0.32}" fill="${theme.card}"/>` +
    `<text x="${60 * u}" y="${H - bottom * 0.4}" font-size="${bottom * 0.28}" fill="${theme.sub}" ${FONT}>Message</text>`
  );
}

/** Where the photo goes in one screenshot layout, and what is drawn over it. */
interface Placement {
  x: number;
  y: number;
  width: number;
  height: number;
  /** SVG drawn after the photo (toolbars over a full-screen viewer). */
  over: string;
  layout: string;
}

function placePhoto(random: Random, photo: Photo, W: number, H: number, u: number): Placement {
  const aspect = photo.width / photo.height;
  const layout = pick(random, ['chat', 'chat', 'viewer', 'feed'] as const);
  if (layout === 'viewer') {
    const width = Math.min(W, Math.round(H * 0.8 * aspect));
    const height = Math.round(width / aspect);
    const bar = Math.round(0.09 * H);
    const over = `<rect width="${W}" height="${bar}" fill="#000000" fill-opacity="${uniform(random, 0.3, 0.7).toFixed(2)}"/><rect y="${H - bar}" width="${W}" height="${bar}" fill="#000000" fill-opacity="0.5"/>`;
    return { x: Math.round((W - width) / 2), y: Math.round((H - height) / 2), width, height, over, layout };
  }
  if (layout === 'feed') {
    const width = W;
    const height = Math.min(Math.round(width / aspect), Math.round(H * 0.6));
    const shown = Math.round(height * aspect);
    return { x: Math.round((W - Math.min(W, shown)) / 2), y: Math.round(H * uniform(random, 0.16, 0.3)), width: Math.min(W, shown), height, over: '', layout };
  }
  let width = Math.round(W * uniform(random, 0.5, 0.85));
  let height = Math.round(width / aspect);
  if (height > H * 0.55) {
    height = Math.round(H * 0.55);
    width = Math.round(height * aspect);
  }
  const x = random() < 0.5 ? Math.round(40 * u) : W - width - Math.round(40 * u);
  const y = Math.round(uniform(random, 0.12 * H, Math.max(0.12 * H, 0.86 * H - height)));
  return { x, y, width, height, over: '', layout };
}

async function screenshot(photo: Photo, random: Random): Promise<Drawn> {
  const W = pick(random, [720, 1080, 1170, 1440]);
  const H = Math.round(W * uniform(random, 2.0, 2.22));
  const u = W / 1080;
  const theme = pick(random, THEMES);
  const place = placePhoto(random, photo, W, H, u);
  const base = `<rect width="${W}" height="${H}" fill="${theme.background}"/>` + chrome(random, W, H, theme, u);
  const chat = place.layout === 'chat' ? `<rect x="${place.x - 8 * u}" y="${place.y - 8 * u}" width="${place.width + 16 * u}" height="${place.height + 16 * u}" rx="${20 * u}" fill="${theme.card}"/>` : '';
  const canvas = await sharp(svg(W, H, base + chat)).flatten({ background: theme.background }).png().toBuffer();
  const shown = await raw(photo).resize(place.width, place.height, { fit: 'cover', kernel: 'lanczos3' }).png().toBuffer();
  const layers = [{ input: shown, left: place.x, top: place.y }];
  if (place.over) layers.push({ input: await sharp(svg(W, H, place.over)).png().toBuffer(), left: 0, top: 0 });
  const image = await toPhoto(sharp(canvas).composite(layers));
  const share = (place.width * place.height) / (W * H);
  const png = random() < 0.3;
  const bytes = png ? await raw(image).png().toBuffer() : await raw(image).jpeg({ quality: Math.round(uniform(random, 70, 95)) }).toBuffer();
  return { bytes, amount: share, detail: `${place.layout} ${W}x${H} ${png ? 'png' : 'jpeg'}` };
}

/** Cells per row for n cells: 1 to 3 rows, as collage apps lay them out. */
function rowsFor(n: number, random: Random): number[] {
  const rows = n <= 3 ? pick(random, [1, n === 1 ? 1 : 2]) : n <= 6 ? 2 : 3;
  const out = Array.from({ length: rows }, (_, i) => Math.floor(n / rows) + (i < n % rows ? 1 : 0));
  return rows === 1 ? [n] : out.sort(() => random() - 0.5);
}

async function collage(photo: Photo, random: Random, n: number, others: readonly Photo[]): Promise<Drawn> {
  if (others.length < n - 1) throw new Error(`a collage of ${n} needs ${n - 1} other photos`);
  const W = pick(random, [1080, 1280, 1600, 2048]);
  const rows = rowsFor(n, random);
  const gap = random() < 0.4 ? 0 : Math.round(W * uniform(random, 0.002, 0.015));
  const background = pick(random, [{ r: 255, g: 255, b: 255 }, { r: 0, g: 0, b: 0 }, { r: 240, g: 98, b: 146 }]);
  const slot = Math.floor(random() * n);
  const layers: OverlayOptions[] = [];
  let y = gap;
  let cell = 0;
  let other = 0;
  let detail = '';
  for (const count of rows) {
    const cellW = Math.floor((W - gap * (count + 1)) / count);
    const mine = slot >= cell && slot < cell + count;
    const aspect = mine ? (photo.width / photo.height) * uniform(random, 0.75, 1.33) : uniform(random, 0.7, 1.5);
    const cellH = Math.max(8, Math.round(cellW / aspect));
    for (let i = 0; i < count; i++, cell++) {
      const source = cell === slot ? photo : others[other++];
      const input = await raw(source).resize(cellW, cellH, { fit: 'cover', kernel: 'lanczos3' }).png().toBuffer();
      layers.push({ input, left: gap + i * (cellW + gap), top: y });
      if (cell === slot) detail = `cell ${cellW}x${cellH} of ${n}`;
    }
    y += cellH + gap;
  }
  const canvas = sharp({ create: { width: W, height: y, channels: 3, background } }).composite(layers);
  return { image: await toPhoto(canvas), amount: n, bin: String(n), detail: `${detail}, rows ${rows.join('+')}, gap ${gap}` };
}

// ------------------------------------------------------------------ dark originals

export const DARK_KINDS = ['reencode', 'resize', 'crop', 'shared'] as const;
export type DarkKind = (typeof DARK_KINDS)[number];

/** A dark or low-contrast copy of a photo (see the header): the original a victim would have taken in dim light. */
export async function darkOriginal(photo: Photo, seed: string, attempt: number): Promise<{ bytes: Buffer; detail: string }> {
  const random = seededRandom(`${seed}/dark/${attempt}`);
  const flat = random() < 0.4;
  let image: Photo;
  let detail: string;
  if (flat) {
    const range = uniform(random, 10, 40);
    const level = uniform(random, 40, 200);
    image = mapLevels(photo, (v) => level + ((v - 128) * range) / 255);
    detail = `levels squeezed to ${range.toFixed(0)} around ${level.toFixed(0)}`;
  } else {
    const gain = uniform(random, 0.06, 0.3);
    const gamma = uniform(random, 1, 1.6);
    image = mapLevels(photo, (v) => 255 * Math.pow((v * gain) / 255, gamma));
    detail = `x ${gain.toFixed(2)}, gamma ${gamma.toFixed(2)}`;
  }
  return { bytes: await raw(image).jpeg({ quality: Math.round(uniform(random, 85, 95)) }).toBuffer(), detail };
}

/** A repost of a dark original (see the header). */
export async function darkEdit(dark: Photo, kind: DarkKind, seed: string): Promise<{ bytes: Buffer; detail: string }> {
  const random = seededRandom(`${seed}/dark-edit/${kind}`);
  const long = Math.max(dark.width, dark.height);
  const scaled = (target: number) => raw(dark).resize(Math.max(1, Math.round((dark.width * target) / long)), Math.max(1, Math.round((dark.height * target) / long)), { kernel: 'lanczos3' });
  if (kind === 'reencode') {
    const quality = Math.round(uniform(random, 50, 95));
    return { bytes: await raw(dark).jpeg({ quality }).toBuffer(), detail: `jpeg q${quality}` };
  }
  if (kind === 'resize') {
    const target = Math.round(Math.min(long, uniform(random, 320, 1280)));
    return { bytes: await scaled(target).jpeg({ quality: 85 }).toBuffer(), detail: `long side ${target}` };
  }
  if (kind === 'shared') {
    const target = Math.round(Math.min(long, uniform(random, 640, 1280)));
    const quality = Math.round(uniform(random, 60, 85));
    return { bytes: await scaled(target).jpeg({ quality }).toBuffer(), detail: `long side ${target}, jpeg q${quality}` };
  }
  const drawn = await crop(dark, random, Math.floor(random() * 7), familyByName('crop'));
  return { bytes: await deliver(drawn.image!, random), detail: drawn.detail };
}
