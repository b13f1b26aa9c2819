/**
 * Builds fixtures/photo-pdq-hashes.tsv: PDQ hashes of crops, tiles and edits of
 * photographs that Debian packages ship, so the index bench runs on hashes with
 * the bit statistics and clustering of real photos. Images stay in the
 * git-ignored corpus/ folder; the fixture records where each hash came from.
 *
 * Usage (root, network to the Debian archive): npx tsx scripts/build-photo-hashes.ts
 */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { pdqHashRaster } from '../src/hashing/pdq.js';
import { toHex } from '../src/hashing/hex.js';

/** Packages whose backgrounds are largely photographs (checked by eye in their file lists). */
const PACKAGES = [
  'ukui-wallpapers',
  'lomiri-wallpapers',
  'lomiri-wallpapers-20.04',
  'plasma-workspace-wallpapers',
  'mate-backgrounds',
];
/** Photographs are JPEGs in these packages; PNG and SVG are mostly renders and drawings. */
const PHOTO_EXTENSIONS = /\.jpe?g$/i;
const MIN_PHOTO_BYTES = 100_000;
/** Pixels of the working copy each photo is reduced to before editing (speed; PDQ works at 512). */
const WORKING_SIDE = 1024;

const root = process.cwd();
const corpus = join(root, 'corpus');
const debs = join(corpus, 'debs');
const extracted = join(corpus, 'extracted');
mkdirSync(debs, { recursive: true });

function packageVersion(pkg: string): string {
  return execFileSync('dpkg-deb', ['-f', debFile(pkg), 'Version'], { encoding: 'utf8' }).trim();
}

function debFile(pkg: string): string {
  const file = readdirSync(debs).find((name) => name.startsWith(`${pkg}_`) && name.endsWith('.deb'));
  if (!file) throw new Error(`no .deb for ${pkg}`);
  return join(debs, file);
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const stat = lstatSync(path); // packages ship dangling alternatives symlinks
    return stat.isDirectory() ? walk(path) : stat.isFile() ? [path] : [];
  });
}

interface Variant {
  name: string;
  image: (photo: Sharp, width: number, height: number) => Sharp;
}

/** Crops, tiles and edits like those reposted content goes through. */
function variants(width: number, height: number): Variant[] {
  const list: Variant[] = [{ name: 'original', image: (p) => p }];
  for (const [fraction, tag] of [
    [0.9, 'crop90'],
    [0.75, 'crop75'],
    [0.6, 'crop60'],
  ] as const) {
    const w = Math.round(width * fraction);
    const h = Math.round(height * fraction);
    const anchors: Array<[string, number, number]> = [
      ['center', (width - w) >> 1, (height - h) >> 1],
      ['topleft', 0, 0],
      ['bottomright', width - w, height - h],
    ];
    for (const [anchor, left, top] of anchors) {
      list.push({ name: `${tag}-${anchor}`, image: (p) => p.extract({ left, top, width: w, height: h }) });
    }
  }
  for (const grid of [2, 3]) {
    const w = Math.floor(width / grid);
    const h = Math.floor(height / grid);
    for (let row = 0; row < grid; row++) {
      for (let col = 0; col < grid; col++) {
        list.push({
          name: `tile${grid}x${grid}-${row}${col}`,
          image: (p) => p.extract({ left: col * w, top: row * h, width: w, height: h }),
        });
      }
    }
  }
  list.push(
    { name: 'brighter', image: (p) => p.modulate({ brightness: 1.25 }) },
    { name: 'darker', image: (p) => p.modulate({ brightness: 0.75 }) },
    { name: 'saturated', image: (p) => p.modulate({ saturation: 1.6 }) },
    { name: 'greyscale', image: (p) => p.greyscale() },
    { name: 'blur', image: (p) => p.blur(3) },
    { name: 'sharpen', image: (p) => p.sharpen({ sigma: 2 }) },
    { name: 'gamma', image: (p) => p.gamma(2.2) },
    { name: 'small', image: (p) => p.resize(160) },
    { name: 'stretch', image: (p) => p.resize(width, Math.round(height * 0.7), { fit: 'fill' }) },
    { name: 'rotate3', image: (p) => p.rotate(3, { background: '#000' }) },
    { name: 'border', image: (p) => p.extend({ top: 40, bottom: 40, left: 40, right: 40, background: '#fff' }) },
    { name: 'jpeg-q20', image: (p) => p.jpeg({ quality: 20 }) },
  );
  return list;
}

async function hashVariant(working: Buffer, width: number, height: number, variant: Variant) {
  // Each edit is encoded and decoded again, as a repost would be.
  const edited = await variant.image(sharp(working), width, height).jpeg({ quality: 85 }).toBuffer();
  const { data, info } = await sharp(edited, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
  return pdqHashRaster({ width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4, data });
}

const rows: string[] = ['# hash\tquality\tpackage\tversion\tfile\tvariant'];
for (const pkg of PACKAGES) {
  try {
    execFileSync('apt-get', ['download', pkg], { cwd: debs, stdio: 'ignore' });
  } catch {
    console.error(`skip ${pkg}: apt-get download failed`);
    continue;
  }
  const target = join(extracted, pkg);
  mkdirSync(target, { recursive: true });
  execFileSync('dpkg', ['-x', debFile(pkg), target]);
  const version = packageVersion(pkg);
  const photos = walk(target).filter((f) => PHOTO_EXTENSIONS.test(f) && statSync(f).size >= MIN_PHOTO_BYTES);
  console.error(`${pkg} ${version}: ${photos.length} photographs`);
  for (const photo of photos) {
    const working = await sharp(readFileSync(photo), { ignoreIcc: true })
      .resize(WORKING_SIDE, WORKING_SIDE, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 95 })
      .toBuffer({ resolveWithObject: true });
    const { width, height } = working.info;
    const file = relative(target, photo);
    for (const variant of variants(width, height)) {
      const { hash, quality } = await hashVariant(working.data, width, height, variant);
      rows.push([toHex(hash), quality, pkg, version, file, variant.name].join('\t'));
    }
  }
}
mkdirSync(join(root, 'fixtures'), { recursive: true });
writeFileSync(join(root, 'fixtures', 'photo-pdq-hashes.tsv'), rows.join('\n') + '\n');
console.error(`wrote ${rows.length - 1} hashes`);
