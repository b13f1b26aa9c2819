/**
 * Scan schedules: cron expressions read by croner, always in an explicit IANA
 * time zone (a schedule that silently followed the server's zone would move
 * when the server does).
 */
import { Cron } from 'croner';

export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

/** Throws ScheduleError, in words a person understands, unless `timeZone` is an IANA zone name. */
export function checkTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
  } catch {
    throw new ScheduleError(`timeZone ${JSON.stringify(timeZone)} is not an IANA time zone (e.g. "UTC", "Europe/Berlin").`);
  }
}

/** A paused croner job for the expression, checked; its `nextRun` gives the slots. */
export function cronOf(cron: string, timeZone: string): Cron {
  checkTimeZone(timeZone);
  try {
    return new Cron(cron, { timezone: timeZone, paused: true });
  } catch (err) {
    throw new ScheduleError(`cron ${JSON.stringify(cron)} is not a cron expression: ${(err as Error).message}`);
  }
}

/** The schedule's first slot after `after` (ISO-8601 UTC), or null if it has none left. */
export function nextSlot(cron: string, timeZone: string, after: Date = new Date()): string | null {
  return cronOf(cron, timeZone).nextRun(after)?.toISOString() ?? null;
}
