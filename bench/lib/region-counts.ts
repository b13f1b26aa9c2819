/** How many region hashes the service keeps, measured rather than assumed: benches model stores of the size the method makes. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashImage } from '../../src/image/hash-image.js';

/** The region hashes the service keeps for a captured photo and for a case's photo, on average over the reference photos. */
export async function measuredRegionCounts(): Promise<{ item: number; case: number; photos: number }> {
  const dir = join(import.meta.dirname, '..', '..', 'fixtures', 'pdq-reference');
  const photos = readdirSync(dir).filter((name) => /^(q\d+|bridge-1-original)\.jpg$/.test(name));
  let item = 0;
  let caseSide = 0;
  for (const name of photos) {
    const bytes = readFileSync(join(dir, name));
    item += (await hashImage(bytes, { regions: 'content' })).regions!.length;
    caseSide += (await hashImage(bytes, { regions: 'query', dihedral: true })).regions!.length;
  }
  return { item: Math.round(item / photos.length), case: Math.round(caseSide / photos.length), photos: photos.length };
}
