/**
 * Child process of test/store-crash.test.ts: bulk-inserts batches into the
 * store at argv[2] forever, one transaction per batch, and prints
 * `<batch> <first signal id> <last signal id>` after each commit returns. The
 * parent kills it with SIGKILL; a printed batch is an acknowledged write.
 */
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { crashBatch } from './crash-batches.js';

const store = new SqliteStore(process.argv[2]);
const bank = store.createBank({ name: 'crash' });
for (let batch = 0; ; batch++) {
  const { signalIds } = store.addContent(bank.id, crashBatch(batch));
  // stdout on a pipe is synchronous on Linux: the line is out before the next batch starts.
  process.stdout.write(`${batch} ${signalIds[0]} ${signalIds[signalIds.length - 1]}\n`);
}
