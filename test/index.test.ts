import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import fc from 'fast-check';
import { BruteForceIndex } from '../src/index/brute-force.js';
import { MultiIndexHashing, tableCountFor } from '../src/index/multi-index-hashing.js';
import type { SharedMemory } from '../src/index/shard.js';
import { wasmScanAvailable } from '../src/index/code-arena.js';
import { hammingDistance } from '../src/hashing/hamming.js';
import type { HammingRangeIndex, RangeHit } from '../src/index/types.js';
import { generateWasmModule } from '../scripts/build-wasm.js';

// Hundreds of random indexes against brute force: about 220 s beside another test file on two cores.
t.setTimeout(900_000);

const code = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** A copy of `base` with the given bit positions (0..255) flipped. */
function flip(base: Uint8Array, positions: Iterable<number>): Uint8Array {
  const out = base.slice();
  for (const bit of positions) out[bit >> 3] ^= 0x80 >> (bit & 7);
  return out;
}

/** `count` distinct bit positions drawn by `seed`, deterministic. */
function positions(count: number, seed: number): number[] {
  const all = Array.from({ length: 256 }, (_, i) => i);
  let s = seed >>> 0 || 1;
  for (let i = 255; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, count);
}

function sorted(hits: RangeHit[]): RangeHit[] {
  return [...hits].sort((a, b) => a.owner - b.owner || a.distance - b.distance);
}

function sameHits(index: HammingRangeIndex, oracle: HammingRangeIndex, query: Uint8Array, radius: number): boolean {
  const got = sorted(index.search(query, radius));
  const want = sorted(oracle.search(query, radius));
  if (got.length !== want.length) return false;
  return got.every((hit, i) => hit.owner === want[i].owner && hit.distance === want[i].distance);
}

/**
 * A batch answers each of its queries exactly as a search of it alone does
 * (the same hits in the same order), and as the oracle does.
 */
function sameBatchHits(index: HammingRangeIndex, oracle: HammingRangeIndex, queries: Uint8Array[], radius: number): boolean {
  const batch = index.searchBatch(packCodes(queries), radius);
  if (batch.length !== queries.length) return false;
  return queries.every((query, i) => {
    const alone = index.search(query, radius);
    const want = sorted(oracle.search(query, radius));
    const got = sorted(batch[i]);
    return (
      JSON.stringify(batch[i]) === JSON.stringify(alone) &&
      got.length === want.length &&
      got.every((hit, j) => hit.owner === want[j].owner && hit.distance === want[j].distance)
    );
  });
}

function fill(codes: Uint8Array[], index: HammingRangeIndex, oracle: HammingRangeIndex): void {
  codes.forEach((c, owner) => {
    index.add(c, owner);
    oracle.add(c, owner);
  });
}

/** A seeded LCG; its high byte only, as the low ones repeat with short periods. */
function lcg(seed: number): { next: () => number; byte: () => number } {
  let state = seed;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  return { next, byte: () => next() >>> 24 };
}

/** `count` random codes (from `seed`) that all begin with the bytes `prefix`: one bucket of the first table. */
function codesWithPrefix(seed: number, prefix: number[], count: number) {
  const { next, byte } = lcg(seed);
  const randomCode = () => {
    const c = Uint8Array.from({ length: 32 }, byte);
    c.set(prefix);
    return c;
  };
  return { next, randomCode, codes: Array.from({ length: count }, randomCode) };
}

function packCodes(codes: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(codes.length * 32);
  codes.forEach((c, i) => bytes.set(c, i * 32));
  return bytes;
}

const radii = fc.constantFrom(0, 1, 7, 31, 32, 40, 64);
/** The default (every code in one shard) or shards of 150 codes (each shard's tables cost 2^b buckets to build, so few shards). */
const shardCapacities = fc.constantFrom(undefined, 150);
const tableCounts = fc.constantFrom(12, 16, 21, 32);

