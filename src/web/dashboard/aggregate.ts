/**
 * The counts behind the dashboard's chart: matches found per day, by their
 * status now and by group (the most frequent groups, the rest summed as
 * "other groups"). Pure, so it is tested without a browser.
 */
export const STATUSES = ['new', 'reported', 'removed', 'dismissed'] as const;
export type Status = (typeof STATUSES)[number];

export interface ChartMatch {
  foundAt: string;
  status: Status;
  group: string | null;
}

export interface Series {
  name: string;
  counts: number[];
}

export interface Aggregate {
  /** Every day (UTC, YYYY-MM-DD) from the first match found to the last. */
  days: string[];
  byStatus: Series[];
  byGroup: Series[];
}

const DAY_MS = 86_400_000;
export const NO_GROUP = '(no group)';
export const OTHER_GROUPS = 'other groups';

function dayRange(first: string, last: string): string[] {
  const days: string[] = [];
  for (let t = Date.parse(first); t <= Date.parse(last); t += DAY_MS) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/** Counts per day by status and by group; groups past the `topGroups` most frequent are summed as "other groups". */
export function aggregate(matches: readonly ChartMatch[], topGroups = 5): Aggregate {
  if (matches.length === 0) return { days: [], byStatus: [], byGroup: [] };
  const dayOf = (m: ChartMatch) => m.foundAt.slice(0, 10);
  const sorted = matches.map(dayOf).sort();
  const days = dayRange(sorted[0], sorted[sorted.length - 1]);
  const index = new Map(days.map((d, i) => [d, i]));
  const totals = new Map<string, number>();
  for (const m of matches) totals.set(m.group ?? NO_GROUP, (totals.get(m.group ?? NO_GROUP) ?? 0) + 1);
  const ranked = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([g]) => g);
  const kept = new Set(ranked.slice(0, topGroups));
  const groupNames = [...ranked.slice(0, topGroups), ...(ranked.length > topGroups ? [OTHER_GROUPS] : [])];
  const byStatus = STATUSES.map((name) => ({ name, counts: days.map(() => 0) }));
  const byGroup = groupNames.map((name) => ({ name, counts: days.map(() => 0) }));
  for (const m of matches) {
    const i = index.get(dayOf(m))!;
    byStatus[STATUSES.indexOf(m.status)].counts[i]++;
    const g = m.group ?? NO_GROUP;
    byGroup[groupNames.indexOf(kept.has(g) ? g : OTHER_GROUPS)].counts[i]++;
  }
  return { days, byStatus: byStatus.filter((s) => s.counts.some((c) => c > 0)), byGroup };
}
