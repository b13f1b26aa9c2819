/**
 * The takedown workflow over what scans found: matches listed with filters a
 * page at a time, moved new -> reported (where, reference) -> removed, or
 * dismissed (a false match, with the reason), each change recorded with who
 * and when; and a run's report, grouped by group or channel so a team files
 * one takedown request per group, as JSON or as CSV a spreadsheet opens
 * cleanly.
 */
import { stringify } from 'csv-stringify/sync';
import { type MatchEvent, type MatchFilter, type MatchStatus, type ScanMatch } from '../store/scan-matches.js';
import { normalizeCaseNumber } from './case-credentials.js';
import type { ServiceContext } from './context.js';
import { ServiceError } from './errors.js';

/** Which status may follow which: dismissed can be reopened (a dismissal made in error). */
const NEXT: Record<MatchStatus, readonly MatchStatus[]> = {
  new: ['reported', 'removed', 'dismissed'],
  reported: ['removed', 'dismissed'],
  removed: [],
  dismissed: ['new'],
};

/** A match as the API shows it: the case by its number, the message as a link. */
export type MatchView = Omit<ScanMatch, 'caseId' | 'messageRef'> & { messageUrl: string | null };

export interface MatchQuery {
  status?: MatchStatus;
  bank?: number;
  case?: string;
  group?: string;
  scan?: number;
  run?: number;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

export interface StatusInput {
  status: MatchStatus;
  where?: string;
  reference?: string;
  reason?: string;
}

export interface GroupReport {
  platform: string;
  group: string | null;
  matches: number;
  byStatus: Record<MatchStatus, number>;
  items: { matchId: number; contentId: number; messageUrl: string | null; capturedAt: string | null; status: MatchStatus; reference: string | null }[];
}

export interface RunReport {
  runId: number;
  scanId: number;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  matches: number;
  byStatus: Record<MatchStatus, number>;
  groups: GroupReport[];
}

export function matchView(m: ScanMatch): MatchView {
  const { caseId: _caseId, messageRef, ...shown } = m;
  return { ...shown, messageUrl: messageRef };
}

const zeroStatuses = (): Record<MatchStatus, number> => ({ new: 0, reported: 0, removed: 0, dismissed: 0 });

/** A spreadsheet reads a cell starting with one of these as a formula (CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;

/** A cell a spreadsheet shows as text: one that could start a formula gets a leading apostrophe. */
export function neutralizeCell(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return FORMULA_START.test(text) ? `'${text}` : text;
}

const CSV_COLUMNS = [
  'platform', 'group', 'group_matches', 'group_new', 'group_reported', 'group_removed', 'group_dismissed',
  'match_id', 'content_id', 'message', 'captured_at', 'status', 'reported_where', 'reference', 'found_at',
] as const;

const DEFAULT_PAGE = 100;

function timeFilter(value: string | undefined, what: string): string | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ServiceError('INVALID_REQUEST', `${what} must be a date and time (ISO-8601), got ${JSON.stringify(value)}.`);
  return new Date(ms).toISOString();
}

function cursorOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const id = /^m(\d{1,15})$/.exec(text);
  if (!id) throw new ServiceError('INVALID_REQUEST', 'cursor is not one this service gave out; pass nextCursor of the previous page.');
  return Number(id[1]);
}

export class MatchService {
  constructor(private readonly services: ServiceContext) {}

  /** Newest first; `nextCursor` fetches the page after (null on the last). */
  list(query: MatchQuery): { matches: MatchView[]; nextCursor: string | null } {
    const limit = query.limit ?? DEFAULT_PAGE;
    const filter: MatchFilter = {
      status: query.status,
      bankId: query.bank,
      caseId: query.case === undefined ? undefined : this.caseId(query.case),
      group: query.group,
      scanId: query.scan,
      runId: query.run,
      since: timeFilter(query.since, 'since'),
      until: timeFilter(query.until, 'until'),
    };
    if (filter.caseId === -1) return { matches: [], nextCursor: null };
    const page = this.services.matchStore.list(filter, { limit: limit + 1, before: cursorOf(query.cursor) });
    const more = page.length > limit;
    const matches = page.slice(0, limit).map(matchView);
    return { matches, nextCursor: more ? `m${matches.at(-1)!.id}` : null };
  }

