/**
 * bench/http: the HTTP service as it is used, against a store of N captured
 * items (default 1M; 100k with --quick):
 *
 * - the store: a few hundred captured images (real photographs, cropped,
 *   mirrored and re-encoded) ingested through the service, so their items
 *   keep the region hashes content keeps; the rest of the N items added to
 *   the SQLite file in bulk, each with one PDQ code and as many region codes
 *   as an ingested image keeps on average, grown by swap-edits from real
 *   photographs' hashes (fixtures/photo-pdq-hashes.tsv), so codes keep
 *   photos' bit statistics without being near copies of the query photos;
 * - image lookups: a 1280 px JPEG, POST /v1/match multipart with an ngo key,
 *   default (robust) mode, one at a time: median and p99, each after a GET
 *   /healthz timed the same way (the baseline), and where the time goes from
 *   the Server-Timing header (SERVER_TIMING=1): decode, whole-image hashing,
 *   region hashing, searches;
 * - a batch of 10,000 PDQ hashes (POST /v1/batches, JSON): hashes matched per
 *   second from submission to its last result;
 * - hash-only match (JSON signals) against /healthz under autocannon, in
 *   alternating slices (5 of each) so load from outside (these are shared
 *   2-core machines) falls on both alike. Target: hash match at >= 50% of
 *   the trivial route's requests/s. On Linux each also gets the CPU per
 *   request of the server's event loop, read from /proc around each slice.
 *
 *   npm run bench:http [-- --quick] [-- --n N] [-- --synchronous NORMAL]
 *
 * The server runs in a child process (this file with --serve), so the load
 * generator and the service do not share an event loop. Rate limits are
 * raised through the service's own settings; logging is at warn. The last
 * line is one JSON object.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import sharp from 'sharp';
import { buildApp } from '../src/api/app.js';
import { DATABASE_FILE } from '../src/services/services.js';
import { loadConfig } from '../src/config.js';
import { fromHex, toHex } from '../src/hashing/hex.js';
import { REGION_KINDS, type RegionKind } from '../src/hashing/pdq-region.js';
import type { NewContentItem } from '../src/store/store.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { PDQ_DIR } from '../test/helpers/fixtures.js';
import { ensureDebianPhoto } from './lib/debian-photo.js';
import { loadPhotoHashes, seededCodeTools } from './lib/photo-codes.js';
import { kindsOf } from './lib/region-counts.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};
const quick = args.includes('--quick');
const n = Number(flag('n') ?? (quick ? 100_000 : 1_000_000));
const SECONDS = quick ? 5 : 15;
/** Hash match and /healthz each run in this many alternating slices of SECONDS / SLICES. */
const SLICES = 5;
/** Overrides the store's SQLite `synchronous` setting in the server, to see what a commit per audited request costs. */
const synchronous = flag('synchronous');
const CONNECTIONS = 16;
const QUERY_COUNT = 1000;
const log = (line: string) => console.error(line);
const BENCH_PHOTO = { pkg: 'lomiri-wallpapers-20.04', file: 'usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg' };

const { below, flipBits, swapBits } = seededCodeTools(0x2545f491);

/** N codes as a random recursive tree of swap-edits rooted in the fixture photographs, and query hashes. */
function realisticCodes(): { codes: Uint8Array; queries: string[] } {
  const { indexed, heldOut } = loadPhotoHashes();
  const codes = new Uint8Array(n * 32);
  for (let i = 0; i < n; i++) {
    if (i < indexed.length) codes.set(indexed[i], i * 32);
    else {
      const parent = below(i);
      codes.copyWithin(i * 32, parent * 32, parent * 32 + 32);
    }
    swapBits(codes, i * 32, 4 + below(13));
  }
  const queries: string[] = [];
  for (let i = 0; i < QUERY_COUNT / 2; i++) {
    const at = below(n) * 32;
    const planted = codes.slice(at, at + 32);
    flipBits(planted, 0, i % 32);
    queries.push(toHex(planted));
    const unrelated = heldOut[below(heldOut.length)].slice();
    swapBits(unrelated, 0, below(9));
    queries.push(toHex(unrelated));
  }
  return { codes, queries };
}

