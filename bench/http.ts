/**
 * bench/http: the HTTP service under autocannon, holding N realistic PDQ
 * hashes (default 1M): hash-only match (POST /v1/match with JSON signals) and
 * image match (a 1280 px JPEG, multipart, ngo key), each next to the trivial
 * route /healthz measured in the same run. Hash match and /healthz run in
 * alternating slices (5 of each), so load from outside (these are shared
 * 2-core machines) falls on both alike; the image match runs on its own.
 * Target: hash-only match at >= 50% of the trivial route's requests/s.
 *
 *   npm run bench:http [-- --quick] [-- --n N] [-- --synchronous NORMAL]
 *
 * The server runs in a child process (this file with --serve), so autocannon
 * and the service do not share an event loop. The store is filled through
 * SqliteStore.addContent, one content item per hash, with codes grown as
 * bench/index.ts's `realistic` set is: a random recursive tree of swap-edits
 * from real photographs' PDQ hashes (fixtures/photo-pdq-hashes.tsv). Match
 * queries are near-duplicates (0..31 bits) of indexed codes and held-out
 * photographs' hashes, half and half. Rate limits are raised through the
 * service's own settings; logging is at warn so both routes pay the same.
 * On Linux each figure also gets the CPU per request of the server's event
 * loop, of its other threads (the index worker, GC helpers) and of autocannon,
 * read from /proc around each slice. The last line is one JSON object.
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
import { toHex } from '../src/hashing/hex.js';
import type { NewContentItem } from '../src/store/store.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { ensureDebianPhoto } from './lib/debian-photo.js';
import { loadPhotoHashes, seededCodeTools } from './lib/photo-codes.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};
const quick = args.includes('--quick');
const n = Number(flag('n') ?? 1_000_000);
const SECONDS = quick ? 5 : 15;
/** Hash match and /healthz each run in this many alternating slices of SECONDS / SLICES. */
const SLICES = 5;
/** Overrides the store's SQLite `synchronous` setting in the server, to see what a commit per audited request costs. */
const synchronous = flag('synchronous');
const CONNECTIONS = 16;
const QUERY_COUNT = 1000;
const log = (line: string) => console.error(line);

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

