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
import { PDQ_MATCH_THRESHOLD } from '../../src/hashing/pdq.js';
import { findSignalType, HAMMING_TYPES } from '../../src/hashing/registry.js';
import { hashImage } from '../../src/image/hash-image.js';
import { MultiIndexHashing } from '../../src/index/multi-index-hashing.js';
import { imageHashingFor, queryFromImage, searchedSignals } from '../../src/match/query.js';
import { capturedImageSignals } from '../../src/services/banks.js';

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

const perceptual = (hashes: TypedHash[]) => hashes.filter((h) => findSignalType(h.type)?.comparison === 'hamming');

/** What a query of the image searches with, as the service builds it (src/match/query.ts): also what a case of it stores. */
async function serviceQuery(bytes: Uint8Array): Promise<TypedHash[]> {
  const query = queryFromImage(await hashImage(bytes, imageHashingFor('robust')));
  return perceptual(searchedSignals(query).map(({ type, code }) => ({ type: type.name, hash: code })));
}

/**
 * Robust matching exactly as the service does it, through its own code:
 * captured content stored as POST /v1/banks/:id/content stores an image
 * (capturedImageSignals), a victim's query built by the query module, and a
 * case storing what that query searches with (as POST /v1/cases does), at
 * the registry's default thresholds.
 */
export const robustRecallMethod: RecallMethod = {
  name: 'robust',
  thresholds: Object.fromEntries(HAMMING_TYPES.map((t) => [t.name, t.defaultThreshold])),
  async content(bytes) {
    return perceptual(capturedImageSignals(await hashImage(bytes, { regions: 'content' })).signals);
  },
  query: serviceQuery,
  caseHashes: serviceQuery,
};

export const RECALL_METHODS: RecallMethod[] = [pdqRecallMethod, robustRecallMethod];
