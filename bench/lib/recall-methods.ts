/**
 * Matching methods as bench/quality's random-edit set measures them, in both
 * directions the service matches:
 *
 * - match: a victim's original is the query (POST /v1/match, robust mode),
 *   the edited repost is captured content already in the index;
 * - case: the original is registered as a victim's case (its case hashes are
 *   indexed), and the repost is newly captured content whose content hashes
 *   are searched against the case index.
 *
 * A method says which hashes each side keeps (content: the few stored per
 * captured item; query: what an image query searches with; case: what a case
 * stores) and each signal type's threshold. The engines index them in the
 * project's exact Hamming index, one per signal type, and search a little
 * past every threshold so that the closest wrong photo is seen too.
 */
import { pdqDihedralFromDct, pdqHashRaster, PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY } from '../../src/hashing/pdq.js';
import { PDQ_NORM_MATCH_THRESHOLD, pdqNormHashRaster } from '../../src/hashing/pdq-norm.js';
import { decodeForHashing } from '../../src/image/decode.js';
import { hashImage } from '../../src/image/hash-image.js';
import { exifOrientation } from '../../src/robust/orientation.js';
import { contentRegions, queryRegions } from '../../src/robust/regions.js';
import { MultiIndexHashing } from '../../src/index/multi-index-hashing.js';

export interface TypedHash {
  type: string;
  hash: Uint8Array;
}

export interface RecallMethod {
  name: string;
  /** Largest distance that matches, per signal type. */
  thresholds: Record<string, number>;
  /** Hashes stored for one captured image (index entries per item). */
  content(bytes: Uint8Array): Promise<TypedHash[]>;
  /** Hashes a victim's image query is searched with (none: not matched on pixels). */
  query(bytes: Uint8Array): Promise<TypedHash[]>;
  /** Hashes stored for a victim's case registered from this image. */
  caseHashes(bytes: Uint8Array): Promise<TypedHash[]>;
}

/** Searched this far past each threshold, to see how close wrong photos come. */
export const PROBE_MARGIN = 10;

/**
 * Owners whose hashes come within threshold + PROBE_MARGIN of any query hash,
 * each with its best margin (threshold - distance: >= 0 is a match) and the
 * signal type that gave it.
 */
export class TypedIndex {
  private readonly indexes = new Map<string, MultiIndexHashing>();
  constructor(private readonly thresholds: Record<string, number>) {}

  add(owner: number, hashes: readonly TypedHash[]): void {
    for (const { type, hash } of hashes) {
      if (this.thresholds[type] === undefined) throw new Error(`no threshold for signal type ${type}`);
      let index = this.indexes.get(type);
      if (!index) this.indexes.set(type, (index = new MultiIndexHashing()));
      index.add(hash, owner);
    }
  }

  get size(): number {
    let n = 0;
    for (const index of this.indexes.values()) n += index.size;
    return n;
  }

  search(hashes: readonly TypedHash[]): Map<number, { margin: number; type: string; distance: number }> {
    const best = new Map<number, { margin: number; type: string; distance: number }>();
    for (const { type, hash } of hashes) {
      const index = this.indexes.get(type);
      if (!index) continue;
      const threshold = this.thresholds[type];
      for (const hit of index.search(hash, Math.min(64, threshold + PROBE_MARGIN))) {
        const margin = threshold - hit.distance;
        const seen = best.get(hit.owner);
        if (!seen || margin > seen.margin) best.set(hit.owner, { margin, type, distance: hit.distance });
      }
    }
    return best;
  }
}

/** PDQ with its 8 rotations and mirrors, or nothing under quality 50 (as the service matches). */
async function pdqDihedral(bytes: Uint8Array): Promise<TypedHash[]> {
  const { pdq } = await hashImage(bytes, { signals: ['pdq'], dihedral: true });
  return pdq!.lowQuality ? [] : pdq!.dihedral!.map((hash) => ({ type: 'pdq', hash }));
}

/**
 * Whole-image PDQ as ThreatExchange/HMA and StopNCII match: one hash stored
 * per item, the query's 8 rotations and mirrors at distance <= 31; a case
 * stores the same 8.
 */
export const pdqRecallMethod: RecallMethod = {
  name: 'pdq',
  thresholds: { pdq: PDQ_MATCH_THRESHOLD },
  async content(bytes) {
    const { pdq } = await hashImage(bytes, { signals: ['pdq'] });
    return [{ type: 'pdq', hash: pdq!.hash }];
  },
  query: pdqDihedral,
  caseHashes: pdqDihedral,
};

