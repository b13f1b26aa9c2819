/**
 * Which kinds of region find which (`npm run bench:quality -- --kinds`): for
 * every repost of the bench's own photos, each pair of a query region hash
 * (her original, as /v1/match and a case hash it) and a content region hash
 * (the repost, as ingest keeps it) within distance 31, by the kinds of the two
 * regions (src/robust/regions.ts: frame, crop, patch, ...).
 *
 * The service compares only regions whose kinds can find each other
 * (src/match/region-groups.ts: a crop against the frame and parts, a corner
 * patch against patches, a quadrant or ninth against quadrants, ninths and
 * the frame), so the candidate pairs an index verifies fall with the
 * product of the kinds' counts. This measures what that split costs and
 * leaves, by comparing every pair: per family, reposts found by any pair and
 * by the pairs the split compares, the kind pairs that alone found the rest,
 * and the share of (query, content) pairs the split compares. Dark originals
 * are left out (they are matched through pdq-norm).
 */
import { readFileSync } from 'node:fs';
import { hammingDistance } from '../../src/hashing/hamming.js';
import { PDQ_MATCH_THRESHOLD, pdqDihedralFromDct } from '../../src/hashing/pdq.js';
import { hashImage } from '../../src/image/hash-image.js';
import { REGION_KINDS, type RegionKind } from '../../src/hashing/pdq-region.js';
import { REGION_GROUPS, regionGroup, regionsCanMatch } from '../../src/match/region-groups.js';

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
          if (regionsCanMatch(q.kind, c.kind)) inGroups = true;
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
      if (regionsCanMatch(q, c)) groupPairs += qn * cn;
    }
  }
  const perQuery = Object.fromEntries([...queryCounts].map(([k, n]) => [k, Math.round((10 * n) / queryCount) / 10]));
  const perItem = Object.fromEntries([...contentCounts].map(([k, n]) => [k, Math.round((100 * n) / itemCount) / 100]));
  console.log(`kinds: ${queryCount} originals, ${itemCount} reposts; groups ${REGION_GROUPS.map((g) => `${g} (${groupKinds(g).join(', ')})`).join('; ')}`);
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
      groups: Object.fromEntries(REGION_GROUPS.map((g) => [g, groupKinds(g)])),
      families: Object.fromEntries([...families].map(([name, f]) => [name, { reposts: f.reposts, found: f.found, foundInGroups: f.foundInGroups }])),
    }),
  );
}

const groupKinds = (group: string): RegionKind[] => REGION_KINDS.filter((kind) => regionGroup(kind) === group);
