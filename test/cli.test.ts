import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, copyFileSync, writeFileSync, mkdirSync, openSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { hashImage } from '../src/image/hash-image.js';
import { regionSignals } from './helpers/queries.js';
import { BLOCKHASH_DIR, PDQ_DIR, blockhashExpected, pdqDihedralExpected, pdqExpected } from './helpers/fixtures.js';
import { TS_NODE_ARGS } from './helpers/node-args.js';
import { runCli } from './helpers/cli-run.js';


const run = runCli;

const lines = (text: string) => text.trimEnd().split('\n');
const expectedPdq = new Map(pdqExpected().map((r) => [r.file, r]));

t.test('jsonl: exactly the contract fields, reference hashes with --reference', async (t) => {
  const files = ['bridge-1-original.jpg', 'q0122.jpg', 'LA.png'].map((f) => PDQ_DIR + f);
  const r = await run(['hash', '--reference', '--format', 'jsonl', ...files]);
  t.equal(r.code, 0);
  const rows = lines(r.stdout).map((l) => JSON.parse(l));
  t.equal(rows.length, 3);
  for (const [i, row] of rows.entries()) {
    t.same(Object.keys(row), ['file', 'pdq', 'pdqQuality', 'blockhash', 'md5', 'sha256']);
    t.equal(row.file, files[i], 'rows in input order');
    const want = expectedPdq.get(files[i].slice(PDQ_DIR.length))!;
    t.equal(row.pdq, want.hash);
    t.equal(row.pdqQuality, Number(want.quality));
    t.match(row.blockhash, /^[0-9a-f]{64}$/);
    t.match(row.md5, /^[0-9a-f]{32}$/);
    t.match(row.sha256, /^[0-9a-f]{64}$/);
  }
});

t.test('blockhash through the CLI equals the reference C tool', async (t) => {
  const rows = blockhashExpected().filter((r) => r.method === 'precise');
  const r = await run(['hash', '--reference', ...rows.map((row) => BLOCKHASH_DIR + row.file)]);
  t.equal(r.code, 0);
  t.same(lines(r.stdout).map((l) => JSON.parse(l).blockhash), rows.map((row) => row.hash));
});

t.test('--dihedral adds the 8 variants in the reference order', async (t) => {
  const want = pdqDihedralExpected().filter((r) => r.file === 'q0122.jpg').map((r) => r.hash);
  const r = await run(['hash', '--reference', '--dihedral', PDQ_DIR + 'q0122.jpg']);
  const row = JSON.parse(r.stdout);
  t.same(Object.keys(row), ['file', 'pdq', 'pdqQuality', 'blockhash', 'md5', 'sha256', 'pdqDihedral']);
  t.same(row.pdqDihedral, want);
});

t.test('tsv: header, same columns, escaped file names, error column', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const odd = join(dir, 'tab\there.jpg');
  copyFileSync(PDQ_DIR + 'q0122.jpg', odd);
  const r = await run(['hash', '--format', 'tsv', '--dihedral', odd, join(dir, 'missing.png')]);
  t.equal(r.code, 1);
  const [head, ok, bad] = lines(r.stdout).map((l) => l.split('\t'));
  t.same(head, ['file', 'pdq', 'pdqQuality', 'blockhash', 'md5', 'sha256', 'pdqDihedral', 'error']);
  t.equal(ok.length, head.length);
  t.equal(ok[0], odd.replace('\t', '\\t'));
  t.equal(ok[6].split(',').length, 8);
  t.equal(ok[7], '');
  t.equal(bad.length, head.length);
  t.match(bad[7], /^NOT_FOUND: /);
});

t.test('directories are walked; a bad file is reported and the rest still hashed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'sub'));
  copyFileSync(PDQ_DIR + 'q0122.jpg', join(dir, 'a.jpg'));
  writeFileSync(join(dir, 'b.jpg'), 'this is text, renamed to .jpg');
  copyFileSync(PDQ_DIR + 'wee.jpg', join(dir, 'sub', 'c.jpg'));
  writeFileSync(join(dir, '.hidden.jpg'), 'skipped');
  const r = await run(['hash', dir]);
  t.equal(r.code, 1, 'exit 1 when any file failed');
  const rows = lines(r.stdout).map((l) => JSON.parse(l));
  t.same(rows.map((row) => row.file), ['a.jpg', 'b.jpg', join('sub', 'c.jpg')].map((f) => join(dir, f)));
  t.same(rows[1].error, { code: 'UNSUPPORTED_FORMAT', message: rows[1].error.message });
  t.notOk('error' in rows[0]);
  t.notOk('error' in rows[2]);
  t.equal(r.stderr, '', 'no progress bar when stderr is not a terminal');
});

