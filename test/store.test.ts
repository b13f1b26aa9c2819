import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { hashPin, verifyPin } from '../src/store/pin.js';
import { SQLITE_MIGRATIONS_DIR } from '../src/store/sqlite-migrations.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import type { ContentSignalOwner, NewSignal, SignalChange } from '../src/store/store.js';

const root = mkdtempSync(join(tmpdir(), 'ncii-store-test-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let dbCount = 0;

function openStore(): { store: SqliteStore; path: string } {
  const path = join(root, `store-${++dbCount}.db`);
  const store = new SqliteStore(path);
  t.teardown(() => store.db.open && store.close());
  return { store, path };
}

const pdqHash = () => new Uint8Array(randomBytes(32));
const provenance = { platform: 'telegram', channel: 'some group', messageRef: 'https://t.me/c/1/2', capturedAt: '2026-01-31T12:00:00Z' };
// A PIN hash made once: scrypt is deliberately slow.
const pinHashPromise = hashPin('4821');

t.test('migrations are applied once, recorded, and guarded against edits', async (t) => {
  const { migrate, readMigrations } = await import('../src/store/sqlite-migrations.js');
  const shipped = readMigrations();
  const { store, path } = openStore();
  t.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(store.db.pragma('foreign_keys', { simple: true }), 1);
  t.equal(store.db.pragma('synchronous', { simple: true }), 2, 'synchronous = FULL');
  const applied = store.db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
  t.same(applied, shipped.map(({ version, name }) => ({ version, name })));
  t.same(shipped[0], { version: 1, name: 'initial', sql: shipped[0].sql, checksum: shipped[0].checksum });
  store.close();

  const reopened = new SqliteStore(path);
  t.equal(reopened.db.prepare('SELECT count(*) FROM schema_migrations').pluck().get(), shipped.length, 'not applied twice');
  reopened.db.prepare("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1").run();
  reopened.close();
  t.throws(() => new SqliteStore(path), { code: 'MIGRATION_MISMATCH' }, 'an applied migration was edited');

  const { store: newer, path: newerPath } = openStore();
  newer.db.prepare("INSERT INTO schema_migrations VALUES (?, 'from_the_future', 'x', 'now')").run(shipped.length + 1);
  newer.close();
  t.throws(() => new SqliteStore(newerPath), { code: 'MIGRATION_MISMATCH' }, 'migrated by newer code');

  // A new migration in the directory is applied on next open, in order.
  const dir = join(root, 'migrations-copy');
  mkdirSync(dir);
  writeFileSync(join(dir, '001_initial.sql'), readFileSync(join(SQLITE_MIGRATIONS_DIR, '001_initial.sql')));
  const db = new Database(join(root, 'bare.db'));
  t.teardown(() => db.close());
  migrate(db, readMigrations(dir));
  writeFileSync(join(dir, '002_add_column.sql'), 'ALTER TABLE banks ADD COLUMN colour TEXT;');
  migrate(db, readMigrations(dir));
  t.same(db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(), [1, 2]);
  t.ok(db.prepare("SELECT 1 FROM pragma_table_info('banks') WHERE name = 'colour'").get());
  writeFileSync(join(dir, '003_broken.sql'), 'CREATE TABLE half (x); THIS IS NOT SQL;');
  t.throws(() => migrate(db, readMigrations(dir)));
  t.notOk(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'half'").get(), 'a failed migration leaves nothing behind');
  t.same(db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all(), [1, 2]);
});

t.test('banks: create, read, update, conflicts, validation', async (t) => {
  const { store } = openStore();
  const bank = store.createBank({ name: 'channel-a', description: 'captured from A', thresholds: { pdq: 24 } });
  t.match(bank, { name: 'channel-a', description: 'captured from A', thresholds: { pdq: 24 } });
  t.same(store.getBank(bank.id), bank);
  t.same(store.findBankByName('channel-a'), bank);
  t.equal(store.findBankByName('nope'), undefined);
  t.throws(() => store.createBank({ name: 'channel-a' }), { code: 'CONFLICT' });
  t.throws(() => store.createBank({ name: '  ' }), { code: 'INVALID_INPUT' });
  t.throws(() => store.createBank({ name: 'b', thresholds: { pdq: 300 } }), { code: 'INVALID_INPUT' });
  t.throws(() => store.createBank({ name: 'b', thresholds: { nohash: 3 } }), { code: 'INVALID_INPUT' });
  t.throws(() => store.getBank(9999), { code: 'NOT_FOUND' });
  const other = store.createBank({ name: 'channel-b' });
  t.same(other.thresholds, {});
  t.throws(() => store.updateBank(other.id, { name: 'channel-a' }), { code: 'CONFLICT' });
  const updated = store.updateBank(bank.id, { thresholds: null, description: '' });
  t.same(updated.thresholds, {});
  t.equal(updated.description, '');
  t.same(
    store.listBanks().map((b) => b.name),
    ['channel-a', 'channel-b'],
  );
});

t.test('banks are served from a cache that follows every change, committed or rolled back', async (t) => {
  const { store } = openStore();
  // What the table holds, read past the cache.
  const fromTable = () => store.db.prepare('SELECT id, name, description, thresholds FROM banks ORDER BY id').all();
  const asRows = () =>
    store.listBanks().map((b) => ({ id: b.id, name: b.name, description: b.description, thresholds: Object.keys(b.thresholds).length ? JSON.stringify(b.thresholds) : null }));
  t.same(store.listBanks(), [], 'empty');
  const a = store.createBank({ name: 'a', thresholds: { pdq: 20 } });
  t.same(store.listBanks(), [a], 'a created bank is listed');
  t.same(store.getBank(a.id), a);
  const b = store.createBank({ name: 'b' });
  t.same(store.listBanks(), [a, b]);
  t.same(asRows(), fromTable());

  const renamed = store.updateBank(a.id, { name: 'a2', thresholds: { pdq: 12, blockhash: 30 } });
  t.match(renamed, { id: a.id, name: 'a2', thresholds: { pdq: 12, blockhash: 30 } });
  t.same(store.getBank(a.id), renamed, 'an update is seen by getBank');
  t.same(store.listBanks(), [renamed, b], 'and by listBanks');
  t.same(asRows(), fromTable());

  t.throws(() => store.updateBank(b.id, { name: 'a2' }), { code: 'CONFLICT' });
  t.same(store.listBanks(), [renamed, b], 'a refused update changes nothing');

  store.deleteBank(b.id);
  t.same(store.listBanks(), [renamed], 'a deleted bank is gone');
  t.throws(() => store.getBank(b.id), { code: 'NOT_FOUND' });

  // Inside a transaction that then rolls back, store writes are refused (their
  // listeners would hear of them before the commit), and nothing read there
  // may stay cached.
  const rollback = new Error('roll back');
  t.throws(
    () =>
      store.db.transaction(() => {
        t.throws(() => store.createBank({ name: 'c' }), /cannot run inside another transaction/);
        t.throws(() => store.deleteBank(a.id), /cannot run inside another transaction/);
        store.db.prepare("INSERT INTO banks (name, description, created_at, updated_at) VALUES ('c', '', 'now', 'now')").run();
        t.same(store.listBanks().map((x) => x.name), ['a2', 'c'], 'inside the transaction its own rows are read');
        throw rollback;
      })(),
    rollback,
  );
  t.same(store.listBanks(), [renamed], 'after the rollback the committed banks are back');
  t.same(store.getBank(a.id), renamed);
  t.same(asRows(), fromTable());

  const listed = store.listBanks();
  t.throws(() => (listed as unknown as object[]).push({}), TypeError, 'the list cannot be changed by a caller');
  t.throws(() => ((listed[0] as { name: string }).name = 'x'), TypeError, 'nor a bank');
  t.throws(() => ((listed[0].thresholds as Record<string, number>).pdq = 1), TypeError, 'nor its thresholds');
  t.throws(() => ((store.getBank(a.id) as { name: string }).name = 'x'), TypeError);
  t.same(store.listBanks(), [renamed]);
});

t.test('contentSignalOwners: 0, 1, 2 and many ids give the owners of the content signals among them', async (t) => {
  const { store } = openStore();
  const banks = [store.createBank({ name: 'one' }), store.createBank({ name: 'two' })];
  const owners: ContentSignalOwner[] = [];
  for (let i = 0; i < 40; i++) {
    const bankId = banks[i % 2].id;
    const p = { platform: 'telegram', channel: i % 3 ? `group ${i}` : null, messageRef: i % 5 ? `https://t.me/c/1/${i}` : null, capturedAt: i % 7 ? '2026-01-31T12:00:00.000Z' : null };
    const { contentIds, signalIds } = store.addContent(bankId, [{ provenance: p, signals: [{ type: 'pdq', hash: pdqHash() }, { type: 'md5', hash: new Uint8Array(randomBytes(16)) }] }]);
    for (const signalId of signalIds) owners.push({ signalId, contentId: contentIds[0], bankId, provenance: p });
  }
  const victimCase = store.createCase({ caseNumber: 'C-1', pinHash: await pinHashPromise, signals: [{ type: 'pdq', hash: pdqHash() }] });
  const caseSignal = store.listSignals({ kind: 'case', caseId: victimCase.id })[0].id;
  const ownerOf = new Map(owners.map((o) => [o.signalId, o]));
  const expected = (ids: number[]) => ids.flatMap((id) => ownerOf.get(id) ?? []);
  const bySignal = (list: { signalId: number }[]) => [...list].sort((x, y) => x.signalId - y.signalId);

  t.same(store.contentSignalOwners([]), []);
  t.same(store.contentSignalOwners([owners[3].signalId]), [owners[3]], 'one id');
  t.same(store.contentSignalOwners([999999]), [], 'one unknown id');
  t.same(store.contentSignalOwners([caseSignal]), [], "one case signal: not content's");
  const two = [owners[7].signalId, owners[2].signalId];
  t.same(bySignal(store.contentSignalOwners(two)), bySignal(expected(two)), 'two ids');
  t.same(store.contentSignalOwners([owners[1].signalId, 999999]), [owners[1]], 'one known, one unknown');
  const many = [...owners.map((o) => o.signalId).reverse(), caseSignal, 999999, 424242];
  t.same(bySignal(store.contentSignalOwners(many)), bySignal(owners), 'many ids: every content signal, nothing else');

  store.deleteContent(owners[3].contentId);
  t.same(store.contentSignalOwners([owners[3].signalId]), [], 'a deleted signal has no owner');
  store.deleteBank(banks[1].id);
  t.same(
    bySignal(store.contentSignalOwners(many)),
    bySignal(owners.filter((o) => o.bankId === banks[0].id && o.contentId !== owners[3].contentId)),
    "a deleted bank's signals have none",
  );
});

t.test('content and signals: validation at the boundary, all or nothing', async (t) => {
  const { store } = openStore();
  const bank = store.createBank({ name: 'bank' });
  t.throws(() => store.addContent(bank.id, [{ provenance, signals: [{ type: 'pdq', hash: new Uint8Array(31) }] }]), { code: 'INVALID_HASH' });
  t.throws(() => store.addContent(bank.id, [{ provenance, signals: [{ type: 'md5', hash: new Uint8Array(32) }] }]), { code: 'INVALID_HASH' });
  t.throws(() => store.addContent(bank.id, [{ provenance, signals: [{ type: 'phash', hash: new Uint8Array(8) }] }]), { code: 'INVALID_INPUT' });
  t.throws(() => store.addContent(bank.id, [{ provenance, signals: [{ type: 'pdq', hash: pdqHash(), quality: 101 }] }]), { code: 'INVALID_INPUT' });
  t.throws(() => store.addContent(bank.id, [{ provenance: { ...provenance, capturedAt: 'yesterday' } }]), { code: 'INVALID_INPUT' });
  t.throws(() => store.addContent(bank.id, [{ provenance: { platform: '' } }]), { code: 'INVALID_INPUT' });
  t.throws(() => store.addContent(bank.id, [{ provenance, metadata: [] as unknown as Record<string, unknown> }]), { code: 'INVALID_INPUT' });
  t.throws(() => store.addContent(bank.id, [{ provenance, metadata: { views: 1n } }]), { code: 'INVALID_INPUT' });
  const nested = (levels: number): Record<string, unknown> => (levels === 1 ? {} : { a: nested(levels - 1) });
  t.throws(() => store.addContent(bank.id, [{ provenance, metadata: nested(33) }]), { code: 'INVALID_INPUT', message: /32 levels/ }, 'metadata 33 levels deep');
  t.throws(() => store.addContent(bank.id, [{ provenance, metadata: { a: JSON.parse('['.repeat(1100) + ']'.repeat(1100)) } }]), { code: 'INVALID_INPUT' }, 'deeper than SQLite reads');
  t.throws(() => store.addContent(424242, [{ provenance }]), { code: 'NOT_FOUND' });
  t.equal(store.db.prepare('SELECT count(*) FROM content_items').pluck().get(), 0, 'nothing written by failed calls');
  t.same(store.getContent(store.addContent(bank.id, [{ provenance, metadata: nested(32) }]).contentIds[0]).metadata, nested(32), '32 levels are kept');
  store.deleteContent(store.db.prepare('SELECT max(id) FROM content_items').pluck().get() as number);

  const hash = pdqHash();
  const md5 = new Uint8Array(randomBytes(16));
  const { contentIds, signalIds } = store.addContent(bank.id, [
    {
      provenance,
      metadata: { messageText: 'caption', views: 12 },
      note: 'reported to Telegram',
      signals: [
        { type: 'pdq', hash, quality: 87 },
        { type: 'md5', hash: md5 },
        { type: 'pdq-region', hash, quality: 90, region: 'patch' },
      ],
    },
  ]);
  t.equal(contentIds.length, 1);
  t.equal(signalIds.length, 3);
  const item = store.getContent(contentIds[0]);
  t.same(item.provenance, { ...provenance, capturedAt: '2026-01-31T12:00:00.000Z' });
  t.same(item.metadata, { messageText: 'caption', views: 12 });
  t.equal(item.note, 'reported to Telegram');
  t.same(
    store.listSignals({ kind: 'content', contentId: item.id }).map((s) => ({ ...s, hash: Buffer.from(s.hash).toString('hex') })),
    [
      { id: signalIds[0], type: 'pdq', hash: Buffer.from(hash).toString('hex'), quality: 87, region: null },
      { id: signalIds[1], type: 'md5', hash: Buffer.from(md5).toString('hex'), quality: null, region: null },
      { id: signalIds[2], type: 'pdq-region', hash: Buffer.from(hash).toString('hex'), quality: 90, region: 'patch' },
    ],
  );
  // Which region a hash is of decides where the index keeps it: only a region hash has one, and only a kind the service makes.
  t.throws(() => store.addSignals({ kind: 'content', contentId: item.id }, [{ type: 'pdq', hash, region: 'patch' }]), { code: 'INVALID_INPUT', message: /whole image/ });
  t.throws(() => store.addSignals({ kind: 'content', contentId: item.id }, [{ type: 'pdq-region', hash, region: 'eyes' as 'patch' }]), { code: 'INVALID_INPUT', message: /frame, part/ });
  t.equal(store.listSignals({ kind: 'content', contentId: item.id }).length, 3, 'a refused signal is not stored');
  const edited = store.updateContent(item.id, { note: null, metadata: { views: 13 } });
  t.equal(edited.note, null);
  t.same(edited.metadata, { views: 13 });
  t.same(edited.provenance, item.provenance);
  t.same(store.contentSignalOwners([signalIds[0], 999999]), [{ signalId: signalIds[0], contentId: item.id, bankId: bank.id, provenance: item.provenance }]);
  t.throws(() => store.addSignals({ kind: 'content', contentId: 999 }, [{ type: 'pdq', hash }]), { code: 'NOT_FOUND' });
});

t.test('deletes cascade to signals and are reported to listeners', async (t) => {
  const { store } = openStore();
  const changes: SignalChange[] = [];
  store.subscribe((change) => changes.push(change));
  const bankA = store.createBank({ name: 'a' });
  const bankB = store.createBank({ name: 'b' });
  const signals = (): NewSignal[] => [
    { type: 'pdq', hash: pdqHash() },
    { type: 'sha256', hash: new Uint8Array(randomBytes(32)) },
  ];
  const a = store.addContent(bankA.id, [
    { provenance, signals: signals() },
    { provenance, signals: signals() },
  ]);
  const b = store.addContent(bankB.id, [{ provenance, signals: signals() }]);
  const victim = store.createCase({ caseNumber: 'C-1', pinHash: await pinHashPromise, signals: signals() });
  t.equal(changes.length, 3);
  t.same(
    changes[0].batches.map((x) => [changes[0].op, x.type, x.owner, [...x.ids]]),
    [
      ['add', 'pdq', 'content', [a.signalIds[0], a.signalIds[2]]],
      ['add', 'sha256', 'content', [a.signalIds[1], a.signalIds[3]]],
    ],
  );
  t.equal(store.countSignals('pdq', 'case'), 1);
  t.equal(store.countSignals('pdq', 'content'), 3);

  changes.length = 0;
  store.deleteContent(b.contentIds[0]);
  t.throws(() => store.getContent(b.contentIds[0]), { code: 'NOT_FOUND' });
  t.same(store.listSignals({ kind: 'content', contentId: b.contentIds[0] }), []);
  t.same(changes.map((c) => [c.op, c.batches.map((x) => [...x.ids])]), [['remove', [[b.signalIds[0]], [b.signalIds[1]]]]]);

  changes.length = 0;
  store.deleteBank(bankA.id);
  t.throws(() => store.getContent(a.contentIds[1]), { code: 'NOT_FOUND' });
  t.equal(store.countSignals('pdq', 'content'), 0);
  t.equal(store.countSignals('sha256', 'content'), 0);
  t.same(
    changes[0].batches.flatMap((x) => [...x.ids]).sort((x, y) => x - y),
    a.signalIds,
  );
  const removedCodes = changes[0].batches.find((x) => x.type === 'pdq')!.codes;
  t.equal(removedCodes.length, 64, 'removed batches carry the codes the index needs');

  changes.length = 0;
  const caseSignals = store.listSignals({ kind: 'case', caseId: victim.id });
  t.equal(store.deleteSignals([caseSignals[0].id, 123456]), 1);
  t.equal(store.countSignals('pdq', 'case'), 0);
  store.deleteCase(victim.id);
  t.equal(store.findCaseByNumber('C-1'), undefined);
  t.equal(store.countSignals('sha256', 'case'), 0);
  t.same(changes.map((c) => [c.op, c.batches.map((x) => [x.owner, [...x.ids]])]), [
    ['remove', [['case', [caseSignals[0].id]]]],
    ['remove', [['case', [caseSignals[1].id]]]],
  ]);
  t.equal(store.db.prepare('SELECT count(*) FROM signals').pluck().get(), 0);
  t.throws(() => store.deleteBank(bankA.id), { code: 'NOT_FOUND' });
});

t.test('victim cases: unique numbers, PIN hashes, status', async (t) => {
  const { store } = openStore();
  const pinHash = await pinHashPromise;
  t.ok(await verifyPin('4821', pinHash));
  t.notOk(await verifyPin('4822', pinHash));
  t.notOk(pinHash.includes('4821'));
  t.throws(() => store.createCase({ caseNumber: 'C-2', pinHash: '4821' }), { code: 'INVALID_INPUT' }, 'a bare PIN is refused');
  const created = store.createCase({ caseNumber: 'C-2', pinHash });
  t.equal(created.status, 'open');
  t.throws(() => store.createCase({ caseNumber: 'C-2', pinHash }), { code: 'CONFLICT' });
  const closed = store.setCaseStatus(created.id, 'closed');
  t.equal(closed.status, 'closed');
  t.throws(() => store.setCaseStatus(created.id, 'lost' as 'closed'), { code: 'INVALID_INPUT' });
  t.same(store.findCaseByNumber('C-2'), closed);
});

t.test('bulk insert, then chunks stream back exactly what was inserted', async (t) => {
  const { store } = openStore();
  const bank = store.createBank({ name: 'bulk' });
  const count = 20_000;
  const codes = new Uint8Array(randomBytes(count * 32));
  const ids: number[] = [];
  for (let start = 0; start < count; start += 5000) {
    const items = [];
    for (let i = start; i < start + 5000; i += 50) {
      const signals: NewSignal[] = [];
      for (let j = i; j < i + 50; j++) signals.push({ type: 'pdq', hash: codes.subarray(j * 32, j * 32 + 32) });
      // Other types and owners interleaved must not leak into the pdq content stream.
      signals.push({ type: 'blockhash', hash: pdqHash() }, { type: 'pdq-region', hash: pdqHash() });
      items.push({ provenance, signals });
    }
    const added = store.addContent(bank.id, items);
    ids.push(...added.signalIds.filter((_, k) => k % 52 < 50));
  }
  store.createCase({
    caseNumber: 'bulk-case',
    pinHash: await pinHashPromise,
    signals: [
      { type: 'pdq', hash: pdqHash() },
      { type: 'pdq-region', hash: pdqHash() },
    ],
  });

  for (const chunkSize of [777, 4096, count]) {
    const gotIds: number[] = [];
    const gotCodes = new Uint8Array(count * 32);
    let chunks = 0;
    for (const chunk of store.iterateSignalChunks('pdq', { chunkSize })) {
      t.equal(chunk.codes.length, chunk.count * 32);
      gotCodes.set(chunk.codes, gotIds.length * 32);
      gotIds.push(...chunk.ids);
      chunks++;
    }
    t.equal(chunks, Math.ceil(count / chunkSize), `chunk size ${chunkSize}: chunk count`);
    t.same(gotIds, ids, `chunk size ${chunkSize}: ids in id order`);
    t.ok(Buffer.from(gotCodes).equals(Buffer.from(codes)), `chunk size ${chunkSize}: codes paired with their ids`);
  }
  const caseChunks = [...store.iterateSignalChunks('pdq', { owner: 'case' })];
  t.equal(caseChunks.length, 1);
  t.equal(caseChunks[0].count, 1);
  t.same([...store.iterateSignalChunks('md5')], [], 'no signals, no chunks');
  t.throws(() => [...store.iterateSignalChunks('pdq', { chunkSize: 0 })], { code: 'INVALID_INPUT' });

  // One pass over every kind: each signal once, in its own type and owner kind's batch, its hash byte for byte.
  const byKind = new Map<string, { ids: number[]; codes: Buffer[] }>();
  for (const batches of store.iterateAllSignalChunks({ chunkSize: 999 })) {
    for (const batch of batches) {
      const kind = byKind.get(`${batch.owner}:${batch.type}`) ?? { ids: [], codes: [] };
      byKind.set(`${batch.owner}:${batch.type}`, kind);
      t.equal(batch.codes.length, batch.count * 32);
      kind.ids.push(...batch.ids);
      kind.codes.push(Buffer.from(batch.codes));
    }
  }
  t.same([...byKind.keys()].sort(), ['case:pdq', 'case:pdq-region', 'content:blockhash', 'content:pdq', 'content:pdq-region']);
  t.same(byKind.get('content:pdq')!.ids, ids, 'content pdq ids in id order');
  t.ok(Buffer.concat(byKind.get('content:pdq')!.codes).equals(Buffer.from(codes)), 'codes paired with their ids, zero bytes and all');
  t.equal(byKind.get('content:blockhash')!.ids.length, count / 50);
  t.equal(byKind.get('content:pdq-region')!.ids.length, count / 50);
  t.same(byKind.get('case:pdq')!.ids, [caseChunks[0].ids[0]]);
  t.same(byKind.get('case:pdq-region')!.ids, [caseChunks[0].ids[0] + 1]);
  t.throws(() => [...store.iterateAllSignalChunks({ chunkSize: 0 })], { code: 'INVALID_INPUT' });
});

t.test('audit log: entries are written in one group per event-loop turn, and before any read', async (t) => {
  const { SqliteAuditLog } = await import('../src/store/audit-log.js');
  const { store } = openStore();
  const audit = new SqliteAuditLog(store.db);
  const rows = () => store.db.prepare('SELECT count(*) FROM audit_log').pluck().get();
  const entry = (status: number) => ({ at: new Date().toISOString(), actor: 'key:1', action: 'POST /v1/match', target: null, status, matchCount: 2 });
  audit.append(entry(200));
  audit.append(entry(404));
  t.equal(rows(), 0, 'queued, not yet written');
  t.same(audit.list({ limit: 10 }).map((e) => e.status), [404, 200], 'a read writes the queue first; newest first');
  audit.append(entry(201));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(rows(), 3, 'written on the next turn without a read');
  audit.append(entry(500));
  audit.flush();
  t.equal(rows(), 4);
  t.same(audit.list({ limit: 2, beforeId: 3 }).map((e) => e.id), [2, 1], 'pages before an id');

  // Groups of 64 go in one multi-row INSERT, the rest one by one: every entry once, in order, every field kept.
  const group = Array.from({ length: 64 * 2 + 5 }, (_, i) => ({
    at: `2026-11-29T00:00:${String(i % 60).padStart(2, '0')}.000Z`,
    actor: `anonymous:${i}`,
    action: i % 2 ? 'POST /v1/match' : 'DELETE /v1/cases/:caseNumber',
    target: i % 3 ? null : `caseNumber=C-${i}`,
    status: 200 + (i % 7),
    matchCount: i % 4 ? i : null,
  }));
  for (const e of group) audit.append(e);
  t.same(
    audit.list({ limit: 1000 }).slice(0, group.length).reverse().map(({ at, actor, action, target, status, matchCount }) => ({ at, actor, action, target, status, matchCount })),
    group,
  );
  t.equal(rows(), 4 + group.length);
});

t.test('API keys: shown once, stored hashed, last use recorded at most once a minute', async (t) => {
  const { SqliteApiKeyStore, hashSecret } = await import('../src/store/api-keys.js');
  const { store } = openStore();
  const keys = new SqliteApiKeyStore(store.db);
  const { key, secret } = keys.create({ name: 'helpline', role: 'ngo' });
  t.match(secret, /^nm_[A-Za-z0-9_-]{43}$/);
  t.equal(store.db.prepare('SELECT count(*) FROM api_keys WHERE key_hash = ?').pluck().get(hashSecret(secret)), 1);
  t.notOk(JSON.stringify(store.db.prepare('SELECT * FROM api_keys').all()).includes(secret), 'the secret itself is not stored');
  t.equal(keys.findBySecret(secret)?.id, key.id);
  t.equal(keys.findBySecret(`${secret}x`), undefined);
  keys.touch(key.id, '2026-11-28T10:00:00.000Z');
  keys.touch(key.id, '2026-11-28T10:00:30.000Z');
  t.equal(keys.list()[0].lastUsedAt, '2026-11-28T10:00:00.000Z', 'a second use within the minute is not written');
  keys.touch(key.id, '2026-11-28T10:01:05.000Z');
  t.equal(keys.list()[0].lastUsedAt, '2026-11-28T10:01:05.000Z');
  t.throws(() => keys.create({ name: 'x', role: 'root' as never }), { code: 'INVALID_INPUT' });
  t.ok(keys.revoke(key.id).revokedAt);
});

t.test('a store write inside another transaction is refused: the indexes would hear of it before the commit', async (t) => {
  const { store } = openStore();
  const bank = store.createBank({ name: 'nested' });
  const heard: SignalChange[] = [];
  store.subscribe((change) => heard.push(change));
  t.throws(
    () => store.db.transaction(() => store.addContent(bank.id, [{ provenance, signals: [{ type: 'pdq', hash: pdqHash() }] }]))(),
    /cannot run inside another transaction/,
  );
  t.same(heard, [], 'no listener heard of it');
  t.equal(store.db.prepare('SELECT count(*) FROM signals').pluck().get(), 0, 'and nothing was written');
  store.addContent(bank.id, [{ provenance, signals: [{ type: 'pdq', hash: pdqHash() }] }]);
  t.equal(heard.length, 1, 'a write of its own goes through');
});
