/**
 * The parts of scans below the API, on a real SQLite store with in-thread
 * indexes: locks (held, stale by time, holder gone), a run that fails is
 * recorded as failed and the next one starts over its range, a run whose
 * lock was taken over stops without writing, a run stopped midway resumes
 * from its checkpoint with an audit entry for every match it recorded
 * (written with the checkpoint, or not at all), schedules and time zones,
 * the scheduler's catch-up, and event listeners that throw.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Matcher } from '../src/match/matcher.js';
import { queryFromSignals } from '../src/match/query.js';
import { SignalIndexes } from '../src/match/signal-indexes.js';
import { lockIsStale, newHolder } from '../src/scans/lock.js';
import { checkTimeZone, cronOf, nextSlot, ScheduleError } from '../src/scans/schedule.js';
import { ScanScheduler } from '../src/scans/scheduler.js';
import { AuditTrail, recordMatches } from '../src/services/audit-trail.js';
import { newCaseNumber } from '../src/services/case-credentials.js';
import { ServiceEvents } from '../src/services/events.js';
import { runScanToCompletion } from '../src/services/scans.js';
import { hashPin } from '../src/store/pin.js';
import { SqliteAuditLog } from '../src/store/audit-log.js';
import { LockLostError, type RecordedListener, SqliteScanStore } from '../src/store/scans.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'ncii-scans-runner-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const store = new SqliteStore(join(dir, 'scans.db'));
t.teardown(() => store.close());
const scans = new SqliteScanStore(store.db);
const indexes = SignalIndexes.load(store);
const matcher = new Matcher(store, indexes);
const bank = store.createBank({ name: 'captured' });
const pinHash = await hashPin('123412341234');

const code = () => new Uint8Array(randomBytes(32));
const near = (hash: Uint8Array) => {
  const out = hash.slice();
  out[5] ^= 0x11;
  return out;
};
const photos = Array.from({ length: 6 }, code);
const caseIds = photos.map((hash) => store.createCase({ caseNumber: newCaseNumber(), pinHash, signals: [{ type: 'pdq', hash }] }).id);
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ provenance: { platform: 'telegram', channel: 'g' }, signals: [{ type: 'pdq', hash: i % 3 === 0 ? near(photos[i % photos.length]) : code() }] }));
store.addContent(bank.id, items(30));
const newScan = (name: string) => scans.createScan({ name, cron: '0 * * * *', timeZone: 'UTC', banks: [bank.id], caseIds: null, thresholds: { threshold: 31 }, enabled: true, nextRunAt: null, createdBy: 'test' });
const trail = new AuditTrail(new SqliteAuditLog(store.db));
const recorded: RecordedListener = (run, matches) => recordMatches(trail, run, matches);
/** The `match.recorded` entries of a run, and its matches as their targets, in the same order. */
const audited = (runId: number) => ({
  entries: store.db.prepare("SELECT target FROM audit_log WHERE action = 'match.recorded' AND actor = ? ORDER BY target").pluck().all(`scan-run:${runId}`),
  matches: store.db.prepare("SELECT 'match:' || id FROM scan_matches WHERE run_id = ? ORDER BY 1").pluck().all(runId),
});
const pairs = () => new Set((store.db.prepare('SELECT case_id AS c, content_id AS i FROM scan_matches').all() as { c: number; i: number }[]).map((m) => `${m.c}:${m.i}`));

