/**
 * A run killed midway (SIGKILL of a real server process) continues from its
 * checkpoint when the server starts again: every planted match is recorded
 * exactly once, none is lost, and the run's counts agree with what it
 * recorded. Both parts of a run are killed into: new content against the
 * cases an earlier run covered (content cursor), and new cases against all
 * content (case cursor). Each match's audit entry is written with it: at
 * every kill each match recorded so far has one, and in the end every match
 * has exactly one.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { pdq } from '../src/hashing/registry.js';
import { SqliteApiKeyStore } from '../src/store/api-keys.js';
import { SqliteAuditLog } from '../src/store/audit-log.js';
import { DATABASE_FILE } from '../src/services/services.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { hashPin } from '../src/store/pin.js';
import { newCaseNumber } from '../src/services/case-credentials.js';
import { type ServerProcess, startServerProcess } from './helpers/server-process.js';

const dir = mkdtempSync(join(tmpdir(), 'ncii-scan-resume-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const dbPath = join(dir, DATABASE_FILE);

const code = () => new Uint8Array(randomBytes(32));
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const NEW_CASES = 60;
// Three server starts on a machine shared with other work: more than the default five minutes.
t.setTimeout(900_000);
function near(hash: Uint8Array, bits: number): Uint8Array {
  const out = hash.slice();
  for (let i = 0; i < bits; i++) out[(i * 7) % 32] ^= 1 << (i % 8);
  return out;
}

/** Adds `count` items, one in `every` a near copy of one of `photos`, the rest unrelated. */
function addContent(store: SqliteStore, bankId: number, count: number, photos: Uint8Array[], every: number): void {
  for (let from = 0; from < count; from += 1000) {
    const items = Array.from({ length: Math.min(1000, count - from) }, (_, i) => {
      const n = from + i;
      const hash = n % every === 0 ? near(photos[(n / every) % photos.length], 1 + (n % 9)) : code();
      return { provenance: { platform: 'telegram', channel: `g${n % 13}`, messageRef: `m${n}` }, signals: [{ type: 'pdq', hash }] };
    });
    store.addContent(bankId, items);
  }
}

const pinHash = await hashPin('123412341234');
function addCases(store: SqliteStore, photos: Uint8Array[]): void {
  for (const hash of photos) store.createCase({ caseNumber: newCaseNumber(), pinHash, signals: [{ type: 'pdq', hash }] });
}

/** Every (case, content) pair within PDQ's threshold, by comparing every pair. */
function bruteForce(store: SqliteStore): Set<string> {
  const rows = (kind: 'content_item_id' | 'victim_case_id') =>
    store.db.prepare(`SELECT ${kind} AS owner, hash FROM signals WHERE ${kind} IS NOT NULL`).all() as { owner: number; hash: Buffer }[];
  const cases = rows('victim_case_id');
  const pairs = new Set<string>();
  for (const item of rows('content_item_id')) {
    for (const c of cases) if (pdq.distance(new Uint8Array(c.hash), new Uint8Array(item.hash)) <= pdq.defaultThreshold) pairs.add(`${c.owner}:${item.owner}`);
  }
  return pairs;
}

/** The matches recorded, and the targets of the `match.recorded` audit entries, in the same form and order. */
function audited(db: Database.Database) {
  return {
    entries: db.prepare("SELECT target FROM audit_log WHERE action = 'match.recorded' ORDER BY target").pluck().all(),
    matches: db.prepare("SELECT 'match:' || id FROM scan_matches ORDER BY 1").pluck().all(),
  };
}

const store = new SqliteStore(dbPath);
const secret = new SqliteApiKeyStore(store.db).create({ name: 'takedown', role: 'takedown' }).secret;
const authorization = `Bearer ${secret}`;
const bankId = store.createBank({ name: 'captured' }).id;
const oldPhotos = Array.from({ length: 40 }, code);
addCases(store, oldPhotos);
addContent(store, bankId, 2000, oldPhotos, 50);
store.close();

