/**
 * bench/hash: images per second for PDQ alone, blockhash alone and all signals,
 * on a 12 MP, a 2 MP and a 1280 px JPEG, next to sharp's bare decode of the
 * same file in the same run (interleaved, so outside load falls on all
 * alike), two images in flight (2 cores); both decode
 * paths, with each path's distance to the reference hashes; and the PDQ
 * arithmetic alone on a 512 x 512 luma image.
 *
 *   npm run bench:hash [-- --quick]
 *
 * The last line is one JSON object with the figures.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { hammingDistance } from '../src/hashing/hamming.js';
import { fromHex } from '../src/hashing/hex.js';
import { pdqFromLuma, pdqLuma } from '../src/hashing/pdq.js';
import { DECODE_PATHS, type DecodePath, decodeForHashing } from '../src/image/decode.js';
import { DEFAULT_DECODE_PATH, hashImage } from '../src/image/hash-image.js';
import type { WholeImageSignalName } from '../src/robust/image-signals.js';
import { debianPackageVersion, ensureDebianPhoto } from './lib/debian-photo.js';
import { interleavedRates, msPerCall, round } from './lib/throughput.js';
import { blockhashExpected, BLOCKHASH_DIR, PDQ_DIR, pdqExpected } from '../test/helpers/fixtures.js';

const quick = process.argv.includes('--quick');
/** Seconds of measurement per figure, spread over interleaved rounds. */
const SECONDS = quick ? 0.8 : 3;
const IN_FLIGHT = 2;

const SOURCE = { pkg: 'lomiri-wallpapers-20.04', file: 'usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg' };
const original = readFileSync(ensureDebianPhoto(SOURCE));
const meta = await sharp(original).metadata();

