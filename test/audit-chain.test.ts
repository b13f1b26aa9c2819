/**
 * The audit log's hash chain: entries of requests and of what the service
 * did are chained in order (also across batched writes and processes); rows
 * written before the chain existed are chained when the store opens; `audit
 * verify` names the first entry altered, deleted or moved in the database
 * file; a withdrawn case's entries lose its details and the chain still
 * holds; entries written at once commit or roll back with the transaction
 * they are written in; GET /v1/audit and `audit list` read it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { DATABASE_FILE } from '../src/services/services.js';
import { entryHash } from '../src/store/audit-chain.js';
import { SqliteAuditLog } from '../src/store/audit-log.js';
import { migrate, readMigrations } from '../src/store/sqlite-migrations.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { runCli } from './helpers/cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'ncii-audit-chain-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

const cli = (dataDir: string, argv: string[]) => runCli(argv, { env: { DATA_DIR: dataDir } });

/** A service with an admin key, some requests, a bank with content, and a case. */
async function populated(name: string) {
  const dir = join(root, name);
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dir, ANONYMOUS_REQUESTS_PER_MINUTE: '100000', MAX_EVENT_LOOP_DELAY_MS: '600000' }), logger: false });
  const admin = app.services.keys.create({ name: 'admin', role: 'admin' }).secret;
  const headers = { authorization: `Bearer ${admin}` };
  const bank = (await app.inject({ method: 'POST', url: '/v1/banks', headers, payload: { name: 'captured' } })).json();
  const hashes = Array.from({ length: 3 }, (_, i) => ({ signals: [{ type: 'pdq', hash: String(i + 1).repeat(64) }], group: `group ${i}` }));
  await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/content`, headers, payload: { items: hashes } });
  for (let i = 0; i < 5; i++) await app.inject({ method: 'POST', url: '/v1/match', payload: { signals: [{ type: 'pdq', hash: 'a'.repeat(64) }] } });
  const created = (await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'pdq', hash: 'c'.repeat(64) }] } })).json();
  return { dir, app, headers, bank, created };
}

t.test('requests and what the service did are chained, and verify', async (t) => {
  const { dir, app, headers } = await populated('plain');
  const page = (await app.inject({ method: 'GET', url: '/v1/audit?limit=1000', headers })).json();
  const actions = page.entries.map((e: { action: string }) => e.action).reverse();
  t.ok(actions.includes('bank.created') && actions.includes('POST /v1/banks'), 'the write and its request');
  t.equal(actions.filter((a: string) => a === 'content.ingested').length, 3, 'one entry per item ingested');
  t.ok(actions.includes('case.created'));
  const ingested = page.entries.find((e: { action: string }) => e.action === 'content.ingested');
  t.equal(ingested.actor, page.entries.find((e: { action: string }) => e.action === 'POST /v1/banks/:id/content').actor, 'by the caller of the request');
  t.match(ingested.actor, /^key:\d+$/);
  const caseEntry = page.entries.find((e: { action: string }) => e.action === 'case.created');
  t.equal(caseEntry.actor, 'anonymous', 'a victim is anonymous');
  t.match(caseEntry.commitment, /^[0-9a-f]{64}$/, 'the case is behind a commitment');
  t.notOk('caseId' in caseEntry || 'details' in caseEntry || 'salt' in caseEntry, 'no case details in the listing');
  for (let i = 0; i + 1 < page.entries.length; i++) t.equal(page.entries[i].prevHash, page.entries[i + 1].hash, `entry ${page.entries[i].id} links to the one before`);
  await app.close();

  const verified = await cli(dir, ['audit', 'verify']);
  t.equal(verified.code, 0, verified.stdout);
  // The listing request itself is the last entry.
  t.match(verified.stdout, new RegExp(`The audit log holds: ${page.entries.length + 1} entries`));
});

t.test('GET /v1/audit filters by actor, action and time, a page at a time', async (t) => {
  const { app, headers } = await populated('listing');
  t.teardown(() => app.close());
  const get = async (query: string) => (await app.inject({ method: 'GET', url: `/v1/audit?${query}`, headers })).json();
  const all = (await get('limit=1000')).entries as { id: number; at: string; actor: string; action: string }[];
  const matches = await get(`action=${encodeURIComponent('POST /v1/match')}`);
  t.equal(matches.entries.length, 5);
  const anonymous = all.find((e) => e.action === 'POST /v1/match')!.actor;
  t.ok((await get(`actor=${encodeURIComponent(anonymous)}`)).entries.every((e: { actor: string }) => e.actor === anonymous));
  // Each listing is logged too: later pages start from before the first listing.
  const upTo = `before=${all[0].id + 1}`;
  const cut = all[Math.floor(all.length / 2)].at;
  const since = (await get(`since=${cut}&limit=1000&${upTo}`)).entries as { at: string }[];
  const until = (await get(`until=${cut}&limit=1000&${upTo}`)).entries as { at: string }[];
  t.ok(since.every((e) => e.at >= cut) && until.every((e) => e.at < cut));
  t.equal(since.length + until.length, all.length, 'since and until split the log');
  const seen: number[] = [];
  let url = `limit=4&${upTo}`;
  for (;;) {
    const page = await get(url);
    seen.push(...page.entries.map((e: { id: number }) => e.id));
    if (page.nextBefore === null) break;
    url = `limit=4&before=${page.nextBefore}`;
  }
  t.same(seen, all.map((e) => e.id), 'pages of 4 give every entry once, newest first');
  const bad = await app.inject({ method: 'GET', url: '/v1/audit?since=yesterday', headers });
  t.equal(bad.statusCode, 400);
});

/** Runs `tamper` on the closed database file, then `audit verify`. */
async function tampered(name: string, tamper: (db: Database.Database, ids: number[]) => number) {
  const { dir, app } = await populated(name);
  await app.close();
  const db = new Database(join(dir, DATABASE_FILE));
  const ids = (db.prepare('SELECT id FROM audit_log ORDER BY id').all() as { id: number }[]).map((r) => r.id);
  const firstBroken = tamper(db, ids);
  db.close();
  return { firstBroken, result: await cli(dir, ['audit', 'verify']) };
}

t.test('audit verify names the first entry altered, deleted or moved in the file', async (t) => {
  const altered = await tampered('altered', (db, ids) => {
    db.prepare("UPDATE audit_log SET actor = 'key:999' WHERE id = ?").run(ids[4]);
    return ids[4];
  });
  t.equal(altered.result.code, 1);
  t.match(altered.result.stdout, `BROKEN at entry ${altered.firstBroken} `);
  t.match(altered.result.stdout, /contents do not match its hash/);

  const rehashed = await tampered('rehashed', (db, ids) => {
    // A forger who recomputes the altered entry's own hash still breaks the link from the next one.
    const row = db.prepare('SELECT * FROM audit_log WHERE id = ?').get(ids[3]) as Record<string, unknown>;
    const hash = entryHash({ id: ids[3], at: row.at as string, actor: 'key:999', action: row.action as string, target: row.target as string | null, status: row.status as number, matchCount: row.match_count as number | null, commitment: row.commitment as string | null, prevHash: row.prev_hash as string });
    db.prepare("UPDATE audit_log SET actor = 'key:999', hash = ? WHERE id = ?").run(hash, ids[3]);
    return ids[4];
  });
  t.match(rehashed.result.stdout, `BROKEN at entry ${rehashed.firstBroken} `);
  t.match(rehashed.result.stdout, /previous-entry hash/);

  const deleted = await tampered('deleted', (db, ids) => {
    db.prepare('DELETE FROM audit_log WHERE id = ?').run(ids[6]);
    return ids[7];
  });
  t.match(deleted.result.stdout, `BROKEN at entry ${deleted.firstBroken} `);
  t.match(deleted.result.stdout, /deleted, inserted or moved/);

  const reordered = await tampered('reordered', (db, ids) => {
    // Entries 3 and 5 swap places (ids kept in order, contents moved).
    db.prepare('UPDATE audit_log SET id = -1 WHERE id = ?').run(ids[2]);
    db.prepare('UPDATE audit_log SET id = ? WHERE id = ?').run(ids[2], ids[4]);
    db.prepare('UPDATE audit_log SET id = ? WHERE id = -1').run(ids[4]);
    return ids[2];
  });
  t.match(reordered.result.stdout, `BROKEN at entry ${reordered.firstBroken} `);

  const caseAltered = await tampered('case-altered', (db) => {
    const { id } = db.prepare('SELECT id FROM audit_log WHERE case_id IS NOT NULL').get() as { id: number };
    db.prepare('UPDATE audit_log SET case_id = case_id + 1 WHERE id = ?').run(id);
    return id;
  });
  t.match(caseAltered.result.stdout, `BROKEN at entry ${caseAltered.firstBroken} `);
  t.match(caseAltered.result.stdout, /case fields do not match their commitment/);
});

t.test('a withdrawn case: its details and salts are erased, the chain still holds', async (t) => {
  const { dir, app, created } = await populated('withdrawn');
  const db = app.services.store.db;
  app.services.audit.flush();
  t.equal((db.prepare('SELECT count(*) AS n FROM audit_log WHERE case_id IS NOT NULL').get() as { n: number }).n, 1);
  const { salt } = db.prepare("SELECT salt FROM audit_log WHERE action = 'case.created'").get() as { salt: string };
  const path = join(dir, DATABASE_FILE);
  const holding = () => [path, `${path}-wal`].filter((f) => existsSync(f) && readFileSync(f).includes(Buffer.from(salt)));
  t.not(holding().length, 0, 'the salt is on disk before');
  const res = await app.inject({ method: 'DELETE', url: `/v1/cases/${created.caseNumber}`, headers: { 'x-case-pin': created.pin } });
  t.equal(res.statusCode, 204);
  const left = db.prepare("SELECT case_id, details, salt, commitment FROM audit_log WHERE action = 'case.created'").get() as Record<string, unknown>;
  t.same({ ...left, commitment: typeof left.commitment }, { case_id: null, details: null, salt: null, commitment: 'string' }, 'only the commitment is left');
  t.same(holding(), [], 'the erased salt is in neither the database file nor its log');
  await app.close();
  const verified = await cli(dir, ['audit', 'verify']);
  t.equal(verified.code, 0, verified.stdout);
  t.match(verified.stdout, /1 of them had a withdrawn case's details erased/);
});

t.test('rows from before the chain are chained when the store opens, then new ones after them', async (t) => {
  const path = join(root, 'older.db');
  const db = new Database(path);
  migrate(db, readMigrations().filter((m) => m.version <= 7));
  const insert = db.prepare('INSERT INTO audit_log (at, actor, action, target, status, match_count) VALUES (?, ?, ?, ?, ?, ?)');
  for (let i = 0; i < 10; i++) insert.run(new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(), 'key:1', 'POST /v1/match', null, 200, i);
  db.close();
  const store = new SqliteStore(path);
  const log = new SqliteAuditLog(store.db);
  log.append({ at: new Date().toISOString(), actor: 'cli', action: 'key.created', target: 'key:2', status: 0, matchCount: null });
  const report = log.verify();
  t.same({ ok: report.ok, entries: report.entries, head: report.head?.id }, { ok: true, entries: 11, head: 11 });
  store.close();
});

t.test('batched writes and a second writer extend one chain', async (t) => {
  const path = join(root, 'two-writers.db');
  const a = new SqliteStore(path);
  const b = new SqliteStore(path);
  const logA = new SqliteAuditLog(a.db, { maxPending: 100 });
  const logB = new SqliteAuditLog(b.db);
  const entry = (actor: string, i: number) => ({ at: new Date().toISOString(), actor, action: 'test', target: `n:${i}`, status: 0, matchCount: null, ...(i % 7 === 0 ? { caseId: i, details: { i } } : {}) });
  for (let i = 0; i < 250; i++) {
    logA.append(entry('a', i));
    if (i % 50 === 0) logB.append(entry('b', i));
    if (i % 50 === 0) logB.flush();
  }
  logA.flush();
  const report = logA.verify();
  t.same({ ok: report.ok, entries: report.entries }, { ok: true, entries: 255 }, 'multi-row inserts and the other writer, in one chain');
  a.close();
  b.close();
});

t.test("entries written at once join the caller's transaction; queued ones stay queued and follow", async (t) => {
  const store = new SqliteStore(join(root, 'at-once.db'));
  t.teardown(() => store.close());
  const log = new SqliteAuditLog(store.db, { maxDelayMs: 60_000 });
  const entry = (target: string) => ({ at: new Date().toISOString(), actor: 'scan-run:1', action: 'match.recorded', target, status: 0, matchCount: null, caseId: 1, details: { d: 3 } });
  const targets = () => store.db.prepare('SELECT target FROM audit_log ORDER BY id').pluck().all();
  log.append(entry('queued'));
  const work = store.db.transaction((fail: boolean) => {
    log.appendNow([entry('match:1'), entry('match:2')]);
    if (fail) throw new Error('rolled back');
  });
  t.throws(() => work(true), /rolled back/);
  t.same(targets(), [], 'rolled back with the transaction, and the queued entry not taken along');
  work(false);
  t.same(targets(), ['match:1', 'match:2'], 'committed with it, before the queued entry is due');
  log.flush();
  t.same(targets(), ['match:1', 'match:2', 'queued']);
  const report = log.verify();
  t.same({ ok: report.ok, entries: report.entries }, { ok: true, entries: 3 });
});
