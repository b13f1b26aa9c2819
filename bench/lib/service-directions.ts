/**
 * Both directions of matching, measured through the service itself rather
 * than through a model of it (bench/quality's method `service`):
 *
 * - match (POST /v1/match): reposts are ingested by BankService.addImages as
 *   captured content (PDQ, digests, content region hashes), each original is
 *   hashed as MatchingService.byImage hashes an upload and searched with
 *   Matcher.matchContent;
 * - case (issue 14): each original is registered by CaseService.createFromImages
 *   (the case keeps every hash its robust query searches with), and each
 *   repost, as newly captured content, is matched the way a scan must: its
 *   stored signals read back from the store, made a query by the query module
 *   (queryFromSignals) and searched with Matcher.matchCases.
 *
 * A real SQLite store in a temp dir, the indexes in their worker thread. Each
 * search runs twice: at the service's own thresholds (what it would report),
 * and a probe PROBE_MARGIN past every threshold (how close wrong photos come).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { findSignalType, HAMMING_TYPES } from '../../src/hashing/registry.js';
import { Matcher } from '../../src/match/matcher.js';
import { type Query, type QueryOptions, queryFromImage, queryFromSignals, searchedSignals } from '../../src/match/query.js';
import { Services } from '../../src/services/services.js';

/** A pair one search returned: the other side's index, threshold - distance (>= 0: a match), the signal type. */
export interface ServiceHit {
  other: number;
  margin: number;
  type: string;
}

export interface ServiceDirections {
  /** Per original: the reposts its /v1/match query returned. */
  match: ServiceHit[][];
  /** Per repost: the cases a scan matched it to. */
  case: ServiceHit[][];
  contentEntries: number[];
  caseHashes: number[];
  queryHashes: number[];
  /** Decode, hash and search one /v1/match query, median over the originals. */
  queryMs: number[];
}

/** What the service's answer says of one pair (at the default thresholds, so >= 0), or of a probe-only pair (< 0). */
function hits<M>(found: M[], probed: M[], key: (m: M) => number, distance: (m: M) => number, type: (m: M) => string): ServiceHit[] {
  const margin = (m: M) => findSignalType(type(m))!.defaultThreshold - distance(m);
  const matched = new Set(found.map(key));
  return [
    ...found.map((m) => ({ other: key(m), margin: Math.max(0, margin(m)), type: type(m) })),
    // Closest-by-distance of another type may still sit inside its own threshold: the service did not match the pair, so it counts as outside.
    ...probed.filter((m) => !matched.has(key(m))).map((m) => ({ other: key(m), margin: Math.min(-1, margin(m)), type: type(m) })),
  ];
}

/** Runs `work` over 0..n-1, `inFlight` at a time. */
async function each(n: number, inFlight: number, work: (i: number) => Promise<void>, label: string): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) {
        const i = next++;
        await work(i);
        if (i % 200 === 0) process.stderr.write(`service ${label}: ${i}/${n}\r`);
      }
    }),
  );
}

export async function serviceDirections(originals: number, reposts: number, read: { original(i: number): Uint8Array; repost(i: number): Uint8Array }, probeMargin: number): Promise<ServiceDirections> {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-quality-service-'));
  const services = new Services(loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' }), { error: (details, message) => console.error(message, details) });
  try {
    await services.loadIndexes();
    const probeThresholds = Object.fromEntries(HAMMING_TYPES.map((t) => [t.name, Math.min(t.bits, t.defaultThreshold + probeMargin)]));
    const probe = new Matcher(services.store, services.indexes, { ceilings: probeThresholds });
    const probeOptions: QueryOptions = { thresholds: probeThresholds };
    const bank = services.banks.create({ name: 'captured' });
    const out: ServiceDirections = { match: [], case: [], contentEntries: [], caseHashes: [], queryHashes: [], queryMs: [] };

    const contentIds: number[] = new Array(reposts);
    const repostOf = new Map<number, number>();
    await each(reposts, 2, async (i) => {
      const [added] = await services.banks.addImages(bank.id, [{ filename: `repost-${i}.jpg`, bytes: read.repost(i) }], { platform: 'bench' });
      contentIds[i] = added.id;
      repostOf.set(added.id, i);
      out.contentEntries[i] = added.signals.length;
    }, 'content');

    const caseOf = new Map<number, number>();
    await each(originals, 2, async (q) => {
      const bytes = read.original(q);
      const started = performance.now();
      const hashed = await services.hashing.hashForQuery(bytes);
      const query = queryFromImage(hashed);
      const found = (await services.matching.search(query)).matches;
      out.queryMs[q] = performance.now() - started;
      out.queryHashes[q] = searchedSignals(query).length;
      const probed = (await probe.matchContent(queryFromImage(hashed, probeOptions))).matches;
      out.match[q] = hits(found, probed, (m) => repostOf.get(m.contentId)!, (m) => m.distance, (m) => m.signalType);
      const created = await services.cases.createFromImages([{ filename: `original-${q}.jpg`, bytes }]);
      caseOf.set(services.store.findCaseByNumber(created.caseNumber)!.id, q);
      out.caseHashes[q] = created.hashes;
    }, 'cases');

    // A scan: each newly captured item's stored hashes, as one query, against every case.
    await each(reposts, 2, async (i) => {
      const signals = services.store.listSignals({ kind: 'content', contentId: contentIds[i] });
      const scanQuery = (options?: QueryOptions): Query => queryFromSignals(signals, options);
      const found = (await services.matcher.matchCases(scanQuery())).matches;
      const probed = (await probe.matchCases(scanQuery(probeOptions))).matches;
      out.case[i] = hits(found, probed, (m) => caseOf.get(m.caseId)!, (m) => m.distance, (m) => m.signalType);
    }, 'scan');
    return out;
  } finally {
    services.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