t.test('the WebAssembly scan is current, present, and agrees with the JS scan', async (t) => {
  // Every committed WebAssembly module must still be what its .wat source assembles to.
  for (const wat of ['../src/index/popcount-scan.wat', '../src/index/shard-search.wat', '../src/hashing/pdq-core.wat']) {
    const { tsPath, source } = await generateWasmModule(fileURLToPath(new URL(wat, import.meta.url)));
    t.equal(readFileSync(tsPath, 'utf8'), source, `${wat} is assembled`);
  }
  t.ok(wasmScanAvailable());
  const wasm = new BruteForceIndex({ wasm: true });
  const js = new BruteForceIndex({ wasm: false });
  t.ok(wasm.usesWasm);
  t.notOk(js.usesWasm);
  fc.assert(
    fc.property(fc.array(code, { minLength: 1, maxLength: 200 }), code, fc.integer({ min: 0, max: 256 }), (codes, query, radius) => {
      const a = new BruteForceIndex({ wasm: true });
      const b = new BruteForceIndex({ wasm: false });
      fill(codes, a, b);
      const expected = codes.flatMap((c, owner) => {
        const distance = hammingDistance(c, query);
        return distance <= radius ? [{ owner, distance }] : [];
      });
      return sameHits(a, b, query, radius) && JSON.stringify(sorted(a.search(query, radius))) === JSON.stringify(expected);
    }),
    { numRuns: 60 },
  );
});

t.test('MIH equals brute force on random codes and queries near them', async (t) => {
  fc.assert(
    fc.property(
      fc.array(code, { minLength: 1, maxLength: 300 }),
      tableCounts,
      radii,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 70 }), fc.nat()), { minLength: 1, maxLength: 10 }),
      shardCapacities,
      (codes, tableCount, radius, probes, shardCapacity) => {
        // One shard, or several: each with tables of its own, every one searched.
        const index = new MultiIndexHashing({ tableCount, scanWhenCheaper: false, shardCapacity });
        const oracle = new BruteForceIndex();
        fill(codes, index, oracle);
        index.rebuild();
        if (index.shape.tableCount !== tableCount) return false;
        const queries = probes.map(([which, distance, seed]) => flip(codes[which % codes.length], positions(distance, seed)));
        // The same queries twice over in one batch: equal substrings tie in its order.
        return queries.every((query) => sameHits(index, oracle, query, radius)) && sameBatchHits(index, oracle, [...queries, ...queries], radius);
      },
    ),
    { numRuns: 100 },
  );
  t.pass();
});

/**
 * Flips `count` bits spread round-robin over the m substrings of `bits` bits, the
 * worst case for multi-index hashing: starting at table 0, as the larger radii
 * do, each table gets one flip more than its radius once the split is too small.
 */
function spreadFlips(base: Uint8Array, count: number, m: number, bits: number): Uint8Array {
  return flip(
    base,
    Array.from({ length: count }, (_, i) => (i % m) * bits + Math.floor(i / m)),
  );
}

t.test('MIH finds planted near-duplicates at every distance 0..r', async (t) => {
  for (const [radius, tableCount] of [
    [31, 12],
    [31, 21],
    [32, 16],
    [64, 12],
    [0, 32],
  ] as const) {
    fc.assert(
      fc.property(code, fc.array(code, { maxLength: 100 }), fc.nat(), (base, background, seed) => {
        const index = new MultiIndexHashing({ tableCount, scanWhenCheaper: false });
        const oracle = new BruteForceIndex();
        const bits = Math.floor(256 / tableCount);
        const planted = Array.from({ length: radius + 1 }, (_, d) => flip(base, positions(d, seed + d)));
        const spread = Array.from({ length: radius + 1 }, (_, d) => spreadFlips(base, d, tableCount, bits));
        fill([...planted, ...spread, ...background], index, oracle);
        index.rebuild();
        const hits = sorted(index.search(base, radius));
        // Every planted copy is found, at its planted distance.
        for (let d = 0; d <= radius; d++) {
          if (!hits.some((h) => h.owner === d && h.distance === d)) return false;
          if (!hits.some((h) => h.owner === radius + 1 + d && h.distance === d)) return false;
        }
        return sameHits(index, oracle, base, radius);
      }),
      { numRuns: 20 },
    );
  }
  t.pass();
});

