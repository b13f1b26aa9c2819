/**
 * The matches scans found, their takedown status and its history
 * (migration 008): read with filters a page at a time, moved along with who
 * and when, summed up per case (what a victim is shown) and per run (a
 * takedown team's report).
 */
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';

export const MATCH_STATUSES = ['new', 'reported', 'removed', 'dismissed'] as const;
export type MatchStatus = (typeof MATCH_STATUSES)[number];

export interface ScanMatch {
  id: number;
  scanId: number;
  runId: number;
  caseId: number;
  caseNumber: string;
  contentId: number;
  bankId: number;
  platform: string;
  group: string | null;
  messageRef: string | null;
  capturedAt: string | null;
  signalType: string;
  distance: number;
  via: 'whole' | 'region';
  status: MatchStatus;
  reportedWhere: string | null;
  reference: string | null;
  dismissReason: string | null;
  foundAt: string;
  updatedAt: string;
}

export interface MatchEvent {
  id: number;
  actor: string;
  from: MatchStatus | null;
  to: MatchStatus;
  details: Record<string, unknown>;
  at: string;
}

export interface MatchFilter {
  status?: MatchStatus;
  bankId?: number;
  caseId?: number;
  group?: string;
  scanId?: number;
  runId?: number;
  /** found_at >= since (ISO-8601). */
  since?: string;
  /** found_at < until. */
  until?: string;
}

export interface StatusChange {
  to: MatchStatus;
  reportedWhere?: string | null;
  reference?: string | null;
  dismissReason?: string | null;
  actor: string;
}

/** What a victim is shown of one case: where, when and how much is gone; never links or content. */
export interface CaseFindings {
  items: number;
  removed: number;
  platforms: { platform: string; matches: number }[];
  groups: { platform: string; group: string; matches: number }[];
  firstSeen: string | null;
  lastSeen: string | null;
}

const MATCH_COLUMNS = `m.id, m.scan_id AS scanId, m.run_id AS runId, m.case_id AS caseId, v.case_number AS caseNumber, m.content_id AS contentId,
  c.bank_id AS bankId, c.platform, c.channel AS "group", c.message_ref AS messageRef, c.captured_at AS capturedAt, m.signal_type AS signalType,
  m.distance, m.via, m.status, m.reported_where AS reportedWhere, m.reference, m.dismiss_reason AS dismissReason, m.found_at AS foundAt, m.updated_at AS updatedAt`;
const MATCH_FROM = 'scan_matches m JOIN content_items c ON c.id = m.content_id JOIN victim_cases v ON v.id = m.case_id';

const FILTERS: [keyof MatchFilter, string][] = [
  ['status', 'm.status = @status'],
  ['bankId', 'c.bank_id = @bankId'],
  ['caseId', 'm.case_id = @caseId'],
  ['group', 'c.channel = @group'],
  ['scanId', 'm.scan_id = @scanId'],
  ['runId', 'm.run_id = @runId'],
  ['since', 'm.found_at >= @since'],
  ['until', 'm.found_at < @until'],
];

/** When a victim's copy was seen: when captured, else when it was recorded. */
const SEEN = 'coalesce(c.captured_at, c.created_at)';

export class SqliteMatchStore {
  constructor(readonly db: Database.Database) {}

  /** Newest first, `limit` at a time below `before` (keyset pages: stable while matches are added). */
  list(filter: MatchFilter, page: { limit: number; before?: number }): ScanMatch[] {
    const where = FILTERS.filter(([key]) => filter[key] !== undefined).map(([, sql]) => sql);
    if (page.before !== undefined) where.push('m.id < @before');
    const sql = `SELECT ${MATCH_COLUMNS} FROM ${MATCH_FROM} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY m.id DESC LIMIT @limit`;
    const params = Object.fromEntries(Object.entries({ ...filter, before: page.before, limit: page.limit }).filter(([, v]) => v !== undefined));
    return this.db.prepare<Record<string, unknown>, ScanMatch>(sql).all(params);
  }

