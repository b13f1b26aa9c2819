/** Region hashes as the store keeps them and as the Matcher searches with them. */
import { toHex } from '../hashing/hex.js';
import { pdqDihedralFromDct } from '../hashing/pdq.js';
import type { ImageSignals } from '../image/hash-image.js';
import type { HashQuery } from '../match/matcher.js';
import type { NewSignal } from '../store/store.js';
import type { RegionKind } from './regions.js';

export const REGION_SIGNAL_TYPE = 'pdq-region';

/** pdq-region signals of a captured image hashed with `regions: 'content'`. */
export function regionSignals(hashed: ImageSignals): NewSignal[] {
  return (hashed.regions ?? []).map((r) => ({ type: REGION_SIGNAL_TYPE, hash: r.hash, quality: r.quality }));
}

/** pdq-region queries of a victim's image hashed with `regions: 'query'`. */
export function regionQueries(hashed: ImageSignals): HashQuery[] {
  return (hashed.regions ?? []).map((r) => ({ type: REGION_SIGNAL_TYPE, hash: r.hash, region: r.kind, ...(r.dct ? { dct: r.dct } : {}) }));
}

/** Hashes one JSON request to POST /v1/match may carry: the API takes its MAX_SIGNALS_PER_MATCH from here. */
export const CLIENT_MAX_SIGNALS = 1000;

/** A hash as a client sends it to POST /v1/match. */
export interface ClientSignal {
  type: string;
  hash: string;
  region?: RegionKind;
}

/**
 * Everything a client that hashed an image itself (the CLI, a browser) sends
 * to POST /v1/match as JSON, so that it gets what an uploaded image would:
 * PDQ with its rotations and flips (the server cannot derive them from bare
 * hashes), blockhash and the digests, and in robust mode the region hashes
 * with the query frame's rotations and flips. A featureless image (PDQ
 * quality under 50) sends its digests only, as the server would match it.
 * At most CLIENT_MAX_SIGNALS: the digests, PDQ and blockhash first, then
 * region hashes in the order queryRegions gives them, and any past the limit
 * are left out. An untagged opaque photo's all fit (about 700); a tagged
 * photo sends every region of its upright image and the first 300-400 of its
 * stored view, a transparent one part of its flattened views.
 * `hashed` must come from hashImage with `dihedral: true` (and `regions:
 * 'query'` for robust).
 */
export function clientQuerySignals(hashed: ImageSignals): ClientSignal[] {
  const out: ClientSignal[] = [];
  const seen = new Set<string>();
  const push = (signal: ClientSignal) => {
    const key = `${signal.type}:${signal.hash}`;
    if (!seen.has(key) && out.length < CLIENT_MAX_SIGNALS) out.push(signal), seen.add(key);
  };
  // The digests first, so that the limit never leaves them out.
  push({ type: 'md5', hash: toHex(hashed.md5!) });
  push({ type: 'sha256', hash: toHex(hashed.sha256!) });
  const pdq = hashed.pdq!;
  if (!pdq.lowQuality) {
    for (const hash of pdq.dihedral ?? [pdq.hash]) push({ type: 'pdq', hash: toHex(hash) });
    push({ type: 'blockhash', hash: toHex(hashed.blockhash!) });
    for (const region of hashed.regions ?? []) {
      push({ type: REGION_SIGNAL_TYPE, hash: toHex(region.hash), region: region.kind });
      if (region.dct) for (const hash of pdqDihedralFromDct(region.dct).slice(1)) push({ type: REGION_SIGNAL_TYPE, hash: toHex(hash), region: region.kind });
    }
  }
  return out;
}