t.test('MIH equals brute force on clustered codes', async (t) => {
  fc.assert(
    fc.property(
      fc.array(code, { minLength: 1, maxLength: 6 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 24 }), fc.nat()), { minLength: 50, maxLength: 400 }),
      tableCounts,
      radii,
      (centers, members, tableCount, radius) => {
        const codes = members.map(([c, d, seed]) => flip(centers[c % centers.length], positions(d, seed)));
        const index = new MultiIndexHashing({ tableCount, scanWhenCheaper: false });
        const oracle = new BruteForceIndex();
        fill(codes, index, oracle);
        index.rebuild();
        return centers.every((center, i) => sameHits(index, oracle, center, radius) && sameHits(index, oracle, flip(center, positions(radius >> 1, i)), radius));
      },
    ),
    { numRuns: 60 },
  );
  t.pass();
});

t.test('add, remove and re-add take effect at once, across rebuilds', async (t) => {
  const op = fc.tuple(fc.constantFrom('add', 'remove', 'bulk'), fc.nat(39), fc.nat(5));
  fc.assert(
    // 12 tables of 21 bits rebuild 2M-bucket tables at every one of the many
    // rebuilds here; the other tests cover that split.
    fc.property(fc.array(code, { minLength: 40, maxLength: 40 }), fc.array(op, { minLength: 1, maxLength: 150 }), fc.constantFrom(16, 21, 32), radii, fc.constantFrom(undefined, 16), (pool, ops, tableCount, radius, shardCapacity) => {
      // A tiny delta forces frequent rebuilds and compactions; tiny shards, new shards and compactions of full ones.
      const index = new MultiIndexHashing({ tableCount, deltaLimit: 5, scanWhenCheaper: false, shardCapacity });
      const oracle = new BruteForceIndex();
      for (const [kind, which, owner] of ops) {
        const c = pool[which];
        if (kind === 'add') {
          index.add(c, owner);
          oracle.add(c, owner);
        } else if (kind === 'remove') {
          if (index.remove(c, owner) !== oracle.remove(c, owner)) return false;
        } else {
          const batch = pool.slice(which % 30, (which % 30) + 10);
          const bytes = packCodes(batch);
          const owners = batch.map((_, i) => (owner + i) % 6);
          index.addMany(bytes, owners);
          oracle.addMany(bytes, owners);
        }
        if (index.size !== oracle.size) return false;
        if (!sameHits(index, oracle, c, radius)) return false;
      }
      return pool.every((c) => sameHits(index, oracle, c, radius)) && sameBatchHits(index, oracle, pool, radius);
    }),
    { numRuns: 120 },
  );
  t.pass();
});

t.test('removing an entry twice removes it once', async (t) => {
  for (const shardCapacity of [undefined, 1]) {
    const index = new MultiIndexHashing({ tableCount: 16, scanWhenCheaper: false, shardCapacity });
    const code = flip(new Uint8Array(32), [255]);
    index.add(new Uint8Array(32), 1);
    index.add(code, 2);
    t.ok(index.remove(code, 2));
    t.notOk(index.remove(code, 2), 'its slot is dead: nothing left to remove');
    t.equal(index.size, 1);
    index.add(code, 2);
    t.same(index.search(code, 0), [{ owner: 2, distance: 0 }], 'comes back when added again');
    t.equal(index.size, 2);
  }
});

