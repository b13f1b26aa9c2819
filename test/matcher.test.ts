import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pdqDihedralFromDct } from '../src/hashing/pdq.js';
import { Matcher, type MatcherOptions } from '../src/match/matcher.js';
import { findSignalType } from '../src/hashing/registry.js';
import { q } from './helpers/queries.js';
import { SignalIndexes } from '../src/match/signal-indexes.js';
import { hashPin } from '../src/store/pin.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

const root = mkdtempSync(join(tmpdir(), 'ncii-matcher-test-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let dbCount = 0;
const pinHashPromise = hashPin('1234');
const provenance = { platform: 'telegram', channel: 'group', messageRef: '42' };

const randomHash = (bytes = 32) => new Uint8Array(randomBytes(bytes));

/** A copy of `hash` with exactly `distance` bits flipped. */
function atDistance(hash: Uint8Array, distance: number): Uint8Array {
  const out = Uint8Array.from(hash);
  for (let bit = 0; bit < distance; bit++) out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

function setup(options: MatcherOptions = {}) {
  const store = new SqliteStore(join(root, `matcher-${++dbCount}.db`));
  const indexes = SignalIndexes.load(store);
  const matcher = new Matcher(store, indexes, options);
  t.teardown(() => {
    indexes.close();
    store.close();
  });
  return { store, indexes, matcher };
}

function addItem(store: SqliteStore, bankId: number, signals: { type: string; hash: Uint8Array }[]): { contentId: number; signalIds: number[] } {
  const { contentIds, signalIds } = store.addContent(bankId, [{ provenance, signals }]);
  return { contentId: contentIds[0], signalIds };
}

t.test('indexes load from the store at start and follow every write', async (t) => {
  const store = new SqliteStore(join(root, `matcher-${++dbCount}.db`));
  t.teardown(() => store.close());
  const bank = store.createBank({ name: 'preexisting' });
  const hash = randomHash();
  const md5 = randomHash(16);
  const before = addItem(store, bank.id, [
    { type: 'pdq', hash },
    { type: 'md5', hash: md5 },
  ]);
  const indexes = SignalIndexes.load(store, { chunkSize: 1 });
  t.teardown(() => indexes.close());
  const matcher = new Matcher(store, indexes);
  t.equal(indexes.size('content', 'pdq'), 1);
  t.equal(indexes.size('content', 'md5'), 1);
  t.same(
    (await matcher.matchContent(q([{ type: 'pdq', hash: atDistance(hash, 3) }]))).matches.map((m) => [m.contentId, m.distance, m.signalType]),
    [[before.contentId, 3, 'pdq']],
  );
  t.same((await matcher.matchContent(q([{ type: 'md5', hash: md5 }]))).matches[0]?.contentId, before.contentId);

  const added = addItem(store, bank.id, [{ type: 'pdq', hash: atDistance(hash, 1) }]);
  t.equal(indexes.size('content', 'pdq'), 2, 'an add reaches the index as soon as the store call returns');
  t.same(
    (await matcher.matchContent(q([{ type: 'pdq', hash }]))).matches.map((m) => m.contentId),
    [before.contentId, added.contentId],
  );
  store.deleteContent(before.contentId);
  t.equal(indexes.size('content', 'md5'), 0);
  t.same(
    (await matcher.matchContent(q([{ type: 'pdq', hash }]))).matches.map((m) => m.contentId),
    [added.contentId],
    'a delete leaves the index at once',
  );
  store.deleteBank(bank.id);
  t.equal(indexes.size('content', 'pdq'), 0);
});

t.test('thresholds: defaults, bank and request overrides, ceiling with visible clamp', async (t) => {
  const { store, matcher } = setup();
  const strict = store.createBank({ name: 'strict', thresholds: { pdq: 8 } });
  const loose = store.createBank({ name: 'loose' });
  const hash = randomHash();
  const at = (bank: number, d: number) => addItem(store, bank, [{ type: 'pdq', hash: atDistance(hash, d) }]).contentId;
  const loose31 = at(loose.id, 31);
  at(loose.id, 32);
  const loose20 = at(loose.id, 20);
  const strict8 = at(strict.id, 8);
  const strict10 = at(strict.id, 10);
  const query = [{ type: 'pdq', hash }];
  const ids = (r: { matches: { contentId: number }[] }) => r.matches.map((m) => m.contentId);

  const byDefault = await matcher.matchContent(q(query));
  t.same(ids(byDefault), [strict8, loose20, loose31], 'default 31 in loose, bank 8 in strict; sorted by distance');
  t.same(byDefault.thresholds, [
    { type: 'pdq', bankId: strict.id, source: 'bank', requested: 8, applied: 8, clamped: false },
    { type: 'pdq', bankId: loose.id, source: 'default', requested: 31, applied: 31, clamped: false },
  ]);
  t.same(ids(await matcher.matchContent(q(query, { thresholds: { pdq: 12 } }))), [strict8, strict10], 'request replaces both');
  t.same(ids(await matcher.matchContent(q(query, { thresholds: { pdq: 25 } }))), [strict8, strict10, loose20]);

  const clamped = await matcher.matchContent(q(query, { thresholds: { pdq: 60 } }));
  t.same(ids(clamped), [strict8, strict10, loose20, loose31], 'above the ceiling: clamped to 31, not 60');
  t.ok(clamped.thresholds.every((x) => x.clamped && x.applied === 31 && x.requested === 60 && x.source === 'request'));

  t.same(ids(await matcher.matchContent(q(query, { banks: [strict.id] }))), [strict8], 'bank filter');
  t.same(ids(await matcher.matchContent(q(query, { banks: [loose.id], thresholds: { pdq: 31 } }))), [loose20, loose31]);
  await t.rejects(() => matcher.matchContent(q(query, { banks: [999] })), { code: 'NOT_FOUND' });
});

t.test('a lower or higher ceiling (benchmarks probing) applies to banks and requests; exact types stay exact', async (t) => {
  const { store, matcher } = setup({ ceilings: { pdq: 45, blockhash: 16 } });
  t.throws(() => setup({ ceilings: { md5: 2 } }), { code: 'INVALID_REQUEST' });
  t.throws(() => setup({ ceilings: { pdq: 257 } }), { code: 'INVALID_REQUEST' });
  const bank = store.createBank({ name: 'b', thresholds: { pdq: 50, blockhash: 14 } });
  const hash = randomHash();
  const block = randomHash();
  const md5 = randomHash(16);
  const near = addItem(store, bank.id, [{ type: 'pdq', hash: atDistance(hash, 40) }]).contentId;
  const blockItem = addItem(store, bank.id, [{ type: 'blockhash', hash: atDistance(block, 14) }]).contentId;
  addItem(store, bank.id, [{ type: 'md5', hash: atDistance(md5, 1) }]);
  const result = await matcher.matchContent(
    q([
      { type: 'pdq', hash },
      { type: 'blockhash', hash: block },
      { type: 'md5', hash: md5 },
    ]),
  );
  t.same(
    result.matches.map((m) => [m.contentId, m.signalType, m.distance, m.signalIndex]),
    [
      [blockItem, 'blockhash', 14, 1],
      [near, 'pdq', 40, 0],
    ],
    'exact types never match at distance > 0',
  );
  t.same(
    result.thresholds.map((x) => [x.type, x.source, x.requested, x.applied, x.clamped]),
    [
      ['pdq', 'bank', 50, 45, true],
      ['blockhash', 'bank', 14, 14, false],
      ['md5', 'default', 0, 0, false],
    ],
  );
  t.equal(matcher.ceiling(findSignalType('md5')!), 0);
  t.equal(matcher.ceiling(findSignalType('pdq')!), 45);
});

t.test('one match per content item, with its smallest distance', async (t) => {
  const { store, matcher } = setup();
  const bank = store.createBank({ name: 'b' });
  const hash = randomHash();
  const sha = randomHash();
  const item = addItem(store, bank.id, [
    { type: 'pdq', hash: atDistance(hash, 9) },
    { type: 'pdq', hash: atDistance(hash, 4) },
    { type: 'sha256', hash: sha },
  ]);
  const pdqOnly = await matcher.matchContent(q([{ type: 'pdq', hash }, { type: 'pdq', hash: atDistance(hash, 20) }]));
  t.equal(pdqOnly.matches.length, 1);
  t.match(pdqOnly.matches[0], { contentId: item.contentId, bankId: bank.id, distance: 4, signalId: item.signalIds[1], signalIndex: 0, variant: null });
  t.same(pdqOnly.matches[0].provenance, { ...provenance, capturedAt: null });
  const withExact = await matcher.matchContent(q([{ type: 'pdq', hash: atDistance(hash, 4) }, { type: 'sha256', hash: sha }]));
  t.equal(withExact.matches.length, 1);
  t.match(withExact.matches[0], { distance: 0, signalType: 'sha256', signalIndex: 1 }, 'at equal distance the exact signal is the evidence');
});

t.test('dihedral expansion for image queries; bare hashes match as given', async (t) => {
  const { store, matcher } = setup();
  const bank = store.createBank({ name: 'b' });
  const dct = Float32Array.from({ length: 256 }, () => Math.random() * 2 - 1);
  const variants = pdqDihedralFromDct(dct);
  const rotated = addItem(store, bank.id, [{ type: 'pdq', hash: atDistance(variants[1], 2) }]).contentId;
  const imageQuery = { type: 'pdq', hash: variants[0], dct };
  t.same((await matcher.matchContent(q([imageQuery]))).matches, [], 'without dihedral a rotated copy is far away');
  const expanded = await matcher.matchContent(q([imageQuery], { dihedral: true }));
  t.match(expanded.matches, [{ contentId: rotated, distance: 2, variant: 'rot90', signalIndex: 0 }]);
  t.same((await matcher.matchContent(q([{ type: 'pdq', hash: variants[0] }], { dihedral: true }))).matches, [], 'a bare hash (no DCT) is matched as given');
  t.same(
    (await matcher.matchContent(q([{ type: 'blockhash', hash: randomHash() }, imageQuery], { dihedral: true }))).matches.map((m) => m.contentId),
    [rotated],
    'dihedral applies to signals with a DCT only',
  );
});

t.test("victims' hashes: matched only by matchCases, gone at once on withdrawal", async (t) => {
  const { store, indexes, matcher } = setup();
  const bank = store.createBank({ name: 'b' });
  const victimHash = randomHash();
  const victim = store.createCase({ caseNumber: 'V-1', pinHash: await pinHashPromise, signals: [{ type: 'pdq', hash: victimHash }] });
  const other = store.createCase({ caseNumber: 'V-2', pinHash: await pinHashPromise, signals: [{ type: 'pdq', hash: randomHash() }] });
  const captured = atDistance(victimHash, 6);
  addItem(store, bank.id, [{ type: 'pdq', hash: captured }]);

  const found = await matcher.matchCases(q([{ type: 'pdq', hash: captured }]));
  t.match(found.matches, [{ caseId: victim.id, caseNumber: 'V-1', distance: 6 }]);
  t.equal(found.matches.length, 1);
  t.same(found.thresholds, [{ type: 'pdq', bankId: null, source: 'default', requested: 31, applied: 31, clamped: false }]);
  t.same((await matcher.matchCases(q([{ type: 'pdq', hash: captured }], { thresholds: { pdq: 5 } }))).matches, []);
  t.equal(
    (await matcher.matchContent(q([{ type: 'pdq', hash: victimHash }]))).matches.every((m) => m.contentId > 0),
    true,
    'content search never returns cases',
  );
  t.equal((await matcher.matchContent(q([{ type: 'pdq', hash: victimHash }]))).matches.length, 1);

  store.deleteCase(victim.id);
  t.same((await matcher.matchCases(q([{ type: 'pdq', hash: captured }]))).matches, [], 'withdrawal leaves the index at once');
  t.equal(indexes.size('case', 'pdq'), 1, "only the other victim's hash remains");
  t.ok(store.getCase(other.id));
});

t.test('matches finishing together read their owners in one store call, each getting its own', async (t) => {
  const { store, matcher } = setup();
  const banks = [store.createBank({ name: 'one' }), store.createBank({ name: 'two', thresholds: { pdq: 10 } })];
  const hashes = Array.from({ length: 12 }, () => randomHash());
  const items = hashes.map((hash, i) => ({ bankId: banks[i % 2].id, ...addItem(store, banks[i % 2].id, [{ type: 'pdq', hash }]) }));
  store.updateContent(items[5].contentId, { provenance: { ...provenance, channel: 'renamed group' } });
  const lookups: number[][] = [];
  const read = store.contentSignalOwners.bind(store);
  store.contentSignalOwners = (signalIds) => {
    lookups.push([...signalIds]);
    return read(signalIds);
  };

  // Item i at distance 2i: bank two's threshold (10) keeps its items beyond 10 bits out.
  const results = await Promise.all(hashes.map((hash, i) => matcher.matchContent(q([{ type: 'pdq', hash: atDistance(hash, 2 * i) }]))));
  t.equal(lookups.length, 1, 'one store call for the 12 matches');
  // Read before each bank's threshold is applied: all 12 are within the search radius of 31.
  t.same(lookups[0].sort((a, b) => a - b), items.map((item) => item.signalIds[0]).sort((a, b) => a - b));
  results.forEach(({ matches }, i) => {
    const item = items[i];
    const wanted = i % 2 === 0 || 2 * i <= 10 ? [{ contentId: item.contentId, bankId: item.bankId, distance: 2 * i, channel: i === 5 ? 'renamed group' : 'group' }] : [];
    t.same(matches.map((m) => ({ contentId: m.contentId, bankId: m.bankId, distance: m.distance, channel: m.provenance.channel })), wanted, `match ${i}`);
  });

  // An item deleted between the search and the owner read is left out, not reported with another's owner.
  const deleted = matcher.matchContent(q([{ type: 'pdq', hash: hashes[0] }]));
  store.deleteContent(items[0].contentId);
  t.same((await deleted).matches, []);
});

t.test('a hit whose item is deleted mid-query and followed by a new item is not reported as the new one', async (t) => {
  const { store, indexes } = setup();
  const bank = store.createBank({ name: 'b' });
  const hash = randomHash();
  // The newest item: deleting it is what once freed its ids for the next insert.
  const matched = addItem(store, bank.id, [{ type: 'pdq', hash }]);
  let swapped = false;
  // The item is deleted and another added after the search found it, before its owner is read.
  const racing = {
    size: (owner: 'content' | 'case', type: string) => indexes.size(owner, type),
    close: () => {},
    searchMany: async (owner: 'content' | 'case', queries: Parameters<typeof indexes.searchMany>[1]) => {
      const found = indexes.searchMany(owner, queries);
      store.deleteContent(matched.contentId);
      store.addContent(bank.id, [{ provenance: { ...provenance, channel: 'unrelated group' }, signals: [{ type: 'pdq', hash: randomHash() }] }]);
      swapped = true;
      return found;
    },
  };
  const result = await new Matcher(store, racing).matchContent(q([{ type: 'pdq', hash }]));
  t.ok(swapped, 'the item was replaced between the search and the owner read');
  t.same(result.matches, [], 'neither the deleted item nor the unrelated new one');
});

t.test("a query's hashes go to the searcher in one call, and its hits keep their query positions", async (t) => {
  const { store, indexes } = setup();
  const bank = store.createBank({ name: 'b' });
  const early = randomHash();
  const late = randomHash();
  const items = [addItem(store, bank.id, [{ type: 'pdq', hash: early }]), addItem(store, bank.id, [{ type: 'pdq', hash: late }])];
  const calls: number[] = [];
  const counting = {
    size: (owner: 'content' | 'case', type: string) => indexes.size(owner, type),
    close: () => {},
    searchMany: async (owner: 'content' | 'case', queries: Parameters<typeof indexes.searchMany>[1]) => {
      calls.push(queries.length);
      return indexes.searchMany(owner, queries);
    },
  };
  const matcher = new Matcher(store, counting);
  // 200 hashes, as a robust query carries hundreds; the planted ones first and last.
  const codes = [early, ...Array.from({ length: 198 }, () => randomHash()), late];
  const result = await matcher.matchContent(q(codes.map((hash) => ({ type: 'pdq', hash }))));
  t.same(calls, [200], 'one call with every hash: the index threads search them as one batch');
  t.same(
    result.matches.map((m) => [m.contentId, m.signalIndex]).sort((a, b) => a[0]! - b[0]!),
    [
      [items[0].contentId, 0],
      [items[1].contentId, 199],
    ],
  );
});