let server: ServerProcess = await startServerProcess(dir);
t.teardown(() => void server.child.kill('SIGKILL'));
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the answers are checked by the assertions
const api = async (method: string, path: string, body?: object): Promise<any> => {
  const res = await fetch(`${server.url}${path}`, { method, headers: { authorization, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
};
const scan = await api('POST', '/v1/scans', { name: 'resume', cron: '0 0 1 1 *', timeZone: 'UTC' });

async function waitForRun(runId: number, until: (run: { status: string; progress: Record<string, number> }) => boolean) {
  for (let i = 0; i < 6000; i++) {
    const run = await api('GET', `/v1/scan-runs/${runId}`);
    if (until(run)) return run;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`run ${runId} never got there`);
}

t.test('a first run, then new content and new cases', async (t) => {
  const run = await api('POST', `/v1/scans/${scan.id}/run`);
  const done = await waitForRun(run.id, (r) => r.status !== 'running');
  t.equal(done.status, 'done');
  const newPhotos = Array.from({ length: NEW_CASES }, code);
  const photos = [...oldPhotos, ...newPhotos];
  for (let from = 0; from < 10_000; from += 1000) {
    const items = Array.from({ length: 1000 }, (_, i) => {
      const n = from + i;
      const hash = n % 25 === 0 ? near(photos[(n / 25) % photos.length], 1 + (n % 9)) : code();
      return { signals: [{ type: 'pdq', hash: hex(hash) }], platform: 'telegram', group: `g${n % 13}`, messageUrl: `m${n}` };
    });
    await api('POST', `/v1/banks/${bankId}/content`, { items });
  }
  for (const hash of newPhotos) await api('POST', '/v1/cases', { signals: [{ type: 'pdq', hash: hex(hash) }] });
});

t.test('killed in each part of a run, it resumes and records every match once', async (t) => {
  const run = await api('POST', `/v1/scans/${scan.id}/run`);
  t.ok(run.progress.itemsTotal >= 10_000 && run.progress.casesTotal === NEW_CASES, JSON.stringify(run.progress));
  const kills: string[] = [];
  const parts = [
    { name: 'content', midway: (p: Record<string, number>) => p.itemsDone > 0 && p.itemsDone < p.itemsTotal },
    { name: 'cases', midway: (p: Record<string, number>) => p.casesDone > 0 && p.casesDone < p.casesTotal },
  ];
  for (const part of parts) {
    const seen = await waitForRun(run.id, (r) => r.status !== 'running' || part.midway(r.progress));
    if (seen.status !== 'running') break;
    server.child.kill('SIGKILL');
    await server.exited;
    kills.push(`${part.name} at ${JSON.stringify(seen.progress)}`);
    const killed = new Database(dbPath);
    const sofar = audited(killed);
    killed.close();
    t.same(sofar.entries, sofar.matches, `killed in the ${part.name} part: each of the ${sofar.matches.length} matches recorded so far has its audit entry`);
    server = await startServerProcess(dir);
  }
  t.ok(kills.length >= 1, `killed midway: ${kills.join('; ')}`);
  const finished = await waitForRun(run.id, (r) => r.status !== 'running');
  t.equal(finished.status, 'done');
  t.same(finished.progress, { itemsDone: run.progress.itemsTotal, itemsTotal: run.progress.itemsTotal, casesDone: NEW_CASES, casesTotal: NEW_CASES }, 'every item and case counted once');
  server.child.kill('SIGTERM');
  await server.exited;

  const check = new SqliteStore(dbPath);
  t.teardown(() => check.close());
  const recorded = check.db.prepare('SELECT case_id AS c, content_id AS i, run_id AS r FROM scan_matches').all() as { c: number; i: number; r: number }[];
  const expected = bruteForce(check);
  t.ok(expected.size >= 400, `${expected.size} planted matches`);
  t.same(new Set(recorded.map((m) => `${m.c}:${m.i}`)), expected, 'every match within the threshold, no other');
  t.equal(recorded.length, expected.size, 'none twice');
  t.equal(recorded.filter((m) => m.r === run.id).length, finished.newMatches, "the run's count is what it recorded");
  t.equal((check.db.prepare('SELECT count(*) AS n FROM match_events').get() as { n: number }).n, recorded.length, 'one "found" event per match');
  t.equal((check.db.prepare('SELECT count(*) AS n FROM scan_locks').get() as { n: number }).n, 0, 'the lock is released');
  const all = audited(check.db);
  t.same(all.entries, all.matches, 'one "match recorded" audit entry per match, none lost or repeated');
  t.ok(new SqliteAuditLog(check.db).verify().ok, 'the audit chain holds');
});