/**
 * Robust matching as the service wires it (mode robust, the default):
 * content stores PDQ and up to 19 pdq-region hashes (hashImage 'content');
 * an image query searches PDQ's 8 turns and mirrors and its query regions
 * (the frame's also turned and mirrored); a case stores whole-image PDQ with
 * its 8 turns and mirrors only; a query under PDQ quality 50 is matched on
 * digests only. Before issue 18 (commit 556c224) this was the whole method.
 */
export const robustServiceRecallMethod: RecallMethod = {
  name: 'robust-service',
  thresholds: { pdq: PDQ_MATCH_THRESHOLD, 'pdq-region': PDQ_MATCH_THRESHOLD },
  async content(bytes) {
    const hashed = await hashImage(bytes, { signals: ['pdq'], regions: 'content' });
    return [{ type: 'pdq', hash: hashed.pdq!.hash }, ...hashed.regions!.map((r) => ({ type: 'pdq-region', hash: r.hash }))];
  },
  async query(bytes) {
    const hashed = await hashImage(bytes, { signals: ['pdq'], dihedral: true, regions: 'query' });
    if (hashed.pdq!.lowQuality) return [];
    const out: TypedHash[] = hashed.pdq!.dihedral!.map((hash) => ({ type: 'pdq', hash }));
    for (const region of hashed.regions!) {
      const turns = region.dct ? pdqDihedralFromDct(region.dct) : [region.hash];
      for (const hash of turns) out.push({ type: 'pdq-region', hash });
    }
    return out;
  },
  caseHashes: pdqDihedral,
};

/**
 * Whole-image hashes as the service would match them with pdq-norm: PDQ when
 * its quality is 50 or more, else pdq-norm when the stretched photo reaches
 * quality 50 (dark and low-contrast photos), else nothing (flat).
 */
function wholeImage(raster: Parameters<typeof pdqNormHashRaster>[0], pdq: { hash: Uint8Array; quality: number; dct: Float32Array }, turns: boolean): TypedHash[] {
  if (pdq.quality >= PDQ_MIN_QUALITY) return (turns ? pdqDihedralFromDct(pdq.dct) : [pdq.hash]).map((hash) => ({ type: 'pdq', hash }));
  const norm = pdqNormHashRaster(raster);
  if (norm.quality < PDQ_MIN_QUALITY) return [];
  return (turns ? pdqDihedralFromDct(norm.dct) : [norm.hash]).map((hash) => ({ type: 'pdq-norm', hash }));
}

/** Query regions with the frame's 8 turns and mirrors, as the Matcher expands them. */
function regionQueryHashes(regions: ReturnType<typeof queryRegions>): TypedHash[] {
  return regions.flatMap((region) => (region.dct ? pdqDihedralFromDct(region.dct) : [region.hash]).map((hash) => ({ type: 'pdq-region', hash })));
}

/** One decode (the service's fast path): the raster, its PDQ and its EXIF orientation. */
async function decoded(bytes: Uint8Array) {
  const { raster } = await decodeForHashing(bytes, 'fast');
  return { raster, pdq: pdqHashRaster(raster), orientation: exifOrientation(bytes) };
}

/**
 * The robust matching of issue 18: region hashes judged against the photo's
 * own contrast (dark photos keep their regions), pdq-norm for the whole of a
 * dark photo, and a case storing what a query searches with, so that both
 * directions find the same reposts.
 */
export const robustRecallMethod: RecallMethod = {
  name: 'robust',
  thresholds: { pdq: PDQ_MATCH_THRESHOLD, 'pdq-norm': PDQ_NORM_MATCH_THRESHOLD, 'pdq-region': PDQ_MATCH_THRESHOLD },
  async content(bytes) {
    const { raster, pdq, orientation } = await decoded(bytes);
    const whole = pdq.quality >= PDQ_MIN_QUALITY ? [{ type: 'pdq', hash: pdq.hash }] : wholeImage(raster, pdq, false);
    return [...whole, ...contentRegions(raster, orientation).map((r) => ({ type: 'pdq-region', hash: r.hash }))];
  },
  async query(bytes) {
    const { raster, pdq, orientation } = await decoded(bytes);
    return [...wholeImage(raster, pdq, true), ...regionQueryHashes(queryRegions(raster, { orientation }))];
  },
  async caseHashes(bytes) {
    return this.query(bytes);
  },
};

export const RECALL_METHODS: RecallMethod[] = [pdqRecallMethod, robustServiceRecallMethod, robustRecallMethod];
