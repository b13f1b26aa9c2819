/**
 * One run of a scan, from its checkpoint to the end. Content captured since
 * the last successful run is matched against the cases that run already
 * covered (`Matcher.matchCases`), and every case added since then against
 * all content (`Matcher.matchContent`): the same query module and matcher as
 * /v1/match, region hashes on both sides, so a scan finds exactly what a
 * lookup would. New content meets new cases once, in the second part.
 *
 * After every slice of work its matches, their audit entries and the
 * checkpoint are committed together; a run stopped at any point (killed, or
 * the service closing) continues from there when it is next begun.
 */
import type { Matcher } from '../match/matcher.js';
import { queryFromSignals, type QueryOptions } from '../match/query.js';
import type { ContentSignals, FoundMatch, RecordedListener, ScanRecord, ScanRun, SqliteScanStore } from '../store/scans.js';

/** Content items matched between checkpoints (each a handful of hashes, searched together). */
export const CONTENT_SLICE = 256;
/** Cases matched together between checkpoints: the index thread searches one's hashes while the owners of another's hits are read. */
export const CASE_SLICE = 4;

export interface RunProgress {
  itemsDone: number;
  itemsTotal: number;
  casesDone: number;
  casesTotal: number;
  newMatches: number;
}

export interface RunContext {
  scans: SqliteScanStore;
  matcher: Matcher;
  holder: string;
  /** Asked between slices: true stops the run at its last checkpoint (it stays unfinished, to be resumed). */
  stopping?: () => boolean;
  onProgress?: (progress: RunProgress) => void;
  /** Told of each checkpoint's new matches inside its transaction (the audit trail's entries), so they commit with it. */
  recorded?: RecordedListener;
}

/** How a scan's matches are made: its thresholds as the query module reads them. */
export function scanQueryOptions(scan: ScanRecord): QueryOptions {
  return { ...(scan.thresholds.threshold !== undefined ? { threshold: scan.thresholds.threshold } : {}), ...(scan.thresholds.thresholds ? { thresholds: scan.thresholds.thresholds } : {}) };
}

function progressOf(run: ScanRun, added: { items: number; cases: number; matches: number }, base: RunProgress): RunProgress {
  return {
    itemsDone: base.itemsDone + added.items,
    itemsTotal: run.itemsTotal,
    casesDone: base.casesDone + added.cases,
    casesTotal: run.casesTotal,
    newMatches: base.newMatches + added.matches,
  };
}

/** The cases of the scan a content item is matched against (up to the run's caseFrom: those the last run covered, or every case when a first run queries with content), at its bank's thresholds. */
async function matchItem(ctx: RunContext, scan: ScanRecord, run: ScanRun, item: ContentSignals, options: QueryOptions): Promise<FoundMatch[]> {
  if (item.signals.length === 0) return [];
  const listed = scan.caseIds === null ? null : new Set(scan.caseIds);
  const { matches } = await ctx.matcher.matchCases(queryFromSignals(item.signals, options), { bankId: item.bankId });
  return matches
    .filter((m) => m.caseId <= run.caseFrom && (listed === null || listed.has(m.caseId)))
    .map((m) => ({ caseId: m.caseId, contentId: item.id, signalType: m.signalType, distance: m.distance, via: m.via }));
}

/** Every content item of the scan's banks a case matches. */
async function matchCase(ctx: RunContext, scan: ScanRecord, caseId: number, options: QueryOptions): Promise<FoundMatch[]> {
  const { signals } = ctx.scans.caseSignals(caseId);
  if (signals.length === 0) return [];
  const query = queryFromSignals(signals, { ...options, ...(scan.banks ? { banks: scan.banks } : {}) });
  const { matches } = await ctx.matcher.matchContent(query);
  return matches.map((m) => ({ caseId, contentId: m.contentId, signalType: m.signalType, distance: m.distance, via: m.via }));
}

/**
 * Runs `run` (begun with SqliteScanStore.beginRun, its lock held by
 * `ctx.holder`) from its checkpoint. Returns the run as finished, or as left
 * when `stopping()` said to stop.
 */
export async function executeRun(ctx: RunContext, scan: ScanRecord, run: ScanRun): Promise<ScanRun> {
  const options = scanQueryOptions(scan);
  let progress: RunProgress = { itemsDone: run.itemsDone, itemsTotal: run.itemsTotal, casesDone: run.casesDone, casesTotal: run.casesTotal, newMatches: run.newMatches };
  const stopped = () => ctx.stopping?.() ?? false;
  while (!stopped()) {
    const items = ctx.scans.contentAfter(run, scan.banks, CONTENT_SLICE);
    if (items.length === 0) break;
    const found = (await Promise.all(items.map((item) => matchItem(ctx, scan, run, item, options)))).flat();
    const added = ctx.scans.checkpoint(run, ctx.holder, { contentCursor: items.at(-1)!.id, items: items.length, matches: found }, ctx.recorded);
    progress = progressOf(run, { items: items.length, cases: 0, matches: added.length }, progress);
    ctx.onProgress?.(progress);
  }
  while (!stopped()) {
    const caseIds = ctx.scans.casesAfter(run, scan, CASE_SLICE);
    if (caseIds.length === 0) break;
    const found = (await Promise.all(caseIds.map((caseId) => matchCase(ctx, scan, caseId, options)))).flat();
    const added = ctx.scans.checkpoint(run, ctx.holder, { caseCursor: caseIds.at(-1)!, cases: caseIds.length, matches: found }, ctx.recorded);
    progress = progressOf(run, { items: 0, cases: caseIds.length, matches: added.length }, progress);
    ctx.onProgress?.(progress);
  }
  if (stopped()) return ctx.scans.getRun(run.id);
  return ctx.scans.finishRun(run, ctx.holder, 'done');
}