/** Images of real photographs, each a few ways (crops, a mirror, re-encodings): captured content as a takedown team ingests it. */
async function capturedImages(count: number): Promise<{ name: string; bytes: Buffer }[]> {
  const sources = [
    ensureDebianPhoto(BENCH_PHOTO),
    ...readdirSync(PDQ_DIR).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort().map((f) => join(PDQ_DIR, f)),
  ];
  const images: { name: string; bytes: Buffer }[] = [];
  for (let i = 0; images.length < count; i++) {
    const source = sources[i % sources.length];
    const variant = Math.floor(i / sources.length);
    const image = sharp(await sharp(readFileSync(source)).rotate().toBuffer());
    const { width = 1, height = 1 } = await image.metadata();
    // Variant 0 is the photo as posted; later ones cut a different margin off each edge, every other one mirrored.
    const cut = (side: number, k: number) => Math.floor(side * 0.02 * ((variant * (k + 3)) % 7));
    const left = cut(width, 0);
    const top = cut(height, 1);
    const cropped = image.extract({ left, top, width: width - left - cut(width, 2), height: height - top - cut(height, 3) });
    const bytes = await (variant % 2 === 1 ? cropped.flop() : cropped).resize({ width: 1280, withoutEnlargement: true }).jpeg({ quality: 70 + (variant % 4) * 7 }).toBuffer();
    images.push({ name: `${variant}-${source.split('/').pop()}`, bytes });
  }
  return images;
}

/**
 * Ingests `count` captured images through the service (so each item keeps
 * the region hashes content keeps) and returns their stored hashes by type.
 */
async function ingestImages(dataDir: string, count: number): Promise<{ pdq: Uint8Array[]; regions: Uint8Array[]; kinds: Record<RegionKind, number>; items: number }> {
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn' }), loadIndexes: false, logger: false });
  const bank = app.services.banks.create({ name: 'captured images' });
  const pdq: Uint8Array[] = [];
  const regions: Uint8Array[] = [];
  const kinds = Object.fromEntries(REGION_KINDS.map((kind) => [kind, 0])) as Record<RegionKind, number>;
  for (const { name, bytes } of await capturedImages(count)) {
    const [added] = await app.services.banks.addImages(bank.id, [{ filename: name, bytes }], { platform: 'telegram', group: 'captured', capturedAt: '2026-01-15T12:00:00Z' });
    for (const signal of added.signals) {
      if (signal.type === 'pdq') pdq.push(fromHex(signal.hash, 256));
      if (signal.type === 'pdq-region') regions.push(fromHex(signal.hash, 256));
      if (signal.region) kinds[signal.region]++;
    }
  }
  await app.close();
  return { pdq, regions, kinds, items: count };
}

/**
 * Adds `count` synthetic items straight to the store, each with one PDQ code
 * (`codes`) and a region code of each of `regionKinds` grown by swap-edits
 * from `regionRoots` (so they keep photos' bit statistics), as many and of
 * the kinds an ingested image keeps on average.
 */
function addSyntheticItems(store: SqliteStore, bankId: number, codes: Uint8Array, count: number, regionRoots: Uint8Array[], regionKinds: RegionKind[]): void {
  const regionsPerItem = regionKinds.length;
  const { below, swapBits } = seededCodeTools(0x6a09e667);
  const platforms = ['telegram', 'x', 'reddit', 'forum'];
  const CHUNK = 10_000;
  const grown = new Uint8Array(CHUNK * regionsPerItem * 32);
  for (let from = 0; from < count; from += CHUNK) {
    const items: NewContentItem[] = [];
    for (let i = from; i < Math.min(count, from + CHUNK); i++) {
      const signals: NewContentItem['signals'] = [{ type: 'pdq', hash: codes.subarray(i * 32, i * 32 + 32), quality: 100 }];
      for (let r = 0; r < regionsPerItem; r++) {
        const at = ((i - from) * regionsPerItem + r) * 32;
        // Half grow from a real region code, half from a code grown earlier in this chunk: clusters, as reposts make.
        const earlier = below(Math.max(1, at / 32)) * 32;
        const parent = at > 0 && below(2) === 1 ? grown.subarray(earlier, earlier + 32) : regionRoots[below(regionRoots.length)];
        grown.set(parent, at);
        swapBits(grown, at, 4 + below(13));
        signals.push({ type: 'pdq-region', hash: grown.slice(at, at + 32), region: regionKinds[r] });
      }
      items.push({ provenance: { platform: platforms[i & 3], channel: `group ${i % 5000}`, messageRef: `https://t.me/c/${i % 5000}/${i}`, capturedAt: '2026-01-15T12:00:00Z' }, signals });
    }
    store.addContent(bankId, items);
  }
}