t.test('a code with many owners answers with each, and loses them one at a time', async (t) => {
  for (const shardCapacity of [undefined, 2000]) {
    const index = new MultiIndexHashing({ tableCount: 16, scanWhenCheaper: false, shardCapacity });
    const shared = flip(new Uint8Array(32), [1, 50, 200]);
    const others = Array.from({ length: 5000 }, (_, i) => flip(new Uint8Array(32), positions(100, i + 1)));
    // The shared code's owners land in different shards when shards are small: loaded first and last, and added after.
    index.load(packCodes([shared, ...others, shared, shared]), [7001, ...others.map((_, i) => i), 7002, 7003]);
    index.finishLoad();
    index.add(shared, 7004);
    index.add(shared, 7002); // already there: no change
    index.addMany(packCodes([shared, shared]), [7005, 7005]); // twice in one batch: once
    t.equal(index.size, 5005);
    const ownersOf = (q: Uint8Array) => sorted(index.search(q, 0)).map((h) => h.owner);
    t.same(ownersOf(shared), [7001, 7002, 7003, 7004, 7005]);
    t.ok(index.remove(shared, 7001));
    t.notOk(index.remove(shared, 7001));
    t.same(ownersOf(shared), [7002, 7003, 7004, 7005]);
    for (const owner of [7002, 7003, 7004, 7005]) t.ok(index.remove(shared, owner));
    t.same(ownersOf(shared), []);
    t.same(sorted(index.search(flip(shared, [9]), 1)), []);
    index.add(shared, 42);
    t.same(index.search(flip(shared, [9]), 1), [{ owner: 42, distance: 1 }]);
    t.equal(index.size, 5001);
  }
});

t.test("an import's batches (more to follow) put off rebuilds, answers stay exact, and settling builds the tables", async (t) => {
  const index = new MultiIndexHashing();
  const { byte, next } = lcg(777);
  const codes: Uint8Array[] = [];
  const check = (label: string) => {
    for (let k = 0; k < 4; k++) {
      const query = flip(codes[next() % codes.length], positions(next() % 20, next()));
      const want = codes.flatMap((c, owner) => (hammingDistance(c, query) <= 31 ? [owner] : []));
      t.same(sorted(index.search(query, 31)).map((h) => h.owner).sort((a, b) => a - b), want, label);
    }
  };
  const add = (count: number, more: boolean) => {
    const bytes = new Uint8Array(count * 32);
    for (let i = 0; i < count; i++) {
      const c = Uint8Array.from({ length: 32 }, byte);
      bytes.set(c, i * 32);
      codes.push(c);
    }
    index.addMany(bytes, Array.from({ length: count }, (_, i) => codes.length - count + i), more);
  };
  add(8000, false);
  t.equal(index.shape.deltaCodes, 0, 'a batch alone is indexed at once');
  add(3000, true);
  add(3000, true);
  t.equal(index.shape.deltaCodes, 6000, 'batches with more to follow stay in the delta while it is smaller than the indexed codes');
  check('searched with a delta');
  add(3000, true);
  t.equal(index.shape.deltaCodes, 0, 'a delta larger than the indexed codes is indexed');
  add(5000, true);
  t.equal(index.shape.deltaCodes, 5000);
  index.settle();
  t.equal(index.shape.deltaCodes, 0, 'settling indexes the delta');
  add(1, true);
  index.addMany(packCodes([codes[5]]), [5]);
  t.equal(index.size, codes.length, 'an owner already held is not added again');
  check('after settling');
});

