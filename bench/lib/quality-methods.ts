/**
 * Matching methods that bench/quality compares. A method makes an engine; the
 * bench ingests every captured variant into it as one content item, then asks
 * it about each original photo, as a victim's query.
 */
import { PDQ_MATCH_THRESHOLD } from '../../src/hashing/pdq.js';
import { hashImage } from '../../src/image/hash-image.js';
import { MultiIndexHashing } from '../../src/index/multi-index-hashing.js';
import { robustMethod } from './robust-method.js';

export interface EngineMatch {
  contentId: number;
  distance: number;
  via: string;
}

export interface MatchEngine {
  /** Ingest one captured image as content item contentId; returns how many index entries it added. */
  add(contentId: number, bytes: Uint8Array): Promise<{ entries: number }>;
  /** Victim query: every content item matched, with how it was found. */
  query(bytes: Uint8Array): Promise<EngineMatch[]>;
  /**
   * The same search with every threshold raised to `radius`: how close the
   * nearest wrong photos come, i.e. the margin the real thresholds keep.
   */
  probe?(bytes: Uint8Array, radius: number): Promise<EngineMatch[]>;
}

export interface QualityMethod {
  name: string;
  create(): MatchEngine | Promise<MatchEngine>;
}

/**
 * The baseline, as the service matches today: each content item's whole-image
 * PDQ hash in the project's multi-index hashing index; a query's 8 rotations
 * and mirrors searched at distance <= 31 (upstream's threshold), the closest
 * per content item kept. Queries under PDQ quality 50 are not matched on PDQ,
 * as the service does (none of the corpus originals are).
 */
export const pdqMethod: QualityMethod = {
  name: 'pdq',
  create(): MatchEngine {
    const index = new MultiIndexHashing();
    const search = async (bytes: Uint8Array, radius: number): Promise<EngineMatch[]> => {
      const { pdq } = await hashImage(bytes, { signals: ['pdq'], dihedral: true });
      if (pdq!.lowQuality) return [];
      const best = new Map<number, number>();
      for (const hash of pdq!.dihedral!) {
        for (const hit of index.search(hash, radius)) {
          const seen = best.get(hit.owner);
          if (seen === undefined || hit.distance < seen) best.set(hit.owner, hit.distance);
        }
      }
      return [...best].map(([contentId, distance]) => ({ contentId, distance, via: 'whole' }));
    };
    return {
      async add(contentId, bytes) {
        const { pdq } = await hashImage(bytes, { signals: ['pdq'] });
        index.add(pdq!.hash, contentId);
        return { entries: 1 };
      },
      query: (bytes) => search(bytes, PDQ_MATCH_THRESHOLD),
      probe: search,
    };
  },
};

// ---------------------------------------------------------------------------
// robust: the lead adds the robust engine here, e.g.
//   import { robustMethod } from '../../src/robust/...';
// and appends it to METHODS below. The last method in METHODS that a run
// includes is the one the bench's last JSON line reports (robust when there).
// ---------------------------------------------------------------------------

/** Every method the bench knows, baseline first. */
export const METHODS: QualityMethod[] = [pdqMethod, robustMethod];
