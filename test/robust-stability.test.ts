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
import t from 'tap';
import { contentRegions, queryRegions, type RegionSignal } from '../src/robust/regions.js';
import { PDQ_DIR, rawPixels } from './helpers/fixtures.js';

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
    content: 'b6b782118d3449c300653f527545857c8613a4b85b7365c352b4c3c6d2a8fd7a',
    query: '725f09b24875fcae7bbbb3ede3584ba2d4f8536106645497a3956ebaa2d93921',
  },
};

for (const file of ['decoded-bridge-1-original.png', 'pen-and-coaster.png']) {
  t.test(`${file}: content and query region hashes are the pinned ones`, async (t) => {
    const image = await rawPixels(PDQ_DIR + file);
    const got = { content: digest(contentRegions(image, 1)), query: digest(queryRegions(image)) };
    t.same(got, PINNED[file]);
  });
}