t.test('links to a parent are walked once; devices and pipes are refused, not read', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'sub'));
  copyFileSync(PDQ_DIR + 'wee.jpg', join(dir, 'sub', 'a.jpg'));
  symlinkSync('..', join(dir, 'sub', 'up'));
  symlinkSync('.', join(dir, 'sub', 'here'));
  symlinkSync('/dev/zero', join(dir, 'sub', 'zero.jpg'));
  spawnSync('mkfifo', [join(dir, 'sub', 'pipe.jpg')]);
  const r = await run(['hash', dir]);
  const rows = lines(r.stdout).map((l) => JSON.parse(l));
  t.same(
    rows.map((row) => [row.file, row.error?.message ?? 'hashed']),
    [
      [join(dir, 'sub', 'a.jpg'), 'hashed'],
      [join(dir, 'sub', 'pipe.jpg'), 'Not a regular file.'],
      [join(dir, 'sub', 'zero.jpg'), 'Not a regular file.'],
    ],
    'each file once (the links lead back to walked directories), and no endless read or wait',
  );
  t.equal(r.code, 1);
});

t.test('low quality is flagged on stderr, the hash still printed', async (t) => {
  const r = await run(['hash', PDQ_DIR + 'small.jpg']);
  t.equal(r.code, 0);
  t.equal(JSON.parse(r.stdout).pdqQuality, 0);
  t.match(r.stderr, /quality 0 is under 50/);
});

t.test('progress bar on a terminal', async (t) => {
  const r = await run(['hash', PDQ_DIR + 'q0122.jpg', PDQ_DIR + 'wee.jpg'], { tty: true });
  t.equal(r.code, 0);
  t.match(r.stderr, /hashing \[.*\] 2\/2 files/);
});

t.test('limits and usage errors', async (t) => {
  const big = await run(['hash', '--max-bytes', '1000', PDQ_DIR + 'bridge-1-original.jpg']);
  t.equal(big.code, 1);
  t.equal(JSON.parse(big.stdout).error.code, 'IMAGE_TOO_LARGE');
  const pixels = await run(['hash', '--max-pixels', '1000', PDQ_DIR + 'q0122.jpg']);
  t.equal(JSON.parse(pixels.stdout).error.code, 'IMAGE_TOO_LARGE');
  for (const argv of [['hash'], ['hash', '--format', 'csv', 'x'], ['hash', '--bogus', 'x'], ['hash', '--max-bytes', '-5', 'x'], ['frobnicate']]) {
    const r = await run(argv);
    t.equal(r.code, 2, `usage error: ${argv.join(' ')}`);
    t.match(r.stderr, /ncii-match/);
    t.equal(r.stdout, '');
  }
  t.equal((await run(['hash', '--help'])).code, 0);
  t.match((await run(['--help'])).stdout, /Commands:/);
});

t.test('the real executable: exit codes and output through a process', async (t) => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [...TS_NODE_ARGS, 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });
  const ok = cli(['hash', '--reference', PDQ_DIR + 'rgb.jpeg']);
  t.equal(ok.status, 0, ok.stderr);
  t.equal(JSON.parse(ok.stdout).pdq, expectedPdq.get('rgb.jpeg')!.hash);
  const failed = cli(['hash', PDQ_DIR + 'rgb.jpeg', PDQ_DIR + 'no-such-file.jpg']);
  t.equal(failed.status, 1);
  t.equal(lines(failed.stdout).length, 2);
  t.equal(cli(['hash', '--format']).status, 2);
  // Output that cannot be written (a full disk): one line and exit 1, not a stack trace.
  const full = openSync('/dev/full', 'w');
  const noSpace = spawnSync(process.execPath, [...TS_NODE_ARGS, 'src/cli/main.ts', 'hash', PDQ_DIR + 'rgb.jpeg'], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', full, 'pipe'] });
  closeSync(full);
  t.equal(noSpace.status, 1);
  t.equal(noSpace.stderr, 'ncii-match: cannot write the output: ENOSPC: no space left on device, write\n');

  // As npm installs it: a link to the entry point, named ncii-match.
  const bin = mkdtempSync(join(tmpdir(), 'ncii-bin-'));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  symlinkSync(join(process.cwd(), 'src/cli/main.ts'), join(bin, 'ncii-match'));
  const linked = spawnSync(process.execPath, [...TS_NODE_ARGS, join(bin, 'ncii-match'), 'hash', '--reference', PDQ_DIR + 'rgb.jpeg'], { encoding: 'utf8', timeout: 60_000 });
  t.equal(linked.status, 0, linked.stderr);
  t.equal(JSON.parse(linked.stdout).pdq, expectedPdq.get('rgb.jpeg')!.hash, 'run through the link, it hashes (it printed nothing and exited 0)');
});

