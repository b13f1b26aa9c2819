/**
 * Which process serves the database under DATA_DIR with its indexes in
 * memory: a file naming its host and process id, written when it loads its
 * indexes and removed when it closes. A write from the command line that the
 * indexes must learn (an import) is refused while that process lives: it
 * would be stored, but not matched until the service restarted.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../scans/lock.js';

export const SERVING_FILE = 'serving.pid';

const ours = () => `${hostname()}/${process.pid}`;

/** Claims DATA_DIR for this process; the returned function gives it up (if it is still ours). */
export function claimServing(dataDir: string): () => void {
  const file = join(dataDir, SERVING_FILE);
  writeFileSync(file, `${ours()}\n`, { mode: 0o600 });
  return () => {
    try {
      if (readFileSync(file, 'utf8').trim() === ours()) rmSync(file, { force: true });
    } catch {
      // Gone already (the data directory was removed): nothing to give up.
    }
  };
}

/** The other live process serving DATA_DIR ("host/pid"), or null. A process on another host cannot be checked and counts as live. */
export function servingProcess(dataDir: string): string | null {
  let holder: string;
  try {
    holder = readFileSync(join(dataDir, SERVING_FILE), 'utf8').trim();
  } catch {
    return null;
  }
  const [host, pid] = holder.split('/');
  if (holder === ours() || !/^\d+$/.test(pid ?? '')) return null;
  return host !== hostname() || processAlive(Number(pid)) ? holder : null;
}
