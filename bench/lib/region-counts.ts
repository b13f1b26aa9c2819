/** How many region hashes the service keeps, and of which kinds, measured rather than assumed: benches model stores of the size and mix the method makes. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGION_KINDS, type RegionKind } from '../../src/hashing/pdq-region.js';
import { hashImage } from '../../src/image/hash-image.js';

export interface RegionCounts {
  /** Region hashes of a captured photo, on average. */
  item: number;
  /** Region hashes of a case's photo (what its query searches with), on average. */
  case: number;
  /** Each side's mean mix of kinds, as `kindsOf` deals it out. */
  itemKinds: Record<RegionKind, number>;
  caseKinds: Record<RegionKind, number>;
  photos: number;
}

/** The region hashes the service keeps for a captured photo and for a case's photo, on average over the reference photos. */
export async function measuredRegionCounts(): Promise<RegionCounts> {
  const dir = join(import.meta.dirname, '..', '..', 'fixtures', 'pdq-reference');
  const photos = readdirSync(dir).filter((name) => /^(q\d+|bridge-1-original)\.jpg$/.test(name));
  const itemKinds = zeroKinds();
  const caseKinds = zeroKinds();
  for (const name of photos) {
    const bytes = readFileSync(join(dir, name));
    for (const r of (await hashImage(bytes, { regions: 'content' })).regions!) itemKinds[r.kind] += 1 / photos.length;
    // A region carrying its DCT (the frame) is searched, and kept by a case, in its 8 turns and mirrors.
    for (const r of (await hashImage(bytes, { regions: 'query', dihedral: true })).regions!) caseKinds[r.kind] += (r.dct ? 8 : 1) / photos.length;
  }
  const sum = (kinds: Record<RegionKind, number>) => Math.round(Object.values(kinds).reduce((a, b) => a + b, 0));
  return { item: sum(itemKinds), case: sum(caseKinds), itemKinds, caseKinds, photos: photos.length };
}

/** `count` kinds in the proportions of `mix` (largest remainders), in REGION_KINDS order. */
export function kindsOf(mix: Record<RegionKind, number>, count: number): RegionKind[] {
  const total = Object.values(mix).reduce((a, b) => a + b, 0);
  const shares = REGION_KINDS.map((kind) => ({ kind, exact: (count * mix[kind]) / total }));
  const taken = shares.map((s) => ({ ...s, n: Math.floor(s.exact) }));
  let left = count - taken.reduce((a, s) => a + s.n, 0);
  for (const s of [...taken].sort((a, b) => b.exact - b.n - (a.exact - a.n))) if (left-- > 0) s.n++;
  return taken.flatMap((s) => Array.from({ length: s.n }, () => s.kind));
}

function zeroKinds(): Record<RegionKind, number> {
  return Object.fromEntries(REGION_KINDS.map((kind) => [kind, 0])) as Record<RegionKind, number>;
}