t.test('growth past re-tune points keeps answers exact', async (t) => {
  const index = new MultiIndexHashing();
  const codes: Uint8Array[] = [];
  const seen = new Set<number>();
  const { next, byte } = lcg(12345);
  const centers = Array.from({ length: 50 }, () => Uint8Array.from({ length: 32 }, byte));
  for (const batchSize of [1000, 1, 3000, 500, 20000, 1, 60000]) {
    const bytes = new Uint8Array(batchSize * 32);
    for (let i = 0; i < batchSize; i++) {
      // Half uniform, half near one of a few centers.
      const c = next() >>> 31 ? Uint8Array.from({ length: 32 }, byte) : flip(centers[next() % 50], positions(next() % 40, next()));
      bytes.set(c, i * 32);
      codes.push(c);
    }
    index.addMany(bytes, Array.from({ length: batchSize }, (_, i) => codes.length - batchSize + i));
    seen.add(index.shape.tableCount);
    for (const radius of [0, 31, 32, 64]) {
      for (let k = 0; k < 6; k++) {
        const query = k < 3 ? flip(codes[next() % codes.length], positions(next() % 40, next())) : flip(centers[k], positions(10, k));
        const want = codes.flatMap((c, owner) => (hammingDistance(c, query) <= radius ? [owner] : []));
        t.same(sorted(index.search(query, radius)).map((h) => h.owner).sort((a, b) => a - b), want, `radius ${radius} at ${codes.length}`);
      }
    }
  }
  t.equal(index.size, codes.length);
  // No tables below 4,096 codes, then m re-tuned at each size the batches reach.
  t.ok(seen.has(0) && seen.size >= 4 && seen.has(tableCountFor(80000)), `table counts used: ${[...seen]}`);
  t.ok(tableCountFor(1e6) === 12 && tableCountFor(1e7) === 11 && tableCountFor(1e8) === 11);
});

t.test('a probe with more candidates than the scratch holds is verified in JS and stays exact, before and after rebuilds', async (t) => {
  // 70,000 codes sharing their first 8 bits: table 0 of 32 puts them all in one bucket.
  const { next, randomCode, codes } = codesWithPrefix(777, [0x5a], 70_000);
  const bytes = packCodes(codes);
  const index = new MultiIndexHashing({ tableCount: 32, scanWhenCheaper: false });
  const oracle = new BruteForceIndex();
  index.addMany(bytes, codes.map((_, i) => i));
  oracle.addMany(bytes, codes.map((_, i) => i));
  const check = (what: string) => {
    for (const radius of [0, 31, 64, 80]) {
      const queries = Array.from({ length: 3 }, () => flip(codes[next() % codes.length], positions(next() % 40, next())));
      t.ok(sameHits(index, oracle, queries[0], radius), `${what}, radius ${radius}`);
      t.ok(sameBatchHits(index, oracle, queries, radius), `${what}, radius ${radius}, a batch`);
    }
  };
  check('one bucket of 70,000');
  // Single adds past the delta limit rebuild the tables while the bucket stays over-full.
  for (let i = 0; i < 20_000; i++) {
    const c = randomCode();
    codes.push(c);
    index.add(c, codes.length - 1);
    oracle.add(c, codes.length - 1);
  }
  check('after single adds and rebuilds');
});

t.test('a search right after an add that starts a new shard is exact', async (t) => {
  for (const options of [{ shardCapacity: 20_000 }, { tableCount: 16, shardCapacity: 20_000 }]) {
    const { next, codes } = codesWithPrefix(4242, [], 20_000) as { next: () => number; codes: Uint8Array[] };
    const index = new MultiIndexHashing(options);
    const oracle = new BruteForceIndex();
    index.addMany(packCodes(codes), codes.map((_, i) => i));
    oracle.addMany(packCodes(codes), codes.map((_, i) => i));
    t.equal(index.shape.shards, 1, 'the first shard is full');
    for (let grown = 0; grown < 3; grown++) {
      const c = flip(codes[next() % codes.length], positions(3, next()));
      const owner = codes.push(c) - 1;
      index.add(c, owner);
      oracle.add(c, owner);
      // Before any other add or remove: the search alone must see the new shard.
      const queries = Array.from({ length: 20 }, () => flip(codes[next() % codes.length], positions(next() % 20, next())));
      queries.push(c);
      t.ok(queries.every((query) => sameHits(index, oracle, query, 31)), `${JSON.stringify(options)}: after growth ${grown + 1}`);
      for (let i = 0; i < 20_000; i++) {
        const fresh = flip(codes[next() % codes.length], positions(40, next()));
        const id = codes.push(fresh) - 1;
        index.add(fresh, id);
        oracle.add(fresh, id);
      }
    }
    t.equal(index.shape.shards, 5, '80,003 codes in shards of 20,000');
  }
});

