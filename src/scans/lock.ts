/**
 * Who holds a scan's lock: this process, named by host, process id and a
 * random part. A lock is taken over when its holder has not renewed it for
 * `staleMs`, or at once when the holder was a process on this host that is
 * gone (a killed server restarted resumes its run without waiting).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ScanLock } from '../store/scans.js';

export function newHolder(): string {
  return `${hostname()}/${process.pid}/${randomBytes(6).toString('hex')}`;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, owned by someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockIsStale(lock: ScanLock, staleMs: number, now = Date.now()): boolean {
  if (now - Date.parse(lock.heartbeatAt) > staleMs) return true;
  const [host, pid] = lock.holder.split('/');
  return host === hostname() && Number(pid) !== process.pid && !processAlive(Number(pid));
}
