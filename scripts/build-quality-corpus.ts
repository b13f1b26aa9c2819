/**
 * Builds the quality benchmark's corpus (issue 5): distinct real photographs
 * from Debian packages that ship them, copied byte for byte into the
 * git-ignored corpus/quality/photos/, listed with package, version and file in
 * corpus/quality/manifest.json.
 *
 *   npx tsx scripts/build-quality-corpus.ts      (or: npm run corpus:quality)
 *
 * Packages are fetched once with `apt-get download` into corpus/debs and
 * unpacked with `dpkg-deb -x` into corpus/extracted (shared with
 * bench/lib/debian-photo.ts); re-running reuses them and rewrites the same
 * manifest. The list below was curated by looking at every candidate: only
 * photographs (no drawings, renders, abstract art, icons, screenshots,
 * microscopy or scans of text), one of each stereo, optical-flow or
 * calibration series (left/right views of one scene are not distinct photos),
 * the largest file where a wallpaper ships several resolutions. Then:
 *
 *   - a candidate whose short side is under MIN_SIDE pixels, or that has
 *     transparent pixels (cut-outs), is left out;
 *   - duplicates: two candidates whose PDQ hashes (any of the 8 rotations and
 *     mirrors) are within DUPLICATE_DISTANCE bits are the same photo, and only
 *     the larger is kept (gcompris ships some monuments twice, at two sizes);
 *   - candidates whose PDQ quality is under 50 (too featureless for PDQ to
 *     match on, as upstream says) are left out of the main set and listed
 *     apart as `dim`: real dim or low-contrast photos, which bench/quality
 *     asks as dark originals.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join, relative } from 'node:path';
import sharp from 'sharp';
import { hammingDistance } from '../src/hashing/hamming.js';
import { hashImage } from '../src/image/hash-image.js';
import { MANIFEST_PATH, QUALITY_DIR, type QualityManifest, type QualityPhoto, readRcc } from '../bench/lib/quality-corpus.js';

const MIN_SIDE = 300;
const DUPLICATE_DISTANCE = 60;
const MIN_PDQ_QUALITY = 50;

interface Source {
  pkg: string;
  /** Paths inside the package (`bundle.rcc!/member` inside a Qt resource bundle), or patterns over them. */
  files: Array<string | RegExp>;
}

const LOMIRI_1604 = [
  'Bridge_by_Sander_Klootwijk',
  'Dragonfly_by_Bolly',
  'Picture_0B_by_freespace',
  'Picture_1A_by_freespace',
  'Wine_by_Jakkub_Mede',
  'aitzgorri_by_Aitzol_Berasategi',
  'free_by_Peter_Nerlich',
  'friends_by_Aitzol_Berasategi',
  'greentock_by_Peter_Nerlich',
  'life_by_Aitzol_Berasategi',
  'picosdeeuropa_by_Aitzol_Berasategi',
  'seeding_by_Clements_Engelhardt',
  'sunset_by_Aitzol_Berasategi',
];
const PLASMA_PHOTOS = [
  'BytheWater',
  'ColdRipple',
  'ColorfulCups',
  'DarkestHour',
  'EveningGlow',
  'FallenLeaf',
  'Grey',
  'Kite',
  'OneStandsOut',
  'Path',
  'summer_1am',
];
const SKIMAGE = ['astronaut.png', 'camera.png', 'chelsea.png', 'coffee.png', 'coins.png', 'moon.png', 'motorcycle_left.png', 'rocket.jpg'];
const OPENCV_DATA = [
  'aero1.jpg',
  'aloeL.jpg',
  'apple.jpg',
  'baboon.jpg',
  'basketball1.png',
  'board.jpg',
  'box_in_scene.png',
  'building.jpg',
  'butterfly.jpg',
  'chicky_512.png',
  'ela_original.jpg',
  'fruits.jpg',
  'graf1.png',
  'home.jpg',
  'left.jpg',
  'left01.jpg',
  'leuvenA.jpg',
  'licenseplate_motion.jpg',
  'messi5.jpg',
  'orange.jpg',
  'rubberwhale1.png',
  'squirrel_cls.jpg',
  'stuff.jpg',
];
const GCOMPRIS_DETAILS = [
  'Chenonceau',
  'EgeskovSlotSpejling',
  'EilanDonanCastle',
  'FanoeWindmill',
  'GizahPyramids',
  'NDP',
  'Nagoya',
  'Neuschwanstein',
  'OperaSidney',
  'TajMahal',
  'TowerBridgeLondon',
];
const GC = 'usr/share/gcompris-qt/rcc';
const GCA = '/gcompris/src/activities';