/** Child process: fill a store (images through the service, the rest in bulk), start the service on it, report the port and an ngo key on stdout. */
async function serve(dataDir: string): Promise<void> {
  const started = performance.now();
  const real = await ingestImages(dataDir, quick ? 40 : 400);
  const ingestSeconds = (performance.now() - started) / 1000;
  const regionsPerItem = Math.round(real.regions.length / real.items);
  const { codes, queries } = realisticCodes();
  const store = new SqliteStore(join(dataDir, DATABASE_FILE));
  // Grown from other photographs' hashes: grown from the ingested images' own regions, they would be near copies of the query photo's.
  addSyntheticItems(store, store.createBank({ name: 'bench' }).id, codes, n - real.items, loadPhotoHashes().heldOut, kindsOf(real.kinds, regionsPerItem));
  store.close();
  const fillSeconds = (performance.now() - started) / 1000;

  const config = loadConfig({
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    ANONYMOUS_REQUESTS_PER_MINUTE: String(1e9),
    KEYED_REQUESTS_PER_MINUTE: String(1e9),
    SERVER_TIMING: '1',
  });
  const loadStart = performance.now();
  const app = await buildApp({ config });
  const loadSeconds = (performance.now() - loadStart) / 1000;
  if (synchronous) app.services.store.db.pragma(`synchronous = ${synchronous}`);
  const { secret } = app.services.keys.create({ name: 'bench ngo', role: 'ngo' });
  const address = await app.listen({ host: config.HOST, port: config.PORT });
  const indexed = { items: n, pdq: app.services.indexes.size('content', 'pdq'), regionCodes: app.services.indexes.size('content', 'pdq-region'), imageItems: real.items, regionsPerImageItem: regionsPerItem };
  console.log(JSON.stringify({ address, secret, queries, ingestSeconds, fillSeconds, loadSeconds, indexed }));
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
}

/** The part of autocannon's API used here (it ships no types). */
interface LoadOptions {
  url: string;
  connections?: number;
  duration?: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Sent in turn on each connection, round and round. */
  requests?: { method: 'POST'; path: string; headers: Record<string, string>; body: string }[];
  /** Return the raw result, for `aggregateResult` to merge with other slices. */
  skipAggregateResult?: boolean;
}
interface LoadResult {
  requests: { average: number };
  latency: { p99: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
/** What a run with `skipAggregateResult` returns (the fields used here). */
interface RawLoadResult {
  totalCompletedRequests: number;
  duration: number;
}
const autocannon = createRequire(import.meta.url)('autocannon') as {
  (options: LoadOptions & { skipAggregateResult: true }): Promise<RawLoadResult>;
  (options: LoadOptions): Promise<LoadResult>;
  aggregateResult(results: RawLoadResult[], options: { url: string; connections: number }): LoadResult;
};

interface Figures {
  rps: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  /** CPU per request (µs, user + system) of the server's event loop, its other threads (index worker, GC, libuv) and autocannon; Linux only. */
  cpu?: CpuPerRequest;
}

interface CpuPerRequest {
  eventLoopUs: number;
  otherThreadsUs: number;
  loadGeneratorUs: number;
}

/** CPU time (µs) so far of each thread of process `pid`, from /proc; the event loop's thread id is the pid. Empty where /proc is missing. */
function threadCpu(pid: number): Map<string, number> {
  const ticks = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return ticks;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime, in clock ticks of 10 ms.
      ticks.set(tid, (Number(fields[11]) + Number(fields[12])) * 10_000);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ticks;
}

function report(title: string, figures: Figures): Figures {
  log(`${title.padEnd(22)} ${String(figures.rps).padStart(7)} req/s  p99 ${figures.p99Ms} ms${figures.non2xx || figures.errors ? `  (${figures.non2xx} non-2xx, ${figures.errors} errors)` : ''}`);
  return figures;
}

async function measure(title: string, options: LoadOptions): Promise<Figures> {
  const result = await autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options });
  return report(title, { rps: Math.round(result.requests.average), p99Ms: result.latency.p99, non2xx: result.non2xx, errors: result.errors + result.timeouts });
}

