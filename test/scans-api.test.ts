/**
 * Scheduled scans and the takedown workflow over the API (inject) and a real
 * SQLite store: a run finds exactly what the matcher finds for each case,
 * with region hashes; the next run only what is new (new content against old
 * cases, new cases against all content), nothing twice; matches move through
 * their statuses with who and when; the victim sees counts and status, never
 * links; the report as JSON and as CSV a spreadsheet opens safely; a
 * withdrawn case's matches are gone; a slot missed while down runs once.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { queryFromSignals } from '../src/match/query.js';
import type { ServiceEventMap } from '../src/services/events.js';
import { neutralizeCell } from '../src/services/matches.js';

const dir = mkdtempSync(join(tmpdir(), 'ncii-scans-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
// Load shedding off: a scan's searches beside other test files on two cores can hold the event loop past the default second.
const config = loadConfig({ DATA_DIR: dir, ANONYMOUS_REQUESTS_PER_MINUTE: '100000', KEYED_REQUESTS_PER_MINUTE: '100000', MAX_EVENT_LOOP_DELAY_MS: '600000' });

let app = await buildApp({ config, logger: false });
await app.ready();
t.teardown(() => app.close());

const takedown = { authorization: `Bearer ${app.services.keys.create({ name: 'takedown', role: 'takedown' }).secret}` };
const keyActor = `key:${app.services.keys.list().find((k) => k.name === 'takedown')!.id}`;

const code = () => new Uint8Array(randomBytes(32));
/** A copy with `bits` bits flipped: a near-duplicate at that Hamming distance. */
function near(hash: Uint8Array, bits: number): Uint8Array {
  const out = hash.slice();
  for (let i = 0; i < bits; i++) out[i * 3] ^= 1 << (i % 8);
  return out;
}
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

async function newCase(signals: { type: string; hash: Uint8Array }[]) {
  const res = await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: signals.map((s) => ({ type: s.type, hash: hex(s.hash) })) } });
  if (res.statusCode !== 201) throw new Error(res.body);
  return res.json() as { caseNumber: string; pin: string };
}

function addItem(bankId: number, group: string, n: number, signals: { type: string; hash: Uint8Array }[]): number {
  return app.services.store.addContent(bankId, [{ provenance: { platform: 'telegram', channel: group, messageRef: `https://t.me/${group}/${n}`, capturedAt: `2026-12-0${(n % 5) + 1}T10:00:00Z` }, signals }]).contentIds[0];
}

