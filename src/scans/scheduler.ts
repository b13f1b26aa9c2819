/**
 * Starts scans when their schedule says: one croner job per enabled scan, in
 * the scan's own time zone. Each scan's next slot is kept in the store, so a
 * slot that passed while the service was down is run once when it starts
 * again, not once per missed slot.
 */
import { Cron } from 'croner';
import type { ScanRecord, SqliteScanStore } from '../store/scans.js';
import { nextSlot } from './schedule.js';

export type DueHandler = (scanId: number, trigger: 'schedule' | 'catch-up') => void;

export class ScanScheduler {
  private readonly jobs = new Map<number, Cron>();
  private started = false;

  constructor(
    private readonly scans: SqliteScanStore,
    private readonly onDue: DueHandler,
  ) {}

  /** Schedules every enabled scan, first starting once each whose slot passed while nothing was scheduling it. */
  start(now = new Date()): void {
    this.started = true;
    for (const scan of this.scans.listScans()) {
      if (scan.enabled && scan.nextRunAt !== null && Date.parse(scan.nextRunAt) <= now.getTime()) {
        this.scans.setNextRunAt(scan.id, nextSlot(scan.cron, scan.timeZone, now));
        this.onDue(scan.id, 'catch-up');
      }
      this.schedule(scan);
    }
  }

  /** Follows a scan created or changed (or, with null, deleted). */
  update(scanId: number, scan: ScanRecord | null): void {
    this.jobs.get(scanId)?.stop();
    this.jobs.delete(scanId);
    if (scan && this.started) this.schedule(scan);
  }

  private schedule(scan: ScanRecord): void {
    if (!scan.enabled) return;
    const job = new Cron(scan.cron, { timezone: scan.timeZone, unref: true, catch: true }, () => {
      this.scans.setNextRunAt(scan.id, nextSlot(scan.cron, scan.timeZone, new Date()));
      this.onDue(scan.id, 'schedule');
    });
    this.jobs.set(scan.id, job);
  }

  stop(): void {
    this.started = false;
    for (const job of this.jobs.values()) job.stop();
    this.jobs.clear();
  }
}
