import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { SignalIndexes } from '../src/match/signal-indexes.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { crashBatch, ITEMS_PER_BATCH, SIGNALS_PER_BATCH } from './helpers/crash-batches.js';
import { TS_NODE_ARGS } from './helpers/node-args.js';

const ACKS_BEFORE_KILL = 10;
const writer = fileURLToPath(new URL('./helpers/crash-writer.ts', import.meta.url));

interface Ack {
  batch: number;
  firstId: number;
  lastId: number;
}

/** Runs the writer until it has acknowledged ACKS_BEFORE_KILL batches, then SIGKILLs it. */
function runAndKill(dbPath: string): Promise<{ acks: Ack[]; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TS_NODE_ARGS, writer, dbPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: Ack[] = [];
    let pending = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stderr.on('data', (data: Buffer) => (stderr += data));
    child.stdout.on('data', (data: Buffer) => {
      const lines = (pending + data).split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const [batch, firstId, lastId] = line.split(' ').map(Number);
        acks.push({ batch, firstId, lastId });
      }
      if (acks.length >= ACKS_BEFORE_KILL) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      resolve({ acks, signal, stderr });
    });
  });
}

t.test('SIGKILL during bulk insert: acknowledged batches survive whole, the index equals the store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-crash-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dbPath = join(dir, 'store.db');
  const { acks, signal, stderr } = await runAndKill(dbPath);
  t.equal(signal, 'SIGKILL', `writer killed, not exited (stderr: ${stderr.slice(0, 500)})`);
  t.ok(acks.length >= ACKS_BEFORE_KILL, `${acks.length} batches acknowledged before the kill`);

  const store = new SqliteStore(dbPath);
  t.teardown(() => store.close());
  t.equal(store.db.pragma('integrity_check', { simple: true }), 'ok');

  // Every batch in the store is whole, and they are the batches 0..n-1 with n >= acknowledged.
  const perBatch = store.db
    .prepare(
      `SELECT json_extract(c.metadata, '$.batch') AS batch, count(DISTINCT c.id) AS items, count(s.id) AS signals
       FROM content_items c LEFT JOIN signals s ON s.content_item_id = c.id GROUP BY batch ORDER BY batch`,
    )
    .all() as { batch: number; items: number; signals: number }[];
  t.ok(perBatch.length >= acks.length, `${perBatch.length} batches committed, ${acks.length} acknowledged`);
  t.ok(
    perBatch.every((b, i) => b.batch === i && b.items === ITEMS_PER_BATCH && b.signals === SIGNALS_PER_BATCH),
    'no partial batch',
  );

  // Every acknowledged write is there, byte for byte, under the ids it was acknowledged with.
  const signalById = store.db.prepare('SELECT id, type, hash FROM signals WHERE id BETWEEN ? AND ? ORDER BY id');
  const acknowledgedIntact = acks.every(({ batch, firstId, lastId }) => {
    const rows = signalById.all(firstId, lastId) as { id: number; type: string; hash: Buffer }[];
    const expected = crashBatch(batch).flatMap((item) => item.signals!);
    return (
      lastId - firstId + 1 === SIGNALS_PER_BATCH &&
      rows.length === SIGNALS_PER_BATCH &&
      rows.every((row, i) => row.type === expected[i].type && row.hash.equals(expected[i].hash))
    );
  });
  t.ok(acknowledgedIntact, 'every acknowledged signal is stored as written');

  // The index built from the store holds exactly the store's signals.
  const indexes = SignalIndexes.load(store);
  t.teardown(() => indexes.close());
  for (const type of ['pdq', 'md5']) {
    const stored = store.countSignals(type, 'content');
    t.equal(indexes.size('content', type), stored, `${type}: index size equals store count (${stored})`);
    let missing = 0;
    for (const chunk of store.iterateSignalChunks(type)) {
      const bytes = chunk.codes.length / chunk.count;
      for (let i = 0; i < chunk.count; i++) {
        const hits = indexes.search('content', type, chunk.codes.subarray(i * bytes, (i + 1) * bytes), 0);
        if (!hits.some((h) => h.signalId === chunk.ids[i] && h.distance === 0)) missing++;
      }
    }
    t.equal(missing, 0, `${type}: every stored signal is found at distance 0`);
  }
});