async function runToEnd(scanId: number) {
  const started = await app.inject({ method: 'POST', url: `/v1/scans/${scanId}/run`, headers: takedown });
  if (started.statusCode !== 202) throw new Error(started.body);
  const runId = (started.json() as { id: number }).id;
  for (let i = 0; i < 500; i++) {
    const run = (await app.inject({ method: 'GET', url: `/v1/scan-runs/${runId}`, headers: takedown })).json() as { status: string };
    if (run.status !== 'running') return run as { id: number; status: string; newMatches: number; trigger: string; progress: Record<string, number> };
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('the run did not finish');
}

type Match = { id: number; caseNumber: string; contentId: number; status: string; group: string; messageUrl: string; via: string; runId: number };
async function allMatches(query = '', limit = 2): Promise<Match[]> {
  const out: Match[] = [];
  for (let cursor: string | null = null, pages = 0; pages < 100; pages++) {
    const res = await app.inject({ method: 'GET', url: `/v1/matches?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`, headers: takedown });
    if (res.statusCode !== 200) throw new Error(res.body);
    const body = res.json() as { matches: Match[]; nextCursor: string | null };
    out.push(...body.matches);
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  return out;
}

const events: { [E in keyof ServiceEventMap]: ServiceEventMap[E][] } = { 'run.finished': [], 'match.status': [] };
app.services.events.on('run.finished', (e) => events['run.finished'].push(e));
app.services.events.on('match.status', (e) => events['match.status'].push(e));

const bankA = app.services.store.createBank({ name: 'captured' }).id;
const bankB = app.services.store.createBank({ name: 'elsewhere' }).id;
const photo = { pdq: code(), region: code() };
const victim = await newCase([{ type: 'pdq', hash: photo.pdq }, { type: 'pdq-region', hash: photo.region }]);
const repost = addItem(bankA, 'group one', 1, [{ type: 'pdq', hash: near(photo.pdq, 6) }]);
// A crop: nothing of the whole image is close, one region is.
const crop = addItem(bankA, '=HYPERLINK("http://x")', 2, [{ type: 'pdq', hash: code() }, { type: 'pdq-region', hash: near(photo.region, 4) }]);
const unrelated = addItem(bankA, 'group one', 3, [{ type: 'pdq', hash: code() }, { type: 'pdq-region', hash: code() }]);
addItem(bankB, 'group two', 4, [{ type: 'pdq', hash: near(photo.pdq, 2) }]);

let scanId = 0;
let firstRun = 0;

t.test('scans are checked, created, listed and changed', async (t) => {
  const bad = async (payload: object, status: number, pattern: RegExp) => {
    const res = await app.inject({ method: 'POST', url: '/v1/scans', headers: takedown, payload });
    t.equal(res.statusCode, status, res.body);
    t.match(res.json().error.message, pattern);
  };
  const base = { name: 'every four hours', cron: '0 */4 * * *', timeZone: 'Europe/Berlin', banks: [bankA], cases: 'all' };
  await bad({ ...base, cron: 'every tuesday' }, 400, /cron/);
  await bad({ ...base, timeZone: 'Mars/Olympus' }, 400, /IANA/);
  await bad({ ...base, banks: [9999] }, 404, /bank/i);
  await bad({ ...base, cases: ['ZZZZ-ZZZZ-ZZZZ'] }, 404, /case/i);
  await bad({ ...base, thresholds: { thresholds: { md5: 3 } } }, 400, /thresholds/);
  const created = await app.inject({ method: 'POST', url: '/v1/scans', headers: takedown, payload: base });
  t.equal(created.statusCode, 201, created.body);
  const scan = created.json();
  scanId = scan.id;
  t.same({ banks: scan.banks, cases: scan.cases, timeZone: scan.timeZone, enabled: scan.enabled }, { banks: [bankA], cases: 'all', timeZone: 'Europe/Berlin', enabled: true });
  t.ok(Date.parse(scan.nextRunAt) > Date.now(), 'the next slot is ahead');
  t.equal(new Date(scan.nextRunAt).getUTCMinutes(), 0);
  const dup = await app.inject({ method: 'POST', url: '/v1/scans', headers: takedown, payload: base });
  t.equal(dup.statusCode, 409, 'names are unique');
  const listed = (await app.inject({ method: 'GET', url: '/v1/scans', headers: takedown })).json();
  t.same(listed.scans.map((s: { id: number }) => s.id), [scanId]);
  const patched = await app.inject({ method: 'PATCH', url: `/v1/scans/${scanId}`, headers: takedown, payload: { enabled: false } });
  t.equal(patched.json().enabled, false);
  await app.inject({ method: 'PATCH', url: `/v1/scans/${scanId}`, headers: takedown, payload: { enabled: true } });
  t.equal((await app.inject({ method: 'GET', url: '/v1/scans/999', headers: takedown })).statusCode, 404);
});

t.test('a first run finds what the matcher finds for each case, through regions too', async (t) => {
  const run = await runToEnd(scanId);
  firstRun = run.id;
  t.equal(run.status, 'done');
  t.equal(run.trigger, 'manual');
  const victimCase = app.services.store.findCaseByNumber(victim.caseNumber)!;
  const expected = await app.services.matcher.matchContent(queryFromSignals(app.services.store.listSignals({ kind: 'case', caseId: victimCase.id }), { banks: [bankA] }));
  const found = await allMatches();
  t.same(found.map((m) => m.contentId).sort(), expected.matches.map((m) => m.contentId).sort(), 'exactly what the matcher answers');
  t.same(found.map((m) => m.contentId).sort(), [repost, crop].sort(), 'the repost and the crop; not the unrelated item, not bank B');
  t.equal(found.find((m) => m.contentId === crop)?.via, 'region');
  t.equal(run.newMatches, 2);
  t.same(events['run.finished'].at(-1), { runId: run.id, scanId, status: 'done', newMatches: 2 });
});

t.test('the next run covers new content against old cases and new cases against everything, nothing twice', async (t) => {
  const later = addItem(bankA, 'group three', 5, [{ type: 'pdq', hash: near(photo.pdq, 9) }]);
  // A new case whose photo is the unrelated item captured before it.
  const unrelatedPdq = app.services.store.listSignals({ kind: 'content', contentId: unrelated }).find((s) => s.type === 'pdq')!.hash;
  const second = await newCase([{ type: 'pdq', hash: near(unrelatedPdq, 3) }]);
  const run = await runToEnd(scanId);
  t.equal(run.status, 'done');
  t.equal(run.newMatches, 2);
  const ofRun = await allMatches(`&run=${run.id}`);
  t.same(ofRun.map((m) => [m.caseNumber, m.contentId]).sort(), [[victim.caseNumber, later], [second.caseNumber, unrelated]].sort());
  t.equal((await allMatches()).length, 4, 'no match recorded twice');
  const again = await runToEnd(scanId);
  t.equal(again.newMatches, 0, 'a run with nothing new finds nothing new');
  t.same(again.progress, { itemsDone: 0, itemsTotal: 0, casesDone: 0, casesTotal: 0 });
});

t.test('filters and cursor pages', async (t) => {
  const all = await allMatches('', 1);
  t.equal(all.length, 4);
  t.equal(new Set(all.map((m) => m.id)).size, 4, 'pages neither repeat nor skip');
  t.same(all.map((m) => m.id), [...all.map((m) => m.id)].sort((a, b) => b - a), 'newest first');
  t.same((await allMatches(`&case=${victim.caseNumber.toLowerCase()}`)).map((m) => m.contentId).length, 3);
  t.same((await allMatches('&group=group%20one')).map((m) => m.contentId), [unrelated, repost]);
  t.same((await allMatches(`&group=group%20one&case=${victim.caseNumber}`)).map((m) => m.contentId), [repost], 'filters combine');
  t.equal((await allMatches(`&bank=${bankB}`)).length, 0);
  t.equal((await allMatches(`&run=${firstRun}`)).length, 2);
  t.equal((await allMatches('&since=2999-01-01T00:00:00Z')).length, 0);
  t.equal((await allMatches('&until=2999-01-01')).length, 4);
  t.equal((await allMatches('&case=ABCD-EFGH-JKMN')).length, 0, 'an unknown case number is an empty answer');
  for (const url of ['/v1/matches?cursor=nope', '/v1/matches?since=yesterday', '/v1/matches?status=gone']) {
    const res = await app.inject({ method: 'GET', url, headers: takedown });
    t.equal(res.statusCode, 400, `${url}: ${res.body}`);
  }
});

t.test('statuses move new -> reported -> removed, or dismissed, each change recorded', async (t) => {
  const [cropMatch] = await allMatches(`&run=${firstRun}&group=${encodeURIComponent('=HYPERLINK("http://x")')}`);
  const [repostMatch] = await allMatches(`&group=group%20one&case=${victim.caseNumber}`);
  const patch = (id: number, payload: object) => app.inject({ method: 'PATCH', url: `/v1/matches/${id}`, headers: takedown, payload });
  t.equal((await patch(repostMatch.id, { status: 'reported' })).statusCode, 400, 'reported needs where');
  const reported = await patch(repostMatch.id, { status: 'reported', where: 'Telegram abuse form', reference: 'TG-123' });
  t.equal(reported.statusCode, 200, reported.body);
  t.same([reported.json().status, reported.json().reportedWhere, reported.json().reference], ['reported', 'Telegram abuse form', 'TG-123']);
  t.equal((await patch(repostMatch.id, { status: 'new' })).statusCode, 409, 'reported cannot go back to new');
  t.equal((await patch(repostMatch.id, { status: 'removed' })).statusCode, 200);
  t.equal((await patch(cropMatch.id, { status: 'dismissed' })).statusCode, 400, 'dismissed needs a reason');
  t.equal((await patch(cropMatch.id, { status: 'dismissed', reason: 'a different photo' })).json().dismissReason, 'a different photo');
  t.equal((await patch(cropMatch.id, { status: 'new' })).json().status, 'new', 'a dismissal can be undone');
  t.equal((await patch(99999, { status: 'removed' })).statusCode, 404);
  const history = (await app.inject({ method: 'GET', url: `/v1/matches/${repostMatch.id}`, headers: takedown })).json();
  t.same(history.events.map((e: { from: string | null; to: string }) => [e.from, e.to]), [[null, 'new'], ['new', 'reported'], ['reported', 'removed']]);
  t.same(history.events.slice(1).map((e: { actor: string }) => e.actor), [keyActor, keyActor], 'who');
  t.match(history.events[0].actor, /^scan-run:\d+$/);
  t.same(history.events[1].details, { where: 'Telegram abuse form', reference: 'TG-123' });
  t.same(events['match.status'].slice(0, 2).map((e) => [e.matchId, e.from, e.to, e.actor]), [[repostMatch.id, 'new', 'reported', keyActor], [repostMatch.id, 'reported', 'removed', keyActor]]);
});

t.test('the victim sees what scans found and what was removed; never links or content', async (t) => {
  const view = async () => (await app.inject({ method: 'GET', url: `/v1/cases/${victim.caseNumber}`, headers: { 'x-case-pin': victim.pin } }));
  const res = await view();
  t.equal(res.statusCode, 200, res.body);
  const { takedown: found } = res.json();
  t.same({ status: found.status, items: found.items, removed: found.removed }, { status: 'found', items: 3, removed: 1 });
  t.same(found.platforms, [{ platform: 'telegram', matches: 3 }]);
  t.equal(found.groups.length, 3);
  t.same([found.firstSeen, found.lastSeen], ['2026-12-01T10:00:00.000Z', '2026-12-03T10:00:00.000Z'], 'capture times of the copies found');
  t.notMatch(res.body, /t\.me|messageUrl|contentId/, 'no link, no content id');
  for (const m of await allMatches(`&case=${victim.caseNumber}`)) {
    if (m.status !== 'removed') await app.inject({ method: 'PATCH', url: `/v1/matches/${m.id}`, headers: takedown, payload: { status: 'removed' } });
  }
  t.equal((await view()).json().takedown.status, 'all removed');
});

t.test('the report by group, as JSON and as CSV a spreadsheet opens safely', async (t) => {
  const json = (await app.inject({ method: 'GET', url: `/v1/scan-runs/${firstRun}/report`, headers: takedown })).json();
  t.equal(json.matches, 2);
  t.same(json.byStatus, { new: 0, reported: 0, removed: 2, dismissed: 0 });
  t.same(json.groups.map((g: { group: string }) => g.group).sort(), ['=HYPERLINK("http://x")', 'group one']);
  const res = await app.inject({ method: 'GET', url: `/v1/scan-runs/${firstRun}/report?format=csv`, headers: takedown });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/csv; charset=utf-8/);
  t.match(res.headers['content-disposition'], /attachment; filename="scan-run-\d+\.csv"/);
  const bytes = res.rawPayload;
  t.same([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM');
  const rows = parse(bytes, { bom: true, columns: true }) as Record<string, string>[];
  t.equal(rows.length, 2);
  t.ok(rows.every((r) => r.status === 'removed' && r.group_matches === '1'));
  t.ok(rows.some((r) => r.group === `'=HYPERLINK("http://x")`), 'a group name that would be a formula starts with an apostrophe');
  t.ok(rows.some((r) => r.message === 'https://t.me/group one/1'));
  t.match(res.body, /"'=HYPERLINK\(""http:\/\/x""\)"/, 'RFC 4180: quotes doubled inside a quoted cell');
  t.ok(res.body.includes('\r\n'), 'CRLF line ends');
  for (const cell of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx']) t.equal(neutralizeCell(cell), `'${cell}`);
  t.equal(neutralizeCell('group'), 'group');
  t.equal((await app.inject({ method: 'GET', url: '/v1/scan-runs/9999/report', headers: takedown })).statusCode, 404);
});

t.test('a withdrawn case takes its matches and their history with it', async (t) => {
  const before = await allMatches(`&case=${victim.caseNumber}`);
  t.equal(before.length, 3);
  const res = await app.inject({ method: 'DELETE', url: `/v1/cases/${victim.caseNumber}`, headers: { 'x-case-pin': victim.pin } });
  t.equal(res.statusCode, 204);
  t.equal((await allMatches()).length, 1, "only the other case's match is left");
  const db = app.services.store.db;
  const ids = before.map((m) => m.id);
  t.equal((db.prepare(`SELECT count(*) AS n FROM match_events WHERE match_id IN (${ids.join(',')})`).get() as { n: number }).n, 0, 'no history left');
  t.equal((db.prepare(`SELECT count(*) AS n FROM scan_matches WHERE id IN (${ids.join(',')})`).get() as { n: number }).n, 0);
});

t.test('a slot missed while the service was down runs once when it starts', async (t) => {
  const runsBefore = app.services.scanStore.listRuns(scanId).length;
  await app.close();
  // Two slots passed while it was down.
  const reopened = await buildApp({ config, logger: false, loadIndexes: false });
  reopened.services.store.db.prepare('UPDATE scans SET next_run_at = ? WHERE id = ?').run(new Date(Date.now() - 9 * 3600_000).toISOString(), scanId);
  await reopened.services.loadIndexes();
  app = reopened;
  for (let i = 0; i < 200 && app.services.scanStore.listRuns(scanId).length === runsBefore; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  const runs = app.services.scanStore.listRuns(scanId);
  t.equal(runs.length, runsBefore + 1, 'one run, not one per missed slot');
  t.equal(runs[0].trigger, 'catch-up');
  t.ok(Date.parse(app.services.scanStore.getScan(scanId).nextRunAt!) > Date.now(), 'the next slot is ahead again');
});
