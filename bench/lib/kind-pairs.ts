/**
 * Which kinds of region find which (`npm run bench:quality -- --kinds`): for
 * every repost of the bench's own photos, each pair of a query region hash
 * (her original, as /v1/match and a case hash it) and a content region hash
 * (the repost, as ingest keeps it) within distance 31, by the kinds of the two
 * regions (src/robust/regions.ts: frame, crop, patch, ...).
 *
 * Today every query region is searched against every content region. The
 * question is how much recall a split by kind would cost: searched only
 * within GROUPS (a crop against frames, parts and thirds; a corner patch
 * against patches; a quadrant or ninth against quadrants and ninths), the
 * candidate pairs an index has to verify fall with the product of the kinds'
 * counts. Reported: per family, reposts found at all and found within the
 * groups, the kind pairs that alone found the rest, and the share of
 * (query, content) pairs the groups leave. Dark originals are left out
 * (they are matched through pdq-norm).
 */
import { readFileSync } from 'node:fs';
import { hammingDistance } from '../../src/hashing/hamming.js';
import { PDQ_MATCH_THRESHOLD, pdqDihedralFromDct } from '../../src/hashing/pdq.js';
import { hashImage } from '../../src/image/hash-image.js';
import type { RegionKind } from '../../src/robust/regions.js';

/** The split under study: each group's query kinds are searched against its content kinds only. */
export const GROUPS: ReadonlyArray<{ name: string; kinds: readonly RegionKind[] }> = [
  { name: 'frames', kinds: ['frame', 'crop', 'rotation', 'part', 'strip'] },
  { name: 'patches', kinds: ['patch'] },
  { name: 'grid', kinds: ['quadrant', 'ninth'] },
];

const groupOf = (kind: RegionKind): string => GROUPS.find((g) => g.kinds.includes(kind))!.name;

interface KindItem {
  query: string;
  family: string;
  path: string;
}

interface KindQuery {
  key: string;
  path: string;
  dark: boolean;
}

interface Hashed {
  kind: RegionKind;
  hash: Uint8Array;
}

export async function kindPairs(queries: readonly KindQuery[], items: readonly KindItem[]): Promise<void> {
  const queryCounts = new Map<RegionKind, number>();
  const contentCounts = new Map<RegionKind, number>();
  const families = new Map<string, { reposts: number; found: number; foundInGroups: number; alone: Map<string, number> }>();
  let queryCount = 0;
  let itemCount = 0;
  for (const query of queries) {
    if (query.dark) continue;
    const hashed = await hashImage(readFileSync(query.path), { signals: ['pdq'], regions: 'query' });
    // The frame is searched in its 8 turns and mirrors, as the Matcher does.
    const regions: Hashed[] = hashed.regions!.flatMap((r) => (r.dct ? pdqDihedralFromDct(r.dct).map((hash) => ({ kind: r.kind, hash })) : [{ kind: r.kind, hash: r.hash }]));
    queryCount++;
    for (const r of regions) queryCounts.set(r.kind, (queryCounts.get(r.kind) ?? 0) + 1);
    for (const item of items) {
      if (item.query !== query.key) continue;
      const content = await hashImage(readFileSync(item.path), { signals: ['pdq'], regions: 'content' });
      itemCount++;
      for (const r of content.regions!) contentCounts.set(r.kind, (contentCounts.get(r.kind) ?? 0) + 1);
      const family = families.get(item.family) ?? { reposts: 0, found: 0, foundInGroups: 0, alone: new Map<string, number>() };
      families.set(item.family, family);
      family.reposts++;
      const whole = !hashed.pdq!.lowQuality && hammingDistance(hashed.pdq!.hash, content.pdq!.hash) <= PDQ_MATCH_THRESHOLD;
      let found = whole;
      let inGroups = whole;
      const pairs = new Set<string>();
      for (const q of regions) {
        for (const c of content.regions!) {
          if (hammingDistance(q.hash, c.hash) > PDQ_MATCH_THRESHOLD) continue;
          found = true;
          if (groupOf(q.kind) === groupOf(c.kind)) inGroups = true;
          else pairs.add(`${q.kind}>${c.kind}`);
        }
      }
      if (found) family.found++;
      if (inGroups) family.foundInGroups++;
      else for (const pair of pairs) family.alone.set(pair, (family.alone.get(pair) ?? 0) + 1);
    }
    process.stderr.write(`kinds: ${queryCount} originals\r`);
  }
  let allPairs = 0;
  let groupPairs = 0;
  for (const [q, qn] of queryCounts) {
    for (const [c, cn] of contentCounts) {
      allPairs += qn * cn;
      if (groupOf(q) === groupOf(c)) groupPairs += qn * cn;
    }
  }
  const perQuery = Object.fromEntries([...queryCounts].map(([k, n]) => [k, Math.round((10 * n) / queryCount) / 10]));
  const perItem = Object.fromEntries([...contentCounts].map(([k, n]) => [k, Math.round((100 * n) / itemCount) / 100]));
  console.log(`kinds: ${queryCount} originals, ${itemCount} reposts; groups ${GROUPS.map((g) => `${g.name} (${g.kinds.join(', ')})`).join('; ')}`);
  for (const [name, f] of families) {
    const alone = [...f.alone].map(([pair, n]) => `${pair} ${n}`).join(', ');
    console.log(`  ${name.padEnd(11)} ${f.reposts} reposts: found ${f.found}, within the groups ${f.foundInGroups}${alone ? ` (the rest only by ${alone})` : ''}`);
  }
  console.log(`  region hashes per query ${JSON.stringify(perQuery)}; per captured item ${JSON.stringify(perItem)}`);
  const total = (count: (f: { found: number; foundInGroups: number }) => number) => [...families.values()].reduce((sum, f) => sum + count(f), 0);
  console.log(
    JSON.stringify({
      bench: 'quality-kinds',
      originals: queryCount,
      reposts: itemCount,
      found: total((f) => f.found),
      foundInGroups: total((f) => f.foundInGroups),
      pairShareInGroups: Math.round((1000 * groupPairs) / allPairs) / 1000,
      groups: Object.fromEntries(GROUPS.map((g) => [g.name, g.kinds])),
      families: Object.fromEntries([...families].map(([name, f]) => [name, { reposts: f.reposts, found: f.found, foundInGroups: f.foundInGroups }])),
    }),
  );
}