  get(id: number): ScanMatch {
    const match = this.db.prepare<[number], ScanMatch>(`SELECT ${MATCH_COLUMNS} FROM ${MATCH_FROM} WHERE m.id = ?`).get(id);
    if (!match) throw new StoreError('NOT_FOUND', `No match has id ${id}.`);
    return match;
  }

  events(matchId: number): MatchEvent[] {
    return this.db
      .prepare<[number], { id: number; actor: string; from: MatchStatus | null; to: MatchStatus; details: string; at: string }>(
        'SELECT id, actor, from_status AS "from", to_status AS "to", details, at FROM match_events WHERE match_id = ? ORDER BY id',
      )
      .all(matchId)
      .map((e) => ({ ...e, details: JSON.parse(e.details) as Record<string, unknown> }));
  }

  /** Moves a match to a new status, recording who and when; `expected` guards against a change made meanwhile. */
  setStatus(id: number, expected: MatchStatus, change: StatusChange): ScanMatch {
    return this.db
      .transaction(() => {
        const at = new Date().toISOString();
        const { changes } = this.db
          .prepare(
            `UPDATE scan_matches SET status = ?, reported_where = coalesce(?, reported_where), reference = coalesce(?, reference),
               dismiss_reason = ?, updated_at = ? WHERE id = ? AND status = ?`,
          )
          .run(change.to, change.reportedWhere ?? null, change.reference ?? null, change.to === 'dismissed' ? (change.dismissReason ?? null) : null, at, id, expected);
        if (changes === 0) throw new StoreError('CONFLICT', `Match ${id} changed meanwhile; read it again.`);
        const details = Object.fromEntries(
          Object.entries({ where: change.reportedWhere, reference: change.reference, reason: change.dismissReason }).filter(([, v]) => v !== undefined && v !== null),
        );
        this.db.prepare('INSERT INTO match_events (match_id, actor, from_status, to_status, details, at) VALUES (?, ?, ?, ?, ?, ?)').run(id, change.actor, expected, change.to, JSON.stringify(details), at);
        return this.get(id);
      })
      .immediate();
  }

  /** What every scan found of one case, each captured item once; dismissed (false) matches left out. */
  caseFindings(caseId: number): CaseFindings {
    const items = this.db
      .prepare<[number], { platform: string; channel: string | null; seen: string; removed: number }>(
        `SELECT c.platform, c.channel, ${SEEN} AS seen, max(m.status = 'removed') AS removed
         FROM scan_matches m JOIN content_items c ON c.id = m.content_id
         WHERE m.case_id = ? AND m.status <> 'dismissed' GROUP BY m.content_id`,
      )
      .all(caseId);
    const platforms = new Map<string, number>();
    const groups = new Map<string, { platform: string; group: string; matches: number }>();
    for (const { platform, channel } of items) {
      platforms.set(platform, (platforms.get(platform) ?? 0) + 1);
      if (channel === null) continue;
      const key = JSON.stringify([platform, channel]);
      const group = groups.get(key) ?? { platform, group: channel, matches: 0 };
      group.matches++;
      groups.set(key, group);
    }
    const seen = items.map((i) => i.seen).sort();
    return {
      items: items.length,
      removed: items.filter((i) => i.removed === 1).length,
      platforms: [...platforms].map(([platform, matches]) => ({ platform, matches })).sort((a, b) => b.matches - a.matches),
      groups: [...groups.values()].sort((a, b) => b.matches - a.matches),
      firstSeen: seen[0] ?? null,
      lastSeen: seen.at(-1) ?? null,
    };
  }

  /** Every match a run recorded, ordered by platform, group and id (a report's rows). */
  ofRun(runId: number): ScanMatch[] {
    return this.db.prepare<[number], ScanMatch>(`SELECT ${MATCH_COLUMNS} FROM ${MATCH_FROM} WHERE m.run_id = ? ORDER BY c.platform, c.channel, m.id`).all(runId);
  }
}
