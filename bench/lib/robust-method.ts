/**
 * The service's own matching as bench/quality sees it: captured images are
 * ingested the way POST /v1/banks/:id/content stores them (PDQ plus content
 * region hashes) into a real SQLite store, indexed by SignalIndexes, and each
 * victim query is hashed the way POST /v1/match does in robust mode and run
 * through the Matcher with the default thresholds.
 *
 * add() hashes; the store write happens in one transaction before the next
 * query, as a takedown team's batch ingest does, so the ingest time compared
 * with the PDQ baseline is hashing time (the baseline keeps no store either).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashImage } from '../../src/image/hash-image.js';
import { Matcher } from '../../src/match/matcher.js';
import { SignalIndexes } from '../../src/match/signal-indexes.js';
import { imageHashingFor, queryFromImage } from '../../src/match/query.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { NewContentItem } from '../../src/store/store.js';
import type { EngineMatch, MatchEngine, QualityMethod } from './quality-methods.js';

export const robustMethod: QualityMethod = {
  name: 'robust',
  create(): MatchEngine {
    const dir = mkdtempSync(join(tmpdir(), 'ncii-quality-'));
    const store = new SqliteStore(join(dir, 'quality.db'));
    process.once('exit', () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const bank = store.createBank({ name: 'captured' });
    const indexes = SignalIndexes.load(store);
    const matcher = new Matcher(store, indexes);
    const probeMatchers = new Map<number, Matcher>();
    const probeMatcher = (radius: number) => {
      if (!probeMatchers.has(radius)) probeMatchers.set(radius, new Matcher(store, indexes, { ceilings: { pdq: radius, 'pdq-region': radius } }));
      return probeMatchers.get(radius)!;
    };
    const search = async (bytes: Uint8Array, using: Matcher, radius?: number): Promise<EngineMatch[]> => {
      if (pending.length > 0) flush();
      const hashed = await hashImage(bytes, imageHashingFor('robust'));
      const query = queryFromImage(hashed, radius === undefined ? {} : { thresholds: { pdq: radius, 'pdq-region': radius } });
      const { matches } = await using.matchContent(query);
      return matches.map((m) => ({ contentId: contentOf.get(m.contentId)!, distance: m.distance, via: m.via === 'region' ? `region:${m.region}` : 'whole' }));
    };
    const contentOf = new Map<number, number>();
    let pending: Array<{ contentId: number; item: NewContentItem }> = [];
    const flush = () => {
      const { contentIds } = store.addContent(bank.id, pending.map((p) => p.item));
      contentIds.forEach((id, i) => contentOf.set(id, pending[i].contentId));
      pending = [];
    };
    return {
      async add(contentId, bytes) {
        const hashed = await hashImage(bytes, { signals: ['pdq'], regions: 'content' });
        const regions = (hashed.regions ?? []).map((r) => ({ type: 'pdq-region', hash: r.hash, quality: r.quality }));
        const signals = [{ type: 'pdq', hash: hashed.pdq!.hash, quality: hashed.pdq!.quality }, ...regions];
        pending.push({ contentId, item: { provenance: { platform: 'bench' }, signals } });
        return { entries: signals.length };
      },
      query: (bytes) => search(bytes, matcher),
      probe: (bytes, radius) => search(bytes, probeMatcher(radius), radius),
    };
  },
};