t.test('locks: held, stale by time, or held by a process that is gone', async (t) => {
  const now = Date.now();
  const fresh = new Date(now).toISOString();
  t.notOk(lockIsStale({ scanId: 1, runId: 1, holder: newHolder(), heartbeatAt: fresh }, 60_000, now), 'this process, renewed: held');
  t.ok(lockIsStale({ scanId: 1, runId: 1, holder: newHolder(), heartbeatAt: new Date(now - 61_000).toISOString() }, 60_000, now), 'not renewed: stale');
  t.ok(lockIsStale({ scanId: 1, runId: 1, holder: `${hostname()}/999999999/abc`, heartbeatAt: fresh }, 60_000, now), 'its process is gone: stale at once');
  t.notOk(lockIsStale({ scanId: 1, runId: 1, holder: `${hostname()}/1/abc`, heartbeatAt: fresh }, 60_000, now), 'a live process (pid 1): held');
  t.notOk(lockIsStale({ scanId: 1, runId: 1, holder: 'elsewhere/1/abc', heartbeatAt: fresh }, 60_000, now), 'another host, renewed: held');
});

t.test('one run at a time; a failed run is recorded and the next starts over its range', async (t) => {
  const scan = newScan('failing');
  const other = scans.beginRun(scan.id, { trigger: 'manual', holder: 'other', startedBy: 'test', isStale: () => false })!;
  await t.rejects(runScanToCompletion({ scans, matcher }, scan.id), { code: 'CONFLICT' }, 'held by a live holder');
  scans.releaseLock(scan.id, 'other');
  const failing = { ...matcher, matchContent: () => Promise.reject(new Error('index gone')) } as unknown as Matcher;
  const failed = await runScanToCompletion({ scans, matcher: failing }, scan.id);
  t.equal(failed.id, other.run.id, 'the unfinished run is resumed, not a second one started');
  t.same([failed.status, failed.error], ['failed', 'index gone']);
  t.equal(scans.getScan(scan.id).doneCaseId, 0, 'coverage does not move');
  const done = await runScanToCompletion({ scans, matcher }, scan.id);
  t.equal(done.status, 'done');
  t.equal(done.casesTotal, caseIds.length, 'the next run covers what the failed one did not');
  t.equal(scans.lockOf(scan.id), undefined, 'released');
  t.equal(done.newMatches, 10);
});

t.test('a run whose lock was taken over stops without writing', async (t) => {
  const scan = newScan('taken over');
  const begun = scans.beginRun(scan.id, { trigger: 'manual', holder: 'me', startedBy: 'test', isStale: () => false })!;
  scans.beginRun(scan.id, { trigger: 'manual', holder: 'thief', startedBy: 'test', isStale: () => true });
  t.throws(() => scans.checkpoint(begun.run, 'me', { matches: [{ caseId: caseIds[0], contentId: 1, signalType: 'pdq', distance: 0, via: 'whole' }] }), LockLostError);
  t.throws(() => scans.finishRun(begun.run, 'me', 'done'), LockLostError);
  t.equal(scans.getRun(begun.run.id).newMatches, 0);
  const resumed = await runScanToCompletion({ scans, matcher, holder: 'thief' }, scan.id);
  t.equal(resumed.id, begun.run.id);
  t.equal(resumed.status, 'done');
});

t.test('a run stopped midway resumes from its checkpoint', async (t) => {
  const scan = newScan('stopped');
  await runScanToCompletion({ scans, matcher }, scan.id);
  store.addContent(bank.id, items(600));
  let slices = 0;
  const stopped = await runScanToCompletion({ scans, matcher, recorded, stopping: () => slices++ >= 1 }, scan.id);
  t.equal(stopped.status, 'running', 'left unfinished');
  t.equal(stopped.itemsDone, 256, 'one slice done');
  const sofar = audited(stopped.id);
  t.ok(sofar.matches.length > 0, `${sofar.matches.length} matches in the first slice`);
  t.same(sofar.entries, sofar.matches, 'each already has its audit entry, before the run ends');
  scans.releaseLock(scan.id, scans.lockOf(scan.id)!.holder);
  const before = pairs();
  const progress: number[] = [];
  const finished = await runScanToCompletion({ scans, matcher, recorded, onProgress: (p) => progress.push(p.itemsDone) }, scan.id);
  t.equal(finished.id, stopped.id);
  t.same(progress, [512, 600], 'from the checkpoint on');
  t.equal(finished.itemsDone, 600);
  t.ok(pairs().size > before.size);
  t.equal(finished.newMatches, (store.db.prepare('SELECT count(*) AS n FROM scan_matches WHERE run_id = ?').get(finished.id) as { n: number }).n);
  const all = audited(finished.id);
  t.same(all.entries, all.matches, 'resumed: one entry per match, none lost or repeated');
  t.ok(trail.verify().ok, 'the chain holds');
});