  get(id: number): MatchView & { events: MatchEvent[] } {
    return { ...matchView(this.services.matchStore.get(id)), events: this.services.matchStore.events(id) };
  }

  /** Moves the match's takedown status, as `actor`; refuses a move the workflow does not have. */
  setStatus(id: number, input: StatusInput, actor: string): MatchView {
    const current = this.services.matchStore.get(id);
    if (!NEXT[current.status].includes(input.status)) {
      const allowed = NEXT[current.status];
      throw new ServiceError('CONFLICT', `A ${current.status} match cannot become ${input.status}${allowed.length ? `; it can become ${allowed.join(' or ')}` : ''}.`);
    }
    if (input.status === 'reported' && !input.where) throw new ServiceError('INVALID_REQUEST', 'A reported match needs "where" (to whom or where it was reported).');
    if (input.status === 'dismissed' && !input.reason) throw new ServiceError('INVALID_REQUEST', 'A dismissed match needs a "reason".');
    const updated = this.services.matchStore.setStatus(id, current.status, {
      to: input.status,
      reportedWhere: input.where,
      reference: input.reference,
      dismissReason: input.reason,
      actor,
    });
    this.services.events.emit('match.status', { matchId: id, runId: current.runId, scanId: current.scanId, from: current.status, to: input.status, actor });
    return matchView(updated);
  }

  /** A run's matches by group, with counts by status. */
  report(runId: number): RunReport {
    const run = this.services.scanStore.getRun(runId);
    const groups = new Map<string, GroupReport>();
    const byStatus = zeroStatuses();
    const rows = this.services.matchStore.ofRun(runId);
    for (const m of rows) {
      const key = JSON.stringify([m.platform, m.group]);
      const group = groups.get(key) ?? { platform: m.platform, group: m.group, matches: 0, byStatus: zeroStatuses(), items: [] };
      group.matches++;
      group.byStatus[m.status]++;
      byStatus[m.status]++;
      group.items.push({ matchId: m.id, contentId: m.contentId, messageUrl: m.messageRef, capturedAt: m.capturedAt, status: m.status, reference: m.reference });
      groups.set(key, group);
    }
    const sorted = [...groups.values()].sort((a, b) => b.matches - a.matches || a.platform.localeCompare(b.platform) || (a.group ?? '').localeCompare(b.group ?? ''));
    return { runId, scanId: run.scanId, status: run.status, startedAt: run.startedAt, finishedAt: run.finishedAt, matches: rows.length, byStatus, groups: sorted };
  }

  /** The report as CSV: UTF-8 with a BOM, a header row, RFC 4180 quoting, one row per match grouped by group, formulas neutralised. */
  reportCsv(runId: number): string {
    const { groups } = this.report(runId);
    const rows = groups.flatMap((g) =>
      g.items.map((item) => {
        const found = this.services.matchStore.get(item.matchId);
        return [g.platform, g.group, g.matches, g.byStatus.new, g.byStatus.reported, g.byStatus.removed, g.byStatus.dismissed,
          item.matchId, item.contentId, item.messageUrl, item.capturedAt, item.status, found.reportedWhere, item.reference, found.foundAt];
      }),
    );
    return stringify(rows, { bom: true, header: true, columns: [...CSV_COLUMNS], record_delimiter: 'windows', quoted_match: /[",\r\n]/, cast: { string: neutralizeCell, number: String } });
  }

  /** A case number as typed, as the case's id; -1 when no case has it (an empty answer, as for any filter). */
  private caseId(typed: string): number {
    const number = normalizeCaseNumber(typed);
    return (number === null ? undefined : this.services.store.findCaseByNumber(number))?.id ?? -1;
  }
}
