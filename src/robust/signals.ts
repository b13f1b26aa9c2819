/** Region hashes as the store keeps them and as the Matcher searches with them. */
import type { ImageSignals } from '../image/hash-image.js';
import type { HashQuery } from '../match/matcher.js';
import type { NewSignal } from '../store/store.js';

export const REGION_SIGNAL_TYPE = 'pdq-region';

/** pdq-region signals of a captured image hashed with `regions: 'content'`. */
export function regionSignals(hashed: ImageSignals): NewSignal[] {
  return (hashed.regions ?? []).map((r) => ({ type: REGION_SIGNAL_TYPE, hash: r.hash, quality: r.quality }));
}

/** pdq-region queries of a victim's image hashed with `regions: 'query'`. */
export function regionQueries(hashed: ImageSignals): HashQuery[] {
  return (hashed.regions ?? []).map((r) => ({ type: REGION_SIGNAL_TYPE, hash: r.hash, region: r.kind, ...(r.dct ? { dct: r.dct } : {}) }));
}