const SOURCES: Source[] = [
  { pkg: 'lomiri-wallpapers-16.04', files: LOMIRI_1604.map((name) => `usr/share/backgrounds/${name}.jpg`) },
  { pkg: 'lomiri-wallpapers-20.04', files: ['usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg'] },
  { pkg: 'mate-backgrounds', files: [/^usr\/share\/backgrounds\/mate\/nature\/[^/]+\.jpg$/] },
  { pkg: 'plasma-workspace-wallpapers', files: PLASMA_PHOTOS.map((name) => `usr/share/wallpapers/${name}/contents/images/2560x1600.jpg`) },
  { pkg: 'python-matplotlib-data', files: ['usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg'] },
  { pkg: 'python3-skimage', files: SKIMAGE.map((name) => `usr/lib/python3/dist-packages/skimage/data/${name}`) },
  {
    pkg: 'opencv-doc',
    files: [
      'usr/share/doc/opencv-doc/examples/alphamat/input_images/plant.jpg',
      ...OPENCV_DATA.map((name) => `usr/share/doc/opencv-doc/examples/data/${name}`),
      /^usr\/share\/doc\/opencv-doc\/examples\/text\/scenetext0\d\.jpg$/,
      /^usr\/share\/doc\/opencv-doc\/examples\/text\/scenetext_segmented_word0\d\.jpg$/,
    ],
  },
  {
    pkg: 'gcompris-qt-data',
    files: [
      ...['renewable/windmill6', 'monuments/victoriaMemorial', 'numbers/numbers', 'alphabets/alphabets', 'others/baseball', 'others/volleyball', 'tools/spray'].map(
        (name) => `${GC}/categorization.rcc!${GCA}/categorization/resource/images/${name}.webp`,
      ),
      /^usr\/share\/gcompris-qt\/rcc\/clickgame\.rcc!.*\/clickgame\/resource\/sea\d\.webp$/,
      ...GCOMPRIS_DETAILS.map((name) => `${GC}/details.rcc!${GCA}/details/resource/image/${name}_background.webp`),
      /^usr\/share\/gcompris-qt\/rcc\/erase\.rcc!.*\/erase\/resource\/[^/]+\.webp$/,
      /^usr\/share\/gcompris-qt\/rcc\/explore_farm_animals\.rcc!.*\/resource\/animals\/[^/]+\.webp$/,
      /^usr\/share\/gcompris-qt\/rcc\/explore_monuments\.rcc!.*\/explore_monuments\/resource\/[a-z]+\/[^/]+\.webp$/,
      /^usr\/share\/gcompris-qt\/rcc\/explore_world_animals\.rcc!.*\/resource\/animals\/[^/]+\.webp$/,
      /^usr\/share\/gcompris-qt\/rcc\/explore_world_music\.rcc!.*\/resource\/music\/[^/]+\.webp$/,
    ],
  },
];

/** Photos with people in them (checked by eye); the rest are animals, places and things. */
const PEOPLE = [
  /grace_hopper\.jpg$/,
  /skimage\/data\/(astronaut|camera)\.png$/,
  /opencv-doc\/examples\/data\/(messi5\.jpg|basketball1\.png|left01\.jpg)$/,
  /opencv-doc\/examples\/text\/scenetext01\.jpg$/,
  /explore_world_music\/resource\/music\/(italy|australia|japan|orchestra|ireland|mexico)\.webp$/,
];

const root = process.cwd();
const corpus = join(root, 'corpus');
const debs = join(corpus, 'debs');
const extractedRoot = join(corpus, 'extracted');
const photosDir = join(QUALITY_DIR, 'photos');

function findDeb(pkg: string): string | undefined {
  const name = readdirSync(debs).find((file) => file.startsWith(`${pkg}_`) && file.endsWith('.deb'));
  return name && join(debs, name);
}

