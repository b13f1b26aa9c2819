/**
 * The region hashes of a photo, pinned. Captured content is hashed once, at
 * ingest, and matched for years against queries hashed by later versions
 * (and by browsers running the page of the day): a change that moves these
 * bits, however small (a reordered sum, a corner found a pixel off), leaves
 * stored content a little further from every new query. Speed-ups must keep
 * them; a deliberate change of the method updates the pins and says in
 * docs/robust-matching.md what stored content then needs (hashing again).
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';
import t from 'tap';
import type { Raster } from '../src/hashing/signal-type.js';
import { contentRegions, queryRegions, type RegionSignal } from '../src/robust/regions.js';
import { PDQ_DIR } from './helpers/fixtures.js';

async function raster(file: string): Promise<Raster> {
  const { data, info } = await sharp(PDQ_DIR + file).raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: info.channels };
}

function digest(regions: RegionSignal[]): string {
  const hash = createHash('sha256');
  for (const { hash: bits, quality, kind } of regions) hash.update(`${Buffer.from(bits).toString('hex')} ${quality} ${kind}\n`);
  return hash.digest('hex');
}

const PINNED: Record<string, { content: string; query: string }> = {
  'decoded-bridge-1-original.png': {
    content: '45b8982bcb502a7b21c36fbf04d4d839b1cf18138f4a3a8b95093fe4a830de16',
    query: '12f62f02743472ccbbfdea2cfeb51f1abcff9f9a4aaf2be5fa3729d0548d0b58',
  },
  'pen-and-coaster.png': {
    content: '2f5440e201e560aaf6af2af97cd7ab5e50a4076eca07ea51ed8e0a7011188771',
    query: '9e4bf37efd561826ff0efe235402ae5dab08b861391a265c4b1028c547e33b06',
  },
};

for (const file of ['decoded-bridge-1-original.png', 'pen-and-coaster.png']) {
  t.test(`${file}: content and query region hashes are the pinned ones`, async (t) => {
    const image = await raster(file);
    const got = { content: digest(contentRegions(image, 1)), query: digest(queryRegions(image)) };
    t.same(got, PINNED[file]);
  });
}
