/**
 * Measures bulk signal insert, chunked reading, and store-to-ready-index load
 * (SignalIndexes.load, multi-index hashing) on a real file.
 * Usage: node --import tsx test/tools/measure-store.ts [signals=1000000] [batch=10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { SignalIndexes } from '../../src/match/signal-indexes.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { NewSignal } from '../../src/store/store.js';

const total = Number(process.argv[2] ?? 1_000_000);
const batchSize = Number(process.argv[3] ?? 10_000);
const signalsPerItem = 100;
const dir = mkdtempSync(join(tmpdir(), 'ncii-store-measure-'));
const store = new SqliteStore(join(dir, 'store.db'));
try {
  const bank = store.createBank({ name: 'measure' });
  const codes = randomFillSync(new Uint8Array(total * 32));
  const started = performance.now();
  for (let start = 0; start < total; start += batchSize) {
    const end = Math.min(total, start + batchSize);
    const items = [];
    for (let item = start; item < end; item += signalsPerItem) {
      const signals: NewSignal[] = [];
      for (let i = item; i < Math.min(end, item + signalsPerItem); i++) signals.push({ type: 'pdq', hash: codes.subarray(i * 32, i * 32 + 32), quality: 90 });
      items.push({ provenance: { platform: 'telegram', channel: 'measure' }, signals });
    }
    store.addContent(bank.id, items);
  }
  const insertSeconds = (performance.now() - started) / 1000;
  const loadStarted = performance.now();
  let loaded = 0;
  for (const chunk of store.iterateSignalChunks('pdq')) loaded += chunk.count;
  const loadSeconds = (performance.now() - loadStarted) / 1000;
  const indexStarted = performance.now();
  const indexes = SignalIndexes.load(store);
  const indexLoadSeconds = (performance.now() - indexStarted) / 1000;
  const indexed = indexes.size('content', 'pdq');
  indexes.close();
  console.log(
    JSON.stringify({
      signals: total,
      batch: batchSize,
      signalsPerItem,
      insertSeconds: +insertSeconds.toFixed(2),
      insertSignalsPerSecond: Math.round(total / insertSeconds),
      loaded,
      chunkLoadSeconds: +loadSeconds.toFixed(2),
      indexed,
      storeToIndexSeconds: +indexLoadSeconds.toFixed(2),
    }),
  );
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