t.test('an index too small for tables finds every code to remove or to give another owner', async (t) => {
  // 5,000 codes get tables; removing 4,097 rebuilds over 903, too few for tables: every slot must still be found.
  const { codes } = codesWithPrefix(99, [], 5_000);
  const index = new MultiIndexHashing();
  const oracle = new BruteForceIndex();
  fill(codes, index, oracle);
  for (let i = 0; i < 4_097; i++) {
    index.remove(codes[i], i);
    oracle.remove(codes[i], i);
  }
  t.ok(index.remove(codes[4_500], 4_500), 'a code loaded before the rebuild is removed');
  oracle.remove(codes[4_500], 4_500);
  t.same(index.search(codes[4_500], 0), [], 'and is gone');
  index.add(codes[4_600], 99_999);
  oracle.add(codes[4_600], 99_999);
  t.equal(index.size, oracle.size, 'a second owner of a loaded code is one entry more');
  t.ok(sameHits(index, oracle, codes[4_600], 0));
  t.same(index.shape, { shards: 1, tableCount: 0, substringBits: 0, indexedCodes: 0, deltaCodes: 904 }, 'compacted to the 903 live codes, then one more, without tables');
});

t.test('shards: a bulk load fills them in turn, tables are built a table at a time, and removals compact each on its own', async (t) => {
  // Each shard a bulk load fills gets its tables at once (the writer builds while the loader reads on); the last is left to build a table at a time.
  const { next, codes } = codesWithPrefix(777, [], 30_000);
  const owners = codes.map((_, i) => i + 1);
  const index = new MultiIndexHashing({ shardCapacity: 8_000 });
  index.load(packCodes(codes), owners);
  const m = tableCountFor(8_000);
  t.same(index.shape, { shards: 4, tableCount: m, substringBits: Math.floor(256 / m), indexedCodes: 24_000, deltaCodes: 6_000 }, 'the last shard not built: searches scan it');
  const oracle = new BruteForceIndex();
  oracle.addMany(packCodes(codes), owners);
  const query = () => flip(codes[next() % codes.length], positions(next() % 40, next()));
  t.ok(sameHits(index, oracle, query(), 31), 'exact before the tables are built');
  const tables = index.prepareBuilds();
  t.same(tables, Array.from({ length: tableCountFor(6_000) }, (_, table) => ({ shard: 3, table })), 'tables for its own size');
  for (const { shard, table } of tables.reverse()) index.buildTable(shard, table);
  index.finishLoad();
  t.same(index.shape, { shards: 4, tableCount: tableCountFor(6_000), substringBits: Math.floor(256 / tableCountFor(6_000)), indexedCodes: 30_000, deltaCodes: 0 });
  for (const radius of [0, 31, 64]) for (let k = 0; k < 5; k++) t.ok(sameHits(index, oracle, query(), radius), `built, radius ${radius}`);
  // Most of the second shard goes: it is compacted (to 3,903 codes, too few for tables), the others keep their slots and tables.
  for (let i = 8_000; i < 13_000; i++) {
    t.ok(index.remove(codes[i], owners[i]) && oracle.remove(codes[i], owners[i]));
  }
  t.same([index.shape.indexedCodes, index.shape.deltaCodes], [22_000, 3_903], 'the second shard compacted once, when 4,097 were dead');
  for (const radius of [0, 31]) for (let k = 0; k < 5; k++) t.ok(sameHits(index, oracle, query(), radius), `after compaction, radius ${radius}`);
  t.notOk(index.remove(codes[9_000], owners[9_000]), 'a removed entry stays removed');
  t.equal(index.size, 25_000);
});