/** Child process: fill a store, start the service on it, report the port and an ngo key on stdout. */
async function serve(dataDir: string): Promise<void> {
  const { codes, queries } = realisticCodes();
  const started = performance.now();
  const store = new SqliteStore(join(dataDir, DATABASE_FILE));
  const bank = store.createBank({ name: 'bench' });
  const platforms = ['telegram', 'x', 'reddit', 'forum'];
  const CHUNK = 20_000;
  for (let from = 0; from < n; from += CHUNK) {
    const items: NewContentItem[] = [];
    for (let i = from; i < Math.min(n, from + CHUNK); i++) {
      items.push({
        provenance: { platform: platforms[i & 3], channel: `group ${i % 5000}`, messageRef: `https://t.me/c/${i % 5000}/${i}`, capturedAt: '2026-01-15T12:00:00Z' },
        signals: [{ type: 'pdq', hash: codes.subarray(i * 32, i * 32 + 32), quality: 100 }],
      });
    }
    store.addContent(bank.id, items);
  }
  store.close();
  const fillSeconds = (performance.now() - started) / 1000;

  const config = loadConfig({
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    ANONYMOUS_REQUESTS_PER_MINUTE: String(1e9),
    KEYED_REQUESTS_PER_MINUTE: String(1e9),
  });
  const loadStart = performance.now();
  const app = await buildApp({ config });
  const loadSeconds = (performance.now() - loadStart) / 1000;
  if (synchronous) app.services.store.db.pragma(`synchronous = ${synchronous}`);
  const { secret } = app.services.keys.create({ name: 'bench ngo', role: 'ngo' });
  const address = await app.listen({ host: config.HOST, port: config.PORT });
  console.log(JSON.stringify({ address, secret, queries, fillSeconds, loadSeconds, indexed: app.services.indexes.size('content', 'pdq') }));
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

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ncii-bench-http-'));
  const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve', dataDir, '--n', String(n), ...(synchronous ? ['--synchronous', synchronous] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const cleanup = () => {
    child.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    log(`filling a store with ${n} realistic PDQ hashes and starting the service...`);
    const ready = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    });
    const server = JSON.parse(ready) as { address: string; secret: string; queries: string[]; fillSeconds: number; loadSeconds: number; indexed: number };
    log(`store filled in ${server.fillSeconds.toFixed(1)} s; index of ${server.indexed} loaded in ${server.loadSeconds.toFixed(1)} s; ${SECONDS} s per figure, ${CONNECTIONS} connections; load average ${loadavg()[0].toFixed(2)}`);

    const photo = readFileSync(ensureDebianPhoto({ pkg: 'lomiri-wallpapers-20.04', file: 'usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg' }));
    const jpeg1280 = await sharp(photo).resize(1280, 960, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer();
    const boundary = 'bench-boundary';
    const imageBody = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`),
      jpeg1280,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);

    // One check of each request before timing it: a bench of error responses measures nothing.
    const firstMatch = await fetch(`${server.address}/v1/match`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ signals: [{ type: 'pdq', hash: server.queries[0] }] }) });
    if (firstMatch.status !== 200) throw new Error(`hash match answered ${firstMatch.status}: ${await firstMatch.text()}`);
    const imageHeaders = { authorization: `Bearer ${server.secret}`, 'content-type': `multipart/form-data; boundary=${boundary}` };
    const firstImage = await fetch(`${server.address}/v1/match`, { method: 'POST', headers: imageHeaders, body: imageBody });
    if (firstImage.status !== 200) throw new Error(`image match answered ${firstImage.status}: ${await firstImage.text()}`);
    let matched = 0;
    for (const hash of server.queries.slice(0, 100)) {
      const res = await fetch(`${server.address}/v1/match`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ signals: [{ type: 'pdq', hash }] }) });
      matched += ((await res.json()) as { matches: unknown[] }).matches.length;
    }
    log(`${(matched / 100).toFixed(1)} matches per hash query on average`);

    const trivial = { url: `${server.address}/healthz` };
    const hashMatch = {
      url: `${server.address}/v1/match`,
      requests: server.queries.map((hash) => ({ method: 'POST' as const, path: '/v1/match', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ signals: [{ type: 'pdq', hash }] }) })),
    };
    const imageMatch = { url: `${server.address}/v1/match`, method: 'POST' as const, headers: imageHeaders, body: imageBody };

    await measure('warm-up: hash match', { ...hashMatch, duration: 2 });
    await measure('warm-up: GET /healthz', { ...trivial, duration: 1 });
    const [trivialFigures, match] = await measureInterleaved(child.pid!, [
      { title: 'GET /healthz', options: trivial },
      { title: 'hash match', options: hashMatch },
    ]);
    const image = await measure('image match (1280 px)', { ...imageMatch, connections: 4 });

    const trivialRps = trivialFigures.rps;
    const ratio = Number((match.rps / trivialRps).toFixed(3));
    log(`hash match at ${(ratio * 100).toFixed(0)}% of the trivial route (target >= 50%)`);
    console.log(
      JSON.stringify({
        n: server.indexed,
        mode: quick ? 'quick' : 'full',
        synchronous: synchronous ?? 'store default',
        seconds: SECONDS,
        slices: SLICES,
        connections: CONNECTIONS,
        matchRps: match.rps,
        matchP99Ms: match.p99Ms,
        trivialRps,
        trivialP99Ms: trivialFigures.p99Ms,
        ...(match.cpu && trivialFigures.cpu
          ? {
              matchEventLoopUs: match.cpu.eventLoopUs,
              matchOtherThreadsUs: match.cpu.otherThreadsUs,
              matchLoadGeneratorUs: match.cpu.loadGeneratorUs,
              trivialEventLoopUs: trivialFigures.cpu.eventLoopUs,
              trivialOtherThreadsUs: trivialFigures.cpu.otherThreadsUs,
              trivialLoadGeneratorUs: trivialFigures.cpu.loadGeneratorUs,
            }
          : {}),
        ratio,
        targetMet: ratio >= 0.5,
        imageMatchRps: image.rps,
        imageMatchP99Ms: image.p99Ms,
        imageRatio: Number((image.rps / trivialRps).toFixed(4)),
        matchesPerHashQuery: matched / 100,
        non2xx: match.non2xx + image.non2xx + trivialFigures.non2xx,
        errors: match.errors + image.errors + trivialFigures.errors,
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