t.test('match: hashes on this machine, only hashes sent; robust finds a crop, pdq mode does not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-cli-match-'));
  // Load shedding would answer 503 to the test's own requests on a busy machine; it has tests of its own.
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dir, ANONYMOUS_REQUESTS_PER_MINUTE: '100000', MAX_EVENT_LOOP_DELAY_MS: '600000' }), logger: false });
  const bodies: string[] = [];
  app.addHook('preHandler', async (request) => {
    bodies.push(request.headers['content-type'] ?? '');
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const original = readFileSync(PDQ_DIR + 'q0122.jpg');
  const { width, height } = await sharp(original).metadata();
  const crop = await sharp(original)
    .extract({ left: Math.round(width! * 0.15), top: Math.round(height! * 0.15), width: Math.round(width! * 0.7), height: Math.round(height! * 0.7) })
    .jpeg()
    .toBuffer();
  const bank = app.services.store.createBank({ name: 'captures' });
  const hashed = await hashImage(crop, { regions: 'content' });
  const [cropId] = app.services.store.addContent(bank.id, [
    { provenance: { platform: 'telegram', channel: 'Leaks' }, signals: [{ type: 'pdq', hash: hashed.pdq!.hash }, ...regionSignals(hashed)] },
  ]).contentIds;

  const robust = await run(['match', '--url', url, PDQ_DIR + 'q0122.jpg', PDQ_DIR + 'bridge-1-original.jpg']);
  t.equal(robust.code, 0, robust.stderr);
  const rows = lines(robust.stdout).map((l) => JSON.parse(l));
  t.equal(rows[0].file, PDQ_DIR + 'q0122.jpg');
  t.match(rows[0].matches, [{ contentId: cropId, signalType: 'pdq-region', via: 'region', provenance: { group: 'Leaks' } }]);
  t.same(rows[1].matches, [], 'an unrelated photo finds nothing');
  t.ok(bodies.every((type) => type.startsWith('application/json')), 'only JSON hash lists reached the service, never an image');

  const strict = await run(['match', '--mode', 'pdq', '--url', url, PDQ_DIR + 'q0122.jpg']);
  t.equal(strict.code, 0);
  t.same(JSON.parse(strict.stdout).matches, [], 'whole-image PDQ misses the crop');

  const broken = await run(['match', '--url', url, PDQ_DIR + 'does-not-exist.jpg']);
  t.equal(broken.code, 1);
  t.equal(JSON.parse(broken.stdout).error.code, 'NOT_FOUND');
  const down = await run(['match', '--url', 'http://127.0.0.1:9', PDQ_DIR + 'q0122.jpg']);
  t.equal(down.code, 1);
  t.equal(JSON.parse(down.stdout).error.code, 'UNREACHABLE');
  t.equal((await run(['match', '--mode', 'fuzzy', PDQ_DIR + 'q0122.jpg'])).code, 2);
  t.equal((await run(['match', '--banks', 'all', PDQ_DIR + 'q0122.jpg'])).code, 2);
  t.match(JSON.parse(down.stdout).error.message, /^Could not reach http:\/\/127\.0\.0\.1:9: (bad port|ECONNREFUSED)$/, 'why it could not reach the service, not just "fetch failed"');
  for (const threshold of ['', ' ', '0x1f', '1e1']) t.equal((await run(['match', '--threshold', threshold, PDQ_DIR + 'q0122.jpg'])).code, 2, `--threshold "${threshold}"`);
  for (const bytes of ['', '0x10', '1e3']) t.equal((await run(['hash', '--max-bytes', bytes, PDQ_DIR + 'q0122.jpg'])).code, 2, `--max-bytes "${bytes}"`);
});
