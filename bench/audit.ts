/**
 * bench/audit: what chaining costs the audit log's batched writes. Groups of
 * entries as a busy server queues them (one group per flush) are written by
 * the hash-chained log, next to the same rows inserted the way the log wrote
 * them before it was a chain (multi-row INSERTs in one transaction, no
 * hashing), in the same run and the same kind of database, interleaved.
 *
 *   npm run bench:audit [-- --quick]
 *
 * The last line is one JSON object: entries per second of each, and the ratio.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteAuditLog } from '../src/store/audit-log.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 6 : 20;
const GROUP = 200;
const GROUPS_PER_ROUND = quick ? 10 : 25;

const dir = mkdtempSync(join(tmpdir(), 'ncii-bench-audit-'));
const chainedStore = new SqliteStore(join(dir, 'chained.db'));
const plainStore = new SqliteStore(join(dir, 'plain.db'));
const chained = new SqliteAuditLog(chainedStore.db);

const entry = (i: number) => ({ at: new Date().toISOString(), actor: `key:${i % 7}`, action: 'POST /v1/match', target: null, status: 200, matchCount: i % 3 });
/** The log's former write: 64-row INSERTs, then one by one, in one transaction. */
const insertMany = plainStore.db.prepare(`INSERT INTO audit_log (at, actor, action, target, status, match_count) VALUES ${Array(64).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`);
const insertOne = plainStore.db.prepare('INSERT INTO audit_log (at, actor, action, target, status, match_count) VALUES (?, ?, ?, ?, ?, ?)');
const plainWrite = plainStore.db.transaction((entries: ReturnType<typeof entry>[]) => {
  let i = 0;
  for (; i + 64 <= entries.length; i += 64) insertMany.run(entries.slice(i, i + 64).flatMap((e) => [e.at, e.actor, e.action, e.target, e.status, e.matchCount]));
  for (; i < entries.length; i++) insertOne.run(entries[i].at, entries[i].actor, entries[i].action, entries[i].target, entries[i].status, entries[i].matchCount);
});

const time = (work: () => void) => {
  const start = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - start) / 1e6;
};

let chainedMs = 0;
let plainMs = 0;
for (let round = 0; round < ROUNDS; round++) {
  const groups = Array.from({ length: GROUPS_PER_ROUND }, (_, g) => Array.from({ length: GROUP }, (_, i) => entry(g * GROUP + i)));
  plainMs += time(() => groups.forEach((g) => plainWrite(g)));
  chainedMs += time(() =>
    groups.forEach((g) => {
      for (const e of g) chained.append(e);
      chained.flush();
    }),
  );
}
const entries = ROUNDS * GROUPS_PER_ROUND * GROUP;
const verified = time(() => chained.verify());
chainedStore.close();
plainStore.close();
rmSync(dir, { recursive: true, force: true });
const perSecond = (ms: number) => Math.round((entries / ms) * 1000);
console.log(
  JSON.stringify({
    entries,
    group: GROUP,
    plainEntriesPerSecond: perSecond(plainMs),
    chainedEntriesPerSecond: perSecond(chainedMs),
    chainedToPlain: Math.round((plainMs / chainedMs) * 100) / 100,
    verifyEntriesPerSecond: perSecond(verified),
  }),
);
