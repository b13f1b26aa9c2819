/**
 * The counts behind the dashboard's chart (src/web/dashboard/aggregate.ts):
 * per day by status and by group, every day of the span present, groups
 * past the most frequent summed as "other groups".
 */
import t from 'tap';
import { aggregate, type ChartMatch, NO_GROUP, OTHER_GROUPS } from '../src/web/dashboard/aggregate.js';

const m = (foundAt: string, status: ChartMatch['status'], group: string | null): ChartMatch => ({ foundAt, status, group });

t.test('nothing to chart', async (t) => {
  t.same(aggregate([]), { days: [], byStatus: [], byGroup: [] });
});

t.test('per day by status, gaps kept as zero days', async (t) => {
  const data = aggregate([
    m('2026-12-01T10:00:00.000Z', 'new', 'g1'),
    m('2026-12-01T23:59:59.000Z', 'reported', 'g1'),
    m('2026-12-03T00:00:00.000Z', 'new', 'g2'),
    m('2026-12-03T05:00:00.000Z', 'removed', null),
  ]);
  t.same(data.days, ['2026-12-01', '2026-12-02', '2026-12-03']);
  t.same(data.byStatus, [
    { name: 'new', counts: [1, 0, 1] },
    { name: 'reported', counts: [1, 0, 0] },
    { name: 'removed', counts: [0, 0, 1] },
  ], 'statuses without a match are left out');
  t.same(data.byGroup, [
    { name: 'g1', counts: [2, 0, 0] },
    { name: NO_GROUP, counts: [0, 0, 1] },
    { name: 'g2', counts: [0, 0, 1] },
  ], 'most matches first, ties by name');
});

t.test('groups past the most frequent are summed', async (t) => {
  const matches = ['a', 'a', 'a', 'b', 'b', 'c', 'd'].map((g) => m('2026-12-05T12:00:00.000Z', 'new', g));
  const data = aggregate(matches, 2);
  t.same(data.byGroup, [
    { name: 'a', counts: [3] },
    { name: 'b', counts: [2] },
    { name: OTHER_GROUPS, counts: [2] },
  ]);
  const total = data.byGroup.reduce((n, s) => n + s.counts[0], 0);
  t.equal(total, matches.length, 'every match is counted once');
});
