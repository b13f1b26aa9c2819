/**
 * Region hashes are indexed in parts by the kind of region they are of
 * (src/match/region-groups.ts): a search must find exactly the stored hashes
 * within its radius whose kind its own kind can match, no fewer, in both
 * directions, in this thread and in the worker threads the server uses, after
 * stored hashes come and go; a hash of unknown kind, stored or searched, is
 * compared with every kind.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { hammingDistance } from '../src/hashing/hamming.js';
import { REGION_KINDS, type RegionKind } from '../src/hashing/pdq-region.js';
import { pdq, pdqRegion } from '../src/hashing/registry.js';
import { indexPartOf, indexPartsOf, indexPartsSearched, REGION_GROUPS, regionGroup, regionsCanMatch } from '../src/match/region-groups.js';
import { SignalIndexes, type IndexQuery } from '../src/match/signal-indexes.js';
import { WorkerSignalIndexes } from '../src/match/worker-indexes.js';
import { hashPin } from '../src/store/pin.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import type { SignalOwnerKind } from '../src/store/store.js';

const root = mkdtempSync(join(tmpdir(), 'ncii-region-groups-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const provenance = { platform: 'telegram', channel: 'group', messageRef: '1' };
const KINDS: (RegionKind | null)[] = [...REGION_KINDS, null];

function nearby(hash: Uint8Array, distance: number): Uint8Array {
  const out = Uint8Array.from(hash);
  for (let bit = 0; bit < distance; bit++) out[(bit * 7) % 32] ^= 1 << (bit % 8);
  return out;
}
const random = () => new Uint8Array(randomBytes(32));

t.test('which kinds find which: symmetric, every kind in one group, unknown kinds find all', async (t) => {
  for (const a of KINDS) for (const b of KINDS) t.equal(regionsCanMatch(a, b), regionsCanMatch(b, a), `${a} / ${b} both ways`);
  for (const kind of REGION_KINDS) {
    t.ok(regionsCanMatch(kind, kind), `${kind} finds its own kind`);
    t.ok(regionsCanMatch(kind, null) && regionsCanMatch(null, kind), `${kind} and an unknown kind`);
    t.ok(REGION_GROUPS.includes(regionGroup(kind)));
  }
  // What the split is for: a corner patch never meets a crop, a quadrant never a crop.
  t.notOk(regionsCanMatch('patch', 'crop'));
  t.notOk(regionsCanMatch('quadrant', 'crop'));
  t.ok(regionsCanMatch('frame', 'ninth'), 'the frame meets the grid: a collage cell that is exactly a ninth');
  t.same(indexPartsOf(pdq), ['pdq'], 'a whole-image type has one index');
  t.same(indexPartsSearched(pdq, null), ['pdq']);
  t.equal(indexPartsOf(pdqRegion).length, 1 + REGION_GROUPS.length);
  t.equal(indexPartOf(pdqRegion, null), 'pdq-region', 'unknown kinds in the type’s own part');
  for (const kind of REGION_KINDS) {
    t.ok(indexPartsSearched(pdqRegion, kind).includes('pdq-region'), `${kind} searches the part of unknown kinds`);
    t.ok(indexPartsSearched(pdqRegion, kind).includes(indexPartOf(pdqRegion, kind)), `${kind} searches its own part`);
  }
  t.same(indexPartsSearched(pdqRegion, null), indexPartsOf(pdqRegion), 'a hash of unknown kind searches every part');
});

t.test('a search finds exactly the stored hashes in reach whose kind its kind can match, both owner kinds, both ways of running the indexes', async (t) => {
  const store = new SqliteStore(join(root, 'kinds.db'));
  t.teardown(() => store.close());
  const bank = store.createBank({ name: 'captures' });
  // Every kind (and no kind) stored many times over, so that every part has tables (4,096 codes and more) as well as a few codes.
  const stored = new Map<number, { code: Uint8Array; region: RegionKind | null; owner: SignalOwnerKind }>();
  const kindOfItem = (i: number) => KINDS[i % KINDS.length];
  const items = Array.from({ length: 18_000 }, (_, i) => ({ provenance, signals: [{ type: 'pdq-region', hash: random(), region: kindOfItem(i) }] }));
  const added = store.addContent(bank.id, items);
  added.signalIds.forEach((id, i) => stored.set(id, { code: items[i].signals[0].hash, region: kindOfItem(i), owner: 'content' }));
  const caseSignals = KINDS.flatMap((region) => Array.from({ length: 3 }, () => ({ type: 'pdq-region', hash: random(), region })));
  store.createCase({ caseNumber: 'K-1', pinHash: await hashPin('1234'), signals: caseSignals });
  for (const s of store.listSignals({ kind: 'case', caseId: store.findCaseByNumber('K-1')!.id })) stored.set(s.id, { code: s.hash, region: s.region, owner: 'case' });

  const inThread = SignalIndexes.load(store);
  t.teardown(() => inThread.close());
  const inWorkers = await WorkerSignalIndexes.load(store, { chunkSize: 999, shardCapacity: 5000 });
  t.teardown(() => inWorkers.close());
  t.equal(inWorkers.size('content', 'pdq-region'), 18_000, 'sizes count every part');
  t.equal(inThread.size('case', 'pdq-region'), caseSignals.length);

  /** Brute force over what is stored now. */
  const expected = (owner: SignalOwnerKind, query: IndexQuery) =>
    [...stored]
      .filter(([, s]) => s.owner === owner && regionsCanMatch(query.region ?? null, s.region) && hammingDistance(s.code, query.code) <= query.radius)
      .map(([signalId, s]) => ({ signalId, distance: hammingDistance(s.code, query.code) }))
      .sort((a, b) => a.signalId - b.signalId);
  const check = async (label: string) => {
    const targets = [...stored].filter(([id, s]) => s.owner === 'case' || id % 97 === 0);
    const queries: IndexQuery[] = targets.flatMap(([, s]) => KINDS.map((region) => ({ type: 'pdq-region', code: nearby(s.code, 12), radius: 31, region })));
    let found = 0;
    let refused = 0;
    for (const owner of ['content', 'case'] as const) {
      const want = queries.map((query) => expected(owner, query));
      const sorted = (hits: { signalId: number; distance: number }[][]) => hits.map((list) => [...list].sort((a, b) => a.signalId - b.signalId));
      t.same(sorted(inThread.searchMany(owner, queries)), want, `${label}: ${owner}, in this thread, as brute force`);
      t.same(sorted(await inWorkers.searchMany(owner, queries)), want, `${label}: ${owner}, in the worker threads, as brute force`);
      found += want.filter((hits) => hits.length > 0).length;
      refused += queries.filter((query, i) => want[i].length === 0 && targets.some(([, s]) => s.owner === owner && hammingDistance(s.code, query.code) <= 31)).length;
    }
    // Both outcomes occur, so the comparison can see a part searched that should not be, and one left out.
    t.ok(found > 100 && refused > 100, `${label}: ${found} queries find their hash, ${refused} in reach are of a kind theirs cannot match`);
  };
  await check('loaded');

  // Removals reach the part their hash is in; new hashes go to theirs.
  // One signal an item: item i's is signalIds[i].
  const gone = added.contentIds.filter((_, i) => i % 3 === 0);
  added.contentIds.forEach((id, i) => {
    if (i % 3 !== 0) return;
    store.deleteContent(id);
    stored.delete(added.signalIds[i]);
  });
  const more = Array.from({ length: 900 }, (_, i) => ({ provenance, signals: [{ type: 'pdq-region', hash: random(), region: kindOfItem(i + 3) }] }));
  store.addContent(bank.id, more).signalIds.forEach((id, i) => stored.set(id, { code: more[i].signals[0].hash, region: kindOfItem(i + 3), owner: 'content' }));
  t.equal(inWorkers.size('content', 'pdq-region'), 18_000 - gone.length + 900);
  t.equal(inThread.size('content', 'pdq-region'), 18_000 - gone.length + 900);
  await check('after removals and additions');
});