t.test('a full-size shard whose tables lie past 2 GiB: found, verified in JS, removed, saved and restored exactly', async (t) => {
  // 32 tables over 3.2M codes in a shard of the full capacity: the last tables' entries and every table's offsets lie past 2^31.
  const { randomCode, codes } = codesWithPrefix(4242, [], 3_200_000);
  const query = randomCode();
  // Found only through table 31 (its byte 31 equal, one bit off in each other byte), in a bucket of 70,000: verified in JS, past 2 GiB.
  const lastTableOnly = flip(query, Array.from({ length: 31 }, (_, byte) => byte * 8 + (byte % 8)));
  for (let i = 0; i < 70_000; i++) {
    const code = randomCode();
    code[31] = query[31];
    codes.push(code);
  }
  codes.push(Uint8Array.from(lastTableOnly), query);
  const owners = codes.map((_, i) => i + 1);
  const bytes = packCodes(codes);
  const index = new MultiIndexHashing({ tableCount: 32, scanWhenCheaper: false });
  index.load(bytes, owners);
  for (const { shard, table } of index.prepareBuilds()) index.buildTable(shard, table);
  index.finishLoad();
  const saved = index.saved();
  t.ok(Math.max(...saved.shards[0].ranges.map(([at]) => at)) > 2 ** 31, 'tables past 2 GiB');
  // The brute force, written out: BruteForceIndex checks each add against the others, too slow for 3.27M codes.
  const removed = new Set<number>();
  const truth = () => {
    const hits: RangeHit[] = [];
    for (let i = 0; i < owners.length; i++) {
      const distance = hammingDistance(bytes.subarray(i * 32, i * 32 + 32), query);
      if (distance <= 31 && !removed.has(owners[i])) hits.push({ owner: owners[i], distance });
    }
    return sorted(hits);
  };
  const expected = truth();
  t.ok(expected.length >= 2, `${expected.length} codes within 31 bits`);
  t.same(sorted(index.search(query, 31)), expected, 'exact, with a match only the last table finds');
  t.ok(index.search(query, 31).some((hit) => hit.owner === owners.length - 1), 'the last table found it');

  // Restored from the saved ranges into another index of the same shape, it answers alike.
  const [shard] = saved.shards;
  const memory = index.restoredShardMemory(shard.memoryBytes, (into) => {
    for (const [at, length] of shard.ranges) into.set(new Uint8Array(shard.memory.buffer, at, length), at);
  });
  const restored = new MultiIndexHashing({ tableCount: 32, scanWhenCheaper: false });
  restored.restore([memory], saved.maxOwner);
  restored.finishLoad();
  t.same(sorted(restored.search(query, 31)), expected, 'restored: exact');

  for (const target of [index, restored]) {
    t.ok(target.remove(query, owners.length), 'an entry of a table past 2 GiB is found to remove');
    t.notOk(target.search(query, 0).some((hit) => hit.owner === owners.length), 'and is gone');
  }
  removed.add(owners.length);
  const after = truth();
  t.same(sorted(index.search(query, 31)), after, 'exact after the removal');
  t.same(sorted(restored.search(query, 31)), after, 'restored: exact after the removal');
});