/**
 * Each load for SECONDS in all, in SLICES alternating slices (ABBA order, so
 * neither always goes first); requests/s over the slices' summed durations,
 * p99 over all their latencies.
 */
async function measureInterleaved(serverPid: number, loads: { title: string; options: LoadOptions & { url: string } }[]): Promise<Figures[]> {
  const raw: RawLoadResult[][] = loads.map(() => []);
  const cpu = loads.map(() => ({ eventLoop: 0, others: 0, loadGenerator: 0 }));
  for (let slice = 0; slice < SLICES; slice++) {
    const order = slice % 2 === 0 ? loads.map((_, i) => i) : loads.map((_, i) => loads.length - 1 - i);
    for (const i of order) {
      const before = threadCpu(serverPid);
      const ownBefore = process.cpuUsage();
      raw[i].push(await autocannon({ connections: CONNECTIONS, duration: SECONDS / SLICES, ...loads[i].options, skipAggregateResult: true }));
      const own = process.cpuUsage(ownBefore);
      cpu[i].loadGenerator += own.user + own.system;
      for (const [tid, after] of threadCpu(serverPid)) {
        const used = after - (before.get(tid) ?? 0);
        if (tid === String(serverPid)) cpu[i].eventLoop += used;
        else cpu[i].others += used;
      }
    }
  }
  return loads.map(({ title, options }, i) => {
    const merged = autocannon.aggregateResult(raw[i], { url: options.url, connections: CONNECTIONS });
    const requests = raw[i].reduce((sum, r) => sum + r.totalCompletedRequests, 0);
    const seconds = raw[i].reduce((sum, r) => sum + r.duration, 0);
    const per = (us: number) => Math.round(us / requests);
    const threads = cpu[i].eventLoop > 0 ? { eventLoopUs: per(cpu[i].eventLoop), otherThreadsUs: per(cpu[i].others), loadGeneratorUs: per(cpu[i].loadGenerator) } : undefined;
    if (threads) log(`${title.padEnd(22)} CPU per request: event loop ${threads.eventLoopUs} µs, other server threads ${threads.otherThreadsUs} µs, autocannon ${threads.loadGeneratorUs} µs`);
    return report(title, { rps: Math.round(requests / seconds), p99Ms: merged.latency.p99, non2xx: merged.non2xx, errors: merged.errors + merged.timeouts, cpu: threads });
  });
}