/** Downloads (once) and unpacks (once) a package; returns the unpacked tree and the version. */
function ensurePackage(pkg: string): { dir: string; version: string } {
  mkdirSync(debs, { recursive: true });
  let deb = findDeb(pkg);
  if (!deb) {
    process.stderr.write(`fetching Debian package ${pkg}\n`);
    try {
      execFileSync('apt-get', ['download', pkg], { cwd: debs, stdio: ['ignore', 'ignore', 'inherit'] });
    } catch {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
      execFileSync('apt-get', ['download', pkg], { cwd: debs, stdio: ['ignore', 'ignore', 'inherit'] });
    }
    deb = findDeb(pkg);
    if (!deb) throw new Error(`apt-get download ${pkg} left no .deb`);
  }
  const dir = join(extractedRoot, pkg);
  if (!existsSync(dir)) {
    const partial = `${dir}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    execFileSync('dpkg-deb', ['-x', deb, partial]);
    renameSync(partial, dir);
  }
  const version = execFileSync('dpkg-deb', ['-f', deb, 'Version'], { encoding: 'utf8' }).trim();
  return { dir, version };
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      const stat = lstatSync(path); // packages ship dangling alternatives symlinks
      return stat.isDirectory() ? walk(path) : stat.isFile() ? [path] : [];
    });
}

interface Candidate {
  pkg: string;
  version: string;
  file: string;
  bytes: Buffer;
}

/** Every file the package ships, with Qt resource bundles opened, that the source names. */
function candidates(source: Source): Candidate[] {
  const { dir, version } = ensurePackage(source.pkg);
  const files = new Map<string, () => Buffer>();
  const opensBundles = source.files.some((f) => (typeof f === 'string' ? f : f.source).includes('!'));
  for (const path of walk(dir)) {
    const file = relative(dir, path);
    files.set(file, () => readFileSync(path));
    if (file.endsWith('.rcc') && opensBundles)
      for (const entry of readRcc(readFileSync(path))) files.set(`${file}!${entry.path}`, () => entry.data);
  }
  const out: Candidate[] = [];
  for (const wanted of source.files) {
    const names = typeof wanted === 'string' ? [wanted] : [...files.keys()].filter((file) => wanted.test(file)).sort();
    if (names.length === 0) throw new Error(`${source.pkg}: nothing matches ${String(wanted)}`);
    for (const file of names) {
      const read = files.get(file);
      if (!read) throw new Error(`${source.pkg}: ${file} is not in the package`);
      out.push({ pkg: source.pkg, version, file, bytes: read() });
    }
  }
  return out;
}

function photoId(pkg: string, file: string): string {
  const path = file.split('!').pop()!;
  let stem = basename(path, extname(path));
  if (/^\d+x\d+$/.test(stem)) stem = basename(dirname(dirname(dirname(path)))); // wallpaper/contents/images/WxH.jpg
  const slug = stem.replace(/[^A-Za-z0-9_-]+/g, '_');
  return `${slug}-${createHash('sha256').update(`${pkg}/${file}`).digest('hex').slice(0, 6)}`;
}

interface Measured extends Candidate {
  width: number;
  height: number;
  format: string;
  dihedral: Uint8Array[];
  quality: number;
}

async function measure(candidate: Candidate): Promise<Measured | string> {
  const image = sharp(candidate.bytes);
  const meta = await image.metadata();
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (Math.min(width, height) < MIN_SIDE) return `short side ${Math.min(width, height)} px`;
  if (meta.hasAlpha) {
    const stats = await image.stats();
    if (stats.channels[stats.channels.length - 1].min < 255) return 'transparent pixels';
  }
  const signals = await hashImage(candidate.bytes, { signals: ['pdq'], dihedral: true });
  return { ...candidate, width, height, format: meta.format ?? 'unknown', dihedral: signals.pdq!.dihedral!, quality: signals.pdq!.quality };
}

/** Smallest distance over the 8 rotations and mirrors of a against the plain hash of b. */
function dihedralDistance(a: Measured, b: Measured): number {
  return Math.min(...a.dihedral.map((hash) => hammingDistance(hash, b.dihedral[0])));
}

const all: Candidate[] = SOURCES.flatMap(candidates);
const measured: Measured[] = [];
const dim: Measured[] = [];
const left: string[] = [];
for (const candidate of all) {
  const result = await measure(candidate);
  if (typeof result === 'string') left.push(`${candidate.pkg} ${candidate.file}: ${result}`);
  else if (result.quality < MIN_PDQ_QUALITY) {
    left.push(`${candidate.pkg} ${candidate.file}: PDQ quality ${result.quality} (kept as dim)`);
    dim.push(result);
  } else measured.push(result);
}

// Largest first, so each duplicate group keeps its largest member.
const bySize = [...measured].sort(
  (a, b) => b.width * b.height - a.width * a.height || a.pkg.localeCompare(b.pkg) || a.file.localeCompare(b.file),
);
const kept: Measured[] = [];
for (const candidate of bySize) {
  const same = kept.find((other) => dihedralDistance(candidate, other) <= DUPLICATE_DISTANCE);
  if (same) left.push(`${candidate.pkg} ${candidate.file}: same photo as ${same.pkg} ${same.file} (PDQ ${dihedralDistance(candidate, same)})`);
  else kept.push(candidate);
}
kept.sort((a, b) => a.pkg.localeCompare(b.pkg) || a.file.localeCompare(b.file));

mkdirSync(photosDir, { recursive: true });
const extensions: Record<string, string> = { jpeg: '.jpg', png: '.png', webp: '.webp' };
function entryOf(photo: Measured): QualityPhoto {
  const id = photoId(photo.pkg, photo.file);
  const path = join(photosDir, `${id}${extensions[photo.format] ?? `.${photo.format}`}`);
  if (!existsSync(path) || !readFileSync(path).equals(photo.bytes)) writeFileSync(path, photo.bytes);
  const entry: QualityPhoto = { id, package: photo.pkg, version: photo.version, file: photo.file, width: photo.width, height: photo.height, path: relative(root, path) };
  if (PEOPLE.some((pattern) => pattern.test(photo.file))) entry.people = true;
  return entry;
}
const photos = kept.map(entryOf);
const dimPhotos = dim.filter((photo) => !kept.some((other) => dihedralDistance(photo, other) <= DUPLICATE_DISTANCE)).map(entryOf);
if (new Set([...photos, ...dimPhotos].map((p) => p.id)).size !== photos.length + dimPhotos.length) throw new Error('photo ids collide');

const manifest: QualityManifest = {
  description:
    'Distinct real photographs from Debian packages for bench/quality (scripts/build-quality-corpus.ts). Images stay out of git; package, version and file say where each came from.',
  duplicateDistance: DUPLICATE_DISTANCE,
  photos,
  dim: dimPhotos,
};
writeFileSync(MANIFEST_PATH, `${JSON.stringify(manifest, null, 2)}\n`);

// The closest pairs that were kept apart, for a human to look at.
const close: string[] = [];
for (let i = 0; i < kept.length; i++) {
  for (let j = i + 1; j < kept.length; j++) {
    const d = Math.min(dihedralDistance(kept[i], kept[j]), dihedralDistance(kept[j], kept[i]));
    if (d <= 80) close.push(`  ${d}  ${photoId(kept[i].pkg, kept[i].file)}  ${photoId(kept[j].pkg, kept[j].file)}`);
  }
}

console.log(`left out (${left.length}):`);
for (const line of left) console.log(`  ${line}`);
if (close.length) console.log(`kept pairs within 80 bits (distinct by eye; over ${DUPLICATE_DISTANCE}):\n${close.join('\n')}`);
console.log(`\n${photos.length} distinct photos (${photos.filter((p) => p.people).length} with people) and ${dimPhotos.length} dim ones -> ${relative(root, MANIFEST_PATH)}`);
const perPackage = new Map<string, number>();
for (const photo of photos) perPackage.set(`${photo.package} ${photo.version}`, (perPackage.get(`${photo.package} ${photo.version}`) ?? 0) + 1);
for (const [pkg, count] of perPackage) console.log(`  ${String(count).padStart(4)}  ${pkg}`);