t.test('a checkpoint and the audit entries of its matches are kept together or not at all', async (t) => {
  const scan = newScan('undone');
  const { run } = scans.beginRun(scan.id, { trigger: 'manual', holder: 'me', startedBy: 'test', isStale: () => false })!;
  const cursor = run.contentCursor;
  const found = { contentCursor: cursor + 5, items: 5, matches: [{ caseId: caseIds[0], contentId: 1, signalType: 'pdq', distance: 3, via: 'whole' as const }] };
  const failing: RecordedListener = (r, matches) => {
    recorded(r, matches);
    throw new Error('disk full');
  };
  t.throws(() => scans.checkpoint(run, 'me', found, failing), /disk full/);
  t.same(audited(run.id), { entries: [], matches: [] }, 'neither the match nor its entry');
  t.same([run.contentCursor, scans.getRun(run.id).contentCursor, scans.getRun(run.id).newMatches], [cursor, cursor, 0], 'the checkpoint did not move');
  const [id] = scans.checkpoint(run, 'me', found, recorded);
  t.same(audited(run.id), { entries: [`match:${id}`], matches: [`match:${id}`] }, 'then both');
  t.equal(run.contentCursor, cursor + 5);
  scans.finishRun(run, 'me', 'done');
});

t.test('a scan of listed cases records only theirs; changing what it matches covers everything again', async (t) => {
  const scan = scans.createScan({ name: 'listed', cron: '0 * * * *', timeZone: 'UTC', banks: null, caseIds: [caseIds[0]], thresholds: {}, enabled: true, nextRunAt: null, createdBy: 'test' });
  const first = await runScanToCompletion({ scans, matcher }, scan.id);
  const ofScan = () => store.db.prepare('SELECT DISTINCT case_id AS c FROM scan_matches WHERE scan_id = ?').all(scan.id) as { c: number }[];
  t.same(ofScan().map((r) => r.c), [caseIds[0]]);
  t.equal(first.casesTotal, 1);
  store.addContent(bank.id, items(6));
  t.equal((await runScanToCompletion({ scans, matcher }, scan.id)).itemsTotal, 6, 'new content only');
  scans.updateScan(scan.id, { caseIds: [caseIds[0], caseIds[3]] });
  t.equal(scans.getScan(scan.id).doneContentId, 0, 'coverage starts over');
  const again = await runScanToCompletion({ scans, matcher }, scan.id);
  t.equal(again.casesTotal, 2);
  t.same(ofScan().map((r) => r.c).sort((a, b) => a - b), [caseIds[0], caseIds[3]]);
  t.throws(() => scans.updateScan(scan.id, { name: 'failing' }), { code: 'CONFLICT' });
  t.throws(() => scans.createScan({ name: 'bad', cron: '* * * * *', timeZone: 'UTC', banks: null, caseIds: [999999], thresholds: {}, enabled: true, nextRunAt: null, createdBy: 'x' }), { code: 'NOT_FOUND' });
  t.throws(() => scans.getRun(999999), { code: 'NOT_FOUND' });
  scans.deleteScan(scan.id);
  t.throws(() => scans.deleteScan(scan.id), { code: 'NOT_FOUND' });
});