interface ServerReady {
  address: string;
  secret: string;
  queries: string[];
  ingestSeconds: number;
  fillSeconds: number;
  loadSeconds: number;
  indexed: { items: number; pdq: number; regionCodes: number; imageItems: number; regionsPerImageItem: number };
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const ms = (x: number) => Math.round(x * 10) / 10;

/** A multipart body with one image in the field `image`. */
function imageForm(jpeg: Buffer): { body: Buffer; contentType: string } {
  const boundary = 'bench-boundary';
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
    jpeg,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

/**
 * Image lookups one at a time (a victim's photo, 1280 px JPEG, default mode),
 * each after a GET /healthz timed the same way, so both see the same load.
 * Where the lookup's time goes comes from its Server-Timing header.
 */
async function imageLookups(server: ServerReady, count: number) {
  const photo = readFileSync(ensureDebianPhoto(BENCH_PHOTO));
  const jpegs = [
    await sharp(photo).resize(1280, 960, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer(),
    ...(await Promise.all(['bridge-1-original.jpg', 'LA.png'].map((f) => sharp(join(PDQ_DIR, f)).resize({ width: 1280 }).jpeg({ quality: 85 }).toBuffer()))),
  ];
  const lookups: number[] = [];
  const health: number[] = [];
  const phases = new Map<string, number[]>();
  let matches = 0;
  for (let i = -1; i < count; i++) {
    const { body, contentType } = imageForm(jpegs[Math.max(0, i) % jpegs.length]);
    const h0 = performance.now();
    await (await fetch(`${server.address}/healthz`)).text();
    const t0 = performance.now();
    const res = await fetch(`${server.address}/v1/match`, { method: 'POST', headers: { authorization: `Bearer ${server.secret}`, 'content-type': contentType }, body });
    const answer = (await res.json()) as { matches?: unknown[] };
    const t1 = performance.now();
    if (res.status !== 200) throw new Error(`image match answered ${res.status}: ${JSON.stringify(answer)}`);
    // The first lookup warms up (JIT, caches): not counted.
    if (i < 0) continue;
    health.push(t0 - h0);
    lookups.push(t1 - t0);
    matches += answer.matches!.length;
    for (const entry of (res.headers.get('server-timing') ?? '').split(', ')) {
      const [name, dur] = entry.split(';dur=');
      phases.set(name, [...(phases.get(name) ?? []), Number(dur)]);
    }
  }
  const phaseMedians = Object.fromEntries([...phases].map(([name, xs]) => [name, ms(percentile(xs, 0.5))]));
  return { lookups, health, phaseMedians, matchesPerLookup: matches / count };
}

/** A batch of `count` PDQ hashes (half near copies of stored codes, half unrelated photos'), from submission to its last result. */
async function batchFigure(server: ServerReady, count: number) {
  const signals = Array.from({ length: count }, (_, i) => ({ type: 'pdq', hash: server.queries[i % server.queries.length] }));
  const headers = { authorization: `Bearer ${server.secret}`, 'content-type': 'application/json' };
  const started = performance.now();
  const created = await fetch(`${server.address}/v1/batches`, { method: 'POST', headers, body: JSON.stringify({ signals }) });
  if (created.status !== 202) throw new Error(`batch answered ${created.status}: ${await created.text()}`);
  const { batchId } = (await created.json()) as { batchId: string };
  for (;;) {
    const res = await fetch(`${server.address}/v1/batches/${batchId}?limit=1`, { headers });
    const batch = (await res.json()) as { status: string; progress: { done: number; total: number } };
    if (batch.status === 'done') break;
    if (res.status !== 200 || batch.status === 'expired') throw new Error(`batch read answered ${res.status}: ${JSON.stringify(batch)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const seconds = (performance.now() - started) / 1000;
  return { hashes: count, seconds: ms(seconds), hashesPerSecond: Math.round(count / seconds) };
}

async function main(): Promise<void> {
  // Fetched here, not in the server process, whose stdout carries its one line to this one.
  ensureDebianPhoto(BENCH_PHOTO);
  const dataDir = mkdtempSync(join(tmpdir(), 'ncii-bench-http-'));
  const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve', dataDir, '--n', String(n), ...(quick ? ['--quick'] : []), ...(synchronous ? ['--synchronous', synchronous] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const cleanup = () => {
    child.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    log(`filling a store with ${n} items (captured images through the service, the rest in bulk) and starting the service...`);
    const ready = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const server = JSON.parse(ready) as ServerReady;
    const { indexed } = server;
    log(
      `${indexed.imageItems} images ingested in ${server.ingestSeconds.toFixed(1)} s (${indexed.regionsPerImageItem} region hashes each on average); store of ${indexed.items} items filled in ${server.fillSeconds.toFixed(1)} s; ` +
        `indexes of ${indexed.pdq} PDQ and ${indexed.regionCodes} region codes loaded in ${server.loadSeconds.toFixed(1)} s; load average ${loadavg()[0].toFixed(2)}`,
    );

    // One check of the hash request before timing it: a bench of error responses measures nothing.
    let matched = 0;
    for (const hash of server.queries.slice(0, 100)) {
      const res = await fetch(`${server.address}/v1/match`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ signals: [{ type: 'pdq', hash }] }) });
      if (res.status !== 200) throw new Error(`hash match answered ${res.status}: ${await res.text()}`);
      matched += ((await res.json()) as { matches: unknown[] }).matches.length;
    }
    log(`${(matched / 100).toFixed(1)} matches per hash query on average`);

    const images = await imageLookups(server, quick ? 10 : 60);
    const image = { medianMs: ms(percentile(images.lookups, 0.5)), p99Ms: ms(percentile(images.lookups, 0.99)) };
    const healthLatency = { medianMs: ms(percentile(images.health, 0.5)), p99Ms: ms(percentile(images.health, 0.99)) };
    log(`image lookup (1280 px JPEG, robust): median ${image.medianMs} ms, p99 ${image.p99Ms} ms; GET /healthz median ${healthLatency.medianMs} ms, p99 ${healthLatency.p99Ms} ms`);
    log(`where an image lookup's time goes (median ms): ${JSON.stringify(images.phaseMedians)}`);

    const batch = await batchFigure(server, 10_000);
    log(`batch of ${batch.hashes} hashes: ${batch.seconds} s from submission to its last result, ${batch.hashesPerSecond} hashes/s`);

    const trivial = { url: `${server.address}/healthz` };
    const hashMatch = {
      url: `${server.address}/v1/match`,
      requests: server.queries.map((hash) => ({ method: 'POST' as const, path: '/v1/match', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ signals: [{ type: 'pdq', hash }] }) })),
    };
    await measure('warm-up: hash match', { ...hashMatch, duration: 2 });
    await measure('warm-up: GET /healthz', { ...trivial, duration: 1 });
    log(`${SECONDS} s per figure, ${CONNECTIONS} connections`);
    const [trivialFigures, match] = await measureInterleaved(child.pid!, [
      { title: 'GET /healthz', options: trivial },
      { title: 'hash match', options: hashMatch },
    ]);
    const trivialRps = trivialFigures.rps;
    const ratio = Number((match.rps / trivialRps).toFixed(3));
    log(`hash match at ${(ratio * 100).toFixed(0)}% of the trivial route (target >= 50%)`);
    console.log(
      JSON.stringify({
        n: indexed.items,
        imageItems: indexed.imageItems,
        pdqCodes: indexed.pdq,
        regionCodes: indexed.regionCodes,
        mode: quick ? 'quick' : 'full',
        synchronous: synchronous ?? 'store default',
        imageLookups: images.lookups.length,
        imageMedianMs: image.medianMs,
        imageP99Ms: image.p99Ms,
        healthMedianMs: healthLatency.medianMs,
        healthP99Ms: healthLatency.p99Ms,
        imageOverHealthMedian: Math.round(image.medianMs / healthLatency.medianMs),
        imagePhasesMedianMs: images.phaseMedians,
        imageTargetMet: image.medianMs <= 40,
        matchesPerImageLookup: images.matchesPerLookup,
        batchHashes: batch.hashes,
        batchSeconds: batch.seconds,
        batchHashesPerSecond: batch.hashesPerSecond,
        seconds: SECONDS,
        slices: SLICES,
        connections: CONNECTIONS,
        matchRps: match.rps,
        matchP99Ms: match.p99Ms,
        trivialRps,
        trivialP99Ms: trivialFigures.p99Ms,
        ...(match.cpu && trivialFigures.cpu ? { matchEventLoopUs: match.cpu.eventLoopUs, trivialEventLoopUs: trivialFigures.cpu.eventLoopUs } : {}),
        ratio,
        targetMet: ratio >= 0.5,
        matchesPerHashQuery: matched / 100,
        non2xx: match.non2xx + trivialFigures.non2xx,
        errors: match.errors + trivialFigures.errors,
        ingestSeconds: Number(server.ingestSeconds.toFixed(1)),
        fillSeconds: Number(server.fillSeconds.toFixed(1)),
        indexLoadSeconds: Number(server.loadSeconds.toFixed(1)),
        loadAverage: Number(loadavg()[0].toFixed(2)),
      }),
    );
  } finally {
    cleanup();
  }
}

if (args[0] === '--serve') await serve(args[1]);
else await main();