/** Camera pixels for 12 MP (a crop, no resampling); downscaled copies for the smaller sizes. */
const fixtures: Record<string, Buffer> = {
  '12mp': await sharp(original)
    .extract({ left: (meta.width! - 4000) >> 1, top: (meta.height! - 3000) >> 1, width: 4000, height: 3000 })
    .jpeg({ quality: 90 })
    .toBuffer(),
  '2mp': await sharp(original).resize(1632, 1224, { fit: 'cover' }).jpeg({ quality: 90 }).toBuffer(),
  '1280': await sharp(original).resize(1280, 960, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer(),
};
console.log(`source: ${SOURCE.file} from Debian ${SOURCE.pkg} ${debianPackageVersion(SOURCE.pkg)} (${meta.width}x${meta.height})`);
console.log(`mode: ${quick ? 'quick' : 'full'}, ${SECONDS}s per figure, ${IN_FLIGHT} images in flight, sharp.concurrency=${sharp.concurrency()}\n`);

const MODES: Record<string, WholeImageSignalName[]> = { pdq: ['pdq'], blockhash: ['blockhash'], all: ['pdq', 'blockhash', 'md5', 'sha256'] };
type PathFigures = Record<string, number> & { pdqBits: number; blockhashBits: number };
const results: Record<string, { bytes: number; bareDecode: number; cpuMs: Record<string, number>; paths: Record<DecodePath, PathFigures> }> = {};

for (const [name, bytes] of Object.entries(fixtures)) {
  const reference = await hashImage(bytes, { decodePath: 'reference' });
  const tasks: Record<string, () => Promise<unknown>> = { bareDecode: () => sharp(bytes).raw().toBuffer() };
  for (const path of DECODE_PATHS) {
    for (const [mode, signals] of Object.entries(MODES)) tasks[`${path}.${mode}`] = () => hashImage(bytes, { decodePath: path, signals });
  }
  const { perSecond: rates, cpuMsPerTask: cpuMs } = await interleavedRates(tasks, { seconds: SECONDS * Object.keys(tasks).length, inFlight: IN_FLIGHT, rounds: quick ? 3 : 8 });
  const paths = {} as Record<DecodePath, PathFigures>;
  for (const path of DECODE_PATHS) {
    const s = await hashImage(bytes, { decodePath: path });
    const figures: PathFigures = {
      pdqBits: hammingDistance(s.pdq!.hash, reference.pdq!.hash),
      blockhashBits: hammingDistance(s.blockhash!, reference.blockhash!),
    };
    for (const mode of Object.keys(MODES)) figures[mode] = rates[`${path}.${mode}`];
    paths[path] = figures;
  }
  const bareDecode = rates.bareDecode;
  results[name] = { bytes: bytes.length, bareDecode, cpuMs, paths };
  console.log(`${name}: ${(bytes.length / 1024).toFixed(0)} KB, bare decode ${bareDecode.toFixed(1)} img/s (${cpuMs.bareDecode.toFixed(2)} CPU ms/img)`);
  for (const path of DECODE_PATHS) {
    const f = paths[path];
    const cells = Object.keys(MODES).map((m) => `${m} ${f[m].toFixed(1)} img/s (${(f[m] / bareDecode).toFixed(2)}x, ${cpuMs[`${path}.${m}`].toFixed(2)} CPU ms)`);
    console.log(`  ${path.padEnd(9)} ${cells.join(', ')}; distance to reference: pdq ${f.pdqBits}, blockhash ${f.blockhashBits} bits`);
  }
}

/** Each path's distance to the reference tools' own hashes, over the reference fixtures. */
const conformance: Record<DecodePath, { pdqMax: number; pdqMean: number; blockhashMax: number; blockhashMean: number }> = {} as never;
console.log('\ndistance to the reference tools on their fixtures (bits):');
for (const path of DECODE_PATHS) {
  const pdqBits: number[] = [];
  for (const row of pdqExpected()) {
    const s = await hashImage(readFileSync(PDQ_DIR + row.file), { decodePath: path, signals: ['pdq'] });
    pdqBits.push(hammingDistance(s.pdq!.hash, fromHex(row.hash, 256)));
  }
  const blockBits: number[] = [];
  for (const row of blockhashExpected().filter((r) => r.method === 'precise')) {
    const s = await hashImage(readFileSync(BLOCKHASH_DIR + row.file), { decodePath: path, signals: ['blockhash'] });
    blockBits.push(hammingDistance(s.blockhash!, fromHex(row.hash, 256)));
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  conformance[path] = { pdqMax: Math.max(...pdqBits), pdqMean: round(mean(pdqBits)), blockhashMax: Math.max(...blockBits), blockhashMean: round(mean(blockBits)) };
  console.log(`  ${path.padEnd(9)} pdq (${pdqBits.length} images): max ${conformance[path].pdqMax}, mean ${conformance[path].pdqMean}, exact ${pdqBits.filter((b) => b === 0).length}; blockhash (${blockBits.length}): max ${conformance[path].blockhashMax}, mean ${conformance[path].blockhashMean}, exact ${blockBits.filter((b) => b === 0).length}`);
}

// The PDQ arithmetic alone (blur, decimate, DCT, threshold) on 512 x 512 luma.
const { raster } = await decodeForHashing(fixtures['12mp'], 'reference');
const { luma, width, height } = pdqLuma(raster);
const pdqCoreMs = msPerCall(() => pdqFromLuma(luma, width, height), { seconds: quick ? 1 : 3 });
console.log(`\nPDQ arithmetic on ${width}x${height} luma: ${pdqCoreMs.toFixed(3)} ms per hash`);

const r1280 = results['1280'];
const summary = {
  bench: 'hash',
  quick,
  defaultPath: DEFAULT_DECODE_PATH,
  ratio1280: round(r1280.paths[DEFAULT_DECODE_PATH].all / r1280.bareDecode),
  ratio1280Reference: round(r1280.paths.reference.all / r1280.bareDecode),
  ratio1280Fast: round(r1280.paths.fast.all / r1280.bareDecode),
  pdqCoreMs: round(pdqCoreMs, 3),
  /** CPU time of the whole process (JS and libvips threads) per image, 1280 px; outside load moves it less than img/s. */
  cpuMsPerImage1280: { bareDecode: round(r1280.cpuMs.bareDecode), fastAll: round(r1280.cpuMs['fast.all']), referenceAll: round(r1280.cpuMs['reference.all']) },
  imagesPerSecond: Object.fromEntries(
    Object.entries(results).map(([name, r]) => [
      name,
      {
        bareDecode: round(r.bareDecode, 1),
        ...Object.fromEntries(DECODE_PATHS.flatMap((p) => Object.keys(MODES).map((m) => [`${p}.${m}`, round(r.paths[p][m], 1)]))),
      },
    ]),
  ),
  distanceToReference: Object.fromEntries(
    Object.entries(results).map(([name, r]) => [name, Object.fromEntries(DECODE_PATHS.map((p) => [p, { pdq: r.paths[p].pdqBits, blockhash: r.paths[p].blockhashBits }]))]),
  ),
  conformance,
};
console.log(JSON.stringify(summary));