t.test('schedules: cron expressions in an explicit time zone', async (t) => {
  t.throws(() => checkTimeZone('Nowhere/Special'), ScheduleError);
  t.throws(() => cronOf('61 * * * *', 'UTC'), /not a cron expression/);
  const after = new Date('2026-03-28T12:00:00Z');
  t.equal(nextSlot('30 2 * * *', 'UTC', after), '2026-03-29T02:30:00.000Z');
  t.equal(nextSlot('0 9 * * *', 'Europe/Berlin', after), '2026-03-29T07:00:00.000Z', 'read in the zone: 09:00 summer time in Berlin is 07:00 UTC');
  t.equal(nextSlot('0 9 * * *', 'America/New_York', after), '2026-03-28T13:00:00.000Z', '08:00 in New York when asked: 09:00 the same day');
  t.equal(nextSlot('0 0 1 1 *', 'UTC', new Date('2026-06-01T00:00:00Z')), '2027-01-01T00:00:00.000Z');
});

t.test('the scheduler runs a missed slot once, follows changes and stops', async (t) => {
  const due: [number, string][] = [];
  const scheduler = new ScanScheduler(scans, (id, trigger) => due.push([id, trigger]));
  const missed = newScan('missed');
  scans.setNextRunAt(missed.id, '2020-01-01T00:00:00.000Z');
  const disabled = scans.updateScan(newScan('disabled').id, { enabled: false, nextRunAt: '2020-01-01T00:00:00.000Z' });
  scheduler.update(missed.id, scans.getScan(missed.id));
  t.same(due, [], 'nothing before start');
  scheduler.start(new Date('2026-12-07T10:30:00Z'));
  t.same(due, [[missed.id, 'catch-up']], 'once, and not for the disabled scan');
  t.equal(scans.getScan(missed.id).nextRunAt, '2026-12-07T11:00:00.000Z');
  t.equal(scans.getScan(disabled.id).nextRunAt, '2020-01-01T00:00:00.000Z');
  const every = scans.updateScan(newScan('every second').id, { cron: '* * * * * *' });
  scheduler.update(every.id, every);
  for (let i = 0; i < 300 && !due.some(([id]) => id === every.id); i++) await new Promise((r) => setTimeout(r, 10));
  t.ok(due.some(([id, trigger]) => id === every.id && trigger === 'schedule'), 'a slot fires the handler');
  scheduler.update(every.id, null);
  scheduler.stop();
  const count = due.length;
  await new Promise((r) => setTimeout(r, 1100));
  t.equal(due.length, count, 'nothing after stop');
});

t.test('an event listener that throws is reported and does not stop the others', async (t) => {
  const failures: string[] = [];
  const events = new ServiceEvents((_err, event) => failures.push(event));
  const heard: number[] = [];
  events.on('run.finished', () => {
    throw new Error('listener bug');
  });
  const off = events.on('run.finished', (e) => heard.push(e.runId));
  events.emit('run.finished', { runId: 7, scanId: 1, status: 'done', newMatches: 0 });
  off();
  events.emit('run.finished', { runId: 8, scanId: 1, status: 'done', newMatches: 0 });
  t.same(heard, [7]);
  t.same(failures, ['run.finished', 'run.finished']);
});