t.test('a thread attached to the index searches the same shared memory, and sees each write once it is made', async (t) => {
  const index = new MultiIndexHashing({ shardCapacity: 5_000 });
  const { next, codes } = codesWithPrefix(31337, [], 6_000);
  index.addMany(packCodes(codes), codes.map((_, i) => i));
  const news: SharedMemory[] = [];
  index.onShardCreated = (memory) => news.push(memory);
  const reader = MultiIndexHashing.attach(index.handle, 1);
  reader.onShardsBehind = () => {
    for (const memory of news.splice(0)) reader.attachShard(memory);
  };
  const oracle = new BruteForceIndex();
  oracle.addMany(packCodes(codes), codes.map((_, i) => i));
  const query = () => flip(codes[next() % codes.length], positions(next() % 40, next()));
  for (let k = 0; k < 5; k++) t.ok(sameHits(reader, oracle, query(), 31));
  t.throws(() => reader.add(codes[0], 99), /only the thread that made the index writes to it/);
  // A write that makes a new shard: the reader learns of it when it next searches.
  for (let i = 0; i < 5_000; i++) {
    const c = flip(codes[i], positions(5, i));
    index.add(c, 10_000 + i);
    oracle.add(c, 10_000 + i);
  }
  t.equal(index.shape.shards, 3);
  const fresh = flip(codes[1], positions(5, 1));
  t.same(reader.search(fresh, 0), [{ owner: 10_001, distance: 0 }], 'an entry in the newest shard');
  index.remove(fresh, 10_001);
  oracle.remove(fresh, 10_001);
  t.same(reader.search(fresh, 0), [], 'and its removal');
  for (let k = 0; k < 5; k++) t.ok(sameHits(reader, oracle, query(), 31));
  t.equal(reader.size, index.size);
});

t.test('a batch of many queries (searched a few thousand at a time), with a delta and removals, answers each as a search alone does', async (t) => {
  const { next, randomCode, codes } = codesWithPrefix(4242, [], 6_000);
  for (const shardCapacity of [undefined, 2_500]) {
    const index = new MultiIndexHashing({ scanWhenCheaper: false, shardCapacity });
    const oracle = new BruteForceIndex();
    fill(codes, index, oracle);
    index.rebuild();
    // A delta of codes added since the tables were built, and removals the tables still hold.
    const stored = [...codes];
    for (let i = 0; i < 300; i++) {
      const c = randomCode();
      index.add(c, stored.length);
      oracle.add(c, stored.length);
      stored.push(c);
    }
    for (let owner = 0; owner < 600; owner += 3) {
      index.remove(codes[owner], owner);
      oracle.remove(codes[owner], owner);
    }
    t.ok(index.shape.deltaCodes > 0, 'a delta is scanned beside the tables');
    // More queries than a shard searches under one hold of the lock, and than one batch of a shard takes (65,536).
    const queries = Array.from({ length: 70_000 }, (_, i) => (i % 2 === 0 ? flip(stored[next() % stored.length], positions(next() % 36, next())) : randomCode()));
    const batch = index.searchBatch(packCodes(queries), 31);
    t.equal(batch.length, queries.length);
    let found = 0;
    const wrong = queries.filter((query, i) => {
      found += batch[i].length;
      return JSON.stringify(sorted(batch[i])) !== JSON.stringify(sorted(oracle.search(query, 31)));
    });
    t.equal(wrong.length, 0, `every query answered as brute force, shard capacity ${shardCapacity ?? 'default'}`);
    t.ok(found > 10_000, `the batch found what is near its queries (${found} hits)`);
    t.ok(sameBatchHits(index, oracle, queries.slice(0, 500), 31), 'in the order of a search alone');
  }
  t.same(new MultiIndexHashing().searchBatch(new Uint8Array(0), 31), [], 'an empty batch');
});

t.test('rejects malformed input', async (t) => {
  const index = new MultiIndexHashing();
  t.throws(() => index.add(new Uint8Array(31), 1));
  t.throws(() => index.add(new Uint8Array(32), -1));
  t.throws(() => index.search(new Uint8Array(32), 257));
  t.throws(() => index.searchBatch(new Uint8Array(48), 31), /whole 32-byte codes/);
  t.throws(() => index.searchBatch(new Uint8Array(64), -1));
  t.throws(() => index.addMany(new Uint8Array(64), [1]));
  t.throws(() => new MultiIndexHashing({ tableCount: 4 }));
});
