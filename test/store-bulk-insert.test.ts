/**
 * An import's items are written by multi-row statements with ids given ahead
 * (src/store/bulk-insert.ts): the ids must still be the store's own (never
 * reused, in order), every other write and read in the transaction must see
 * the queued rows, listeners must hear of exactly what was committed, and a
 * rolled-back import must leave nothing queued for the next one.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { SqliteStore } from '../src/store/sqlite-store.js';
import type { SignalChange } from '../src/store/store.js';

const root = mkdtempSync(join(tmpdir(), 'ncii-store-bulk-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

const pdq = () => new Uint8Array(randomBytes(32));
const item = (platform = 'threatexchange') => ({ provenance: { platform, channel: null, messageRef: null, capturedAt: null }, signals: [{ type: 'pdq', hash: pdq() }] });

t.test('ids count on from the sequence, past deleted ones, across statements and other inserts', async (t) => {
  const store = new SqliteStore(join(root, 'ids.db'));
  t.teardown(() => store.close());
  const bank = store.createBank({ name: 'b' });
  const gone = store.addContent(bank.id, [item()]);
  store.deleteContent(gone.contentIds[0]);
  const heard: SignalChange[] = [];
  store.subscribe((change) => void heard.push(change));

  const hashes: Uint8Array[] = [];
  const ids = store.importTransaction((writer) => {
    const out: number[] = [];
    for (let i = 0; i < 600; i++) {
      const next = item();
      hashes.push(next.signals[0].hash);
      out.push(...writer.addItems(bank.id, [next]));
      // A Telegram item goes in by a single-row statement between queued ones.
      if (i === 300) out.push(...writer.addItems(bank.id, [{ ...item('telegram'), metadata: { telegram: { chatId: 1, messageId: 1 } } }]));
    }
    return out;
  });
  t.equal(ids.length, 601);
  t.ok(ids[0] > gone.contentIds[0], 'the deleted id is not given again');
  t.same(ids, [...ids].sort((a, b) => a - b), 'ids rise in order');
  t.equal(new Set(ids).size, ids.length, 'no id twice');
  t.equal(store.listContent(bank.id, { limit: 1000 }).length, 601, 'every item is stored');
  t.same(store.listSignals({ kind: 'content', contentId: ids[599] })[0].hash, hashes[598], "an item's hash is its own");
  const added = heard.filter((c) => c.op === 'add').flatMap((c) => c.batches);
  t.equal(added.reduce((n, b) => n + b.count, 0), 601, 'listeners hear of every signal once');
  const signalIds = added.flatMap((b) => [...b.ids]);
  t.same(store.contentSignalOwners(signalIds).length, 601, 'the ids they hear are the stored ones');

  // The newest item goes: its id must stay used, so the sequence has to have moved on past the given ids.
  store.deleteContent(ids[ids.length - 1]);
  const later = store.addContent(bank.id, [item()]);
  t.ok(later.contentIds[0] > ids[ids.length - 1], 'a deleted given id is not given again');
  t.ok(later.signalIds[0] > Math.max(...signalIds), 'nor its signal id');
});

t.test('reads, updates and deletes in the transaction see the queued items', async (t) => {
  const store = new SqliteStore(join(root, 'reads.db'));
  t.teardown(() => store.close());
  const bank = store.createBank({ name: 'b' });
  const kept = store.importTransaction((writer) => {
    const [a] = writer.addItems(bank.id, [item()]);
    t.equal(writer.getContent(a).id, a, 'a queued item can be read');
    t.equal(writer.listSignals({ kind: 'content', contentId: a }).length, 1, 'and its signals');
    writer.updateMetadata(a, { note: 'updated' });
    const [b] = writer.addItems(bank.id, [item()]);
    const [signal] = writer.listSignals({ kind: 'content', contentId: b });
    writer.deleteSignals([signal.id]);
    const [c] = writer.addItems(bank.id, [item()]);
    writer.deleteItems([c]);
    return { a, b, c };
  });
  t.same(store.getContent(kept.a).metadata, { note: 'updated' });
  t.same(store.listSignals({ kind: 'content', contentId: kept.b }), []);
  t.throws(() => store.getContent(kept.c), { code: 'NOT_FOUND' });
});

t.test('a rolled-back import leaves nothing queued', async (t) => {
  const store = new SqliteStore(join(root, 'rollback.db'));
  t.teardown(() => store.close());
  const bank = store.createBank({ name: 'b' });
  t.throws(() =>
    store.importTransaction((writer) => {
      writer.addItems(bank.id, [item(), item()]);
      throw new Error('refused');
    }),
  );
  t.equal(store.listContent(bank.id, { limit: 10 }).length, 0, 'nothing was written');
  const [id] = store.importTransaction((writer) => writer.addItems(bank.id, [item()]));
  t.equal(store.listContent(bank.id, { limit: 10 }).length, 1, 'the next import writes only its own item');
  t.equal(store.listContent(bank.id, { limit: 10 })[0].id, id);
});