t.test("a bank's threshold override applies the same way round: a case against content, and new content against cases", async (t) => {
  const strict = store.createBank({ name: 'strict', thresholds: { pdq: 10 } });
  const atDistance = (hash: Uint8Array, bits: number) => {
    const out = hash.slice();
    for (let bit = 0; bit < bits; bit++) out[bit >> 3] ^= 1 << (bit & 7);
    return out;
  };
  const unscoped = (name: string) => scans.createScan({ name, cron: '0 * * * *', timeZone: 'UTC', banks: [strict.id], caseIds: null, thresholds: {}, enabled: true, nextRunAt: null, createdBy: 'test' });
  const found = (scanId: number, caseId: number) =>
    (store.db.prepare('SELECT distance FROM scan_matches WHERE scan_id = ? AND case_id = ? ORDER BY distance').all(scanId, caseId) as { distance: number }[]).map((r) => r.distance);
  const capture = (hash: Uint8Array) => store.addContent(strict.id, [8, 20].map((bits) => ({ provenance: { platform: 'telegram', channel: 's' }, signals: [{ type: 'pdq', hash: atDistance(hash, bits) }] })));

  // Content first, then the case: the case is matched against the bank (matchContent).
  const photoA = code();
  capture(photoA);
  const caseA = store.createCase({ caseNumber: newCaseNumber(), pinHash, signals: [{ type: 'pdq', hash: photoA }] }).id;
  const caseFirst = unscoped('override, case side');
  await runScanToCompletion({ scans, matcher }, caseFirst.id);

  // The case first, then the content: the new items are matched against the case (matchCases).
  const photoB = code();
  const caseB = store.createCase({ caseNumber: newCaseNumber(), pinHash, signals: [{ type: 'pdq', hash: photoB }] }).id;
  const contentFirst = unscoped('override, content side');
  await runScanToCompletion({ scans, matcher }, contentFirst.id);
  t.same(found(contentFirst.id, caseB), [], 'nothing captured yet');
  capture(photoB);
  const incremental = await runScanToCompletion({ scans, matcher }, contentFirst.id);
  t.equal(incremental.itemsTotal, 2, 'the new items were matched against the cases');

  t.same(found(caseFirst.id, caseA), [8], "the bank's 10 applies: 8 bits found, 20 bits (within the default 31) not");
  t.same(found(contentFirst.id, caseB), found(caseFirst.id, caseA), 'the same the other way round');
  const { matches, thresholds } = await matcher.matchCases(queryFromSignals([{ type: 'pdq', hash: atDistance(photoB, 20) }]), { bankId: strict.id });
  t.notOk(matches.some((m) => m.caseId === caseB));
  t.same(thresholds.map((x) => [x.bankId, x.source, x.applied]), [[strict.id, 'bank', 10]]);
  const scanOwn = await matcher.matchCases(queryFromSignals([{ type: 'pdq', hash: atDistance(photoB, 20) }], { thresholds: { pdq: 25 } }), { bankId: strict.id });
  t.ok(scanOwn.matches.some((m) => m.caseId === caseB), "a scan's own threshold replaces the bank's, as on /v1/match");
});

t.test("a first run whose cases carry more hashes than the content matches all content against the cases, finding the same", async (t) => {
  const few = store.createBank({ name: 'few' });
  const [near0, unrelated] = store.addContent(few.id, [near(photos[0]), code()].map((hash) => ({ provenance: { platform: 'telegram', channel: 'f' }, signals: [{ type: 'pdq', hash }] }))).contentIds;
  const scan = scans.createScan({ name: 'content side', cron: '0 * * * *', timeZone: 'UTC', banks: [few.id], caseIds: null, thresholds: {}, enabled: true, nextRunAt: null, createdBy: 'test' });
  const first = await runScanToCompletion({ scans, matcher }, scan.id);
  t.same([first.itemsTotal, first.itemsDone, first.casesTotal], [2, 2, 0], 'the 2 items were the queries, against every case');
  const recorded = store.db.prepare('SELECT case_id AS c, content_id AS i FROM scan_matches WHERE scan_id = ?').all(scan.id) as { c: number; i: number }[];
  t.same(recorded, [{ c: caseIds[0], i: near0 }], 'the near copy, of the case it copies');
  t.notOk(recorded.some((m) => m.i === unrelated));
  store.addContent(few.id, [{ provenance: { platform: 'telegram', channel: 'f' }, signals: [{ type: 'pdq', hash: near(photos[1]) }] }]);
  const next = await runScanToCompletion({ scans, matcher }, scan.id);
  t.same([next.itemsTotal, next.casesTotal, next.newMatches], [1, 0, 1], 'the next run: the new item against the cases covered');
});
