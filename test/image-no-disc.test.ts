/**
 * No decode makes libvips write pixels to disk, whatever the format, decode
 * path or environment. libvips decodes a format it cannot read sequentially
 * (WebP) into one whole-image buffer, and puts that buffer in an unnamed temp
 * file (open($TMPDIR, O_TMPFILE)) when it is larger than VIPS_DISC_THRESHOLD
 * (100 MB by default). Such a file has no directory entry, so a directory scan
 * (api-no-disk) can never see it.
 *
 * The decodes run in a child process whose environment lowers that threshold
 * to 1 MB, so every test image here (about 2.4 MB decoded) would spill, and
 * points TMPDIR under /dev/null, where nothing can ever be created: a spill
 * then fails the decode. This trap needs no extra tool and has no race (a
 * temp file lives only while its image does, so polling /proc/<pid>/fd could
 * miss it, and inotify reports no event for an O_TMPFILE file). A control run
 * of plain sharp in the same environment must fail, so the trap is known to be
 * armed. Where strace is installed and allowed to trace, the decodes also run
 * under it and no file may be opened for writing (or as O_TMPFILE) between two
 * marker calls; the same control shows that check seeing the spill.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import t from 'tap';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DECODE_URL = new URL('../src/image/decode.ts', import.meta.url).href;
/** Under a regular file, so no directory or file can be made there, by libvips or anyone. */
const TRAP_TMPDIR = '/dev/null/ncii-no-disc';
const MARKER = `/nonexistent/ncii-no-disc-marker-${process.pid}-`;

const W = 1000;
const H = 800;
const pattern = (width: number, height: number, channels: 3 | 4 = 3) => {
  const data = Buffer.alloc(width * height * channels);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + ((i / width) | 0) * 7 + ((i * i) >> 11)) & 255;
  return sharp(data, { raw: { width, height, channels } });
};
const frame = (shade: number) => pattern(W, H).linear(1, shade).png().toBuffer();
const [frameA, frameB] = await Promise.all([frame(0), frame(40)]);

/** One image of every kind the service accepts and sharp can write (HEIC cannot be decoded here at all). */
const images: { label: string; bytes: Buffer }[] = [];
for (const [label, make] of [
  ['jpeg', () => pattern(W, H).jpeg().toBuffer()],
  ['jpeg progressive', () => pattern(W, H).jpeg({ progressive: true }).toBuffer()],
  ['png', () => pattern(W, H).png().toBuffer()],
  ['png interlaced', () => pattern(W, H).png({ progressive: true }).toBuffer()],
  ['png 16-bit with alpha', () => pattern(W, H, 4).toColourspace('rgb16').png().toBuffer()],
  ['webp lossy', () => pattern(W, H).webp().toBuffer()],
  ['webp lossless with alpha', () => pattern(W, H, 4).webp({ lossless: true }).toBuffer()],
  ['webp animated', () => sharp([frameA, frameB], { join: { animated: true } }).webp().toBuffer()],
  ['webp large (fast path shrinks)', () => pattern(2100, 1500).webp().toBuffer()],
  ['gif', () => pattern(W, H).gif().toBuffer()],
  ['gif animated', () => sharp([frameA, frameB], { join: { animated: true } }).gif().toBuffer()],
  ['tiff jpeg', () => pattern(W, H).tiff().toBuffer()],
  ['tiff uncompressed', () => pattern(W, H).tiff({ compression: 'none' }).toBuffer()],
  ['tiff lzw tiled', () => pattern(W, H).tiff({ compression: 'lzw', tile: true }).toBuffer()],
  ['avif', () => pattern(W, H).avif({ effort: 0 }).toBuffer()],
] as const) {
  images.push({ label, bytes: await make() });
}

/** Run in the child: decode every image through decodeForHashing (or, for the control, plain sharp), between two markers. */
const CHILD = `
import { openSync, readFileSync } from 'node:fs';
const { mode, decodeUrl, marker } = JSON.parse(process.env.NCII_NO_DISC_CHILD);
const images = JSON.parse(readFileSync(0, 'utf8')).map(({ label, base64 }) => ({ label, bytes: Buffer.from(base64, 'base64') }));
const mark = (what) => { try { openSync(marker + what, 'r'); } catch {} };
const results = [];
const { default: sharp } = await import('sharp');
if (mode === 'control') {
  sharp.cache(false);
  mark('begin');
  for (const { label, bytes } of images) {
    try { await sharp(bytes).raw().toBuffer(); results.push({ label, ok: true }); }
    catch (err) { results.push({ label, ok: false, error: err.message }); }
  }
} else {
  // sharp is imported and used before decode.ts (metadata, and making and encoding an
  // image: none of it loads pixels, which is when libvips reads the threshold).
  await sharp(images[0].bytes).metadata();
  await sharp({ create: { width: 600, height: 600, channels: 3, background: '#888' } }).webp().toBuffer();
  const { decodeForHashing } = await import(decodeUrl);
  mark('begin');
  for (const { label, bytes } of images) for (const path of ['reference', 'fast']) for (const rgba of [false, true]) {
    try { await decodeForHashing(bytes, path, { rgba }); results.push({ label, path, rgba, ok: true }); }
    catch (err) { results.push({ label, path, rgba, ok: false, error: err.code + ': ' + err.message }); }
  }
}
mark('end');
process.stdout.write(JSON.stringify(results));
`;

interface Result {
  label: string;
  path?: string;
  rgba?: boolean;
  ok: boolean;
  error?: string;
}

function childEnv(mode: 'decode' | 'control', trap: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, VIPS_DISC_THRESHOLD: '1m', NCII_NO_DISC_CHILD: JSON.stringify({ mode, decodeUrl: DECODE_URL, marker: MARKER }) };
  delete env.NODE_OPTIONS; // the runner's own hooks stay out of the child
  // tsx keeps a compile cache under TMPDIR; without it, the trap directory is never needed by anything but libvips.
  if (trap) Object.assign(env, { TMPDIR: TRAP_TMPDIR, TSX_DISABLE_CACHE: '1' });
  return env;
}

function runChild(mode: 'decode' | 'control', options: { trap: boolean; strace?: boolean }) {
  const node = [process.execPath, '--import=tsx', '--input-type=module', '-e', CHILD];
  const [command, ...args] = options.strace ? ['strace', '-f', '-qq', '-e', 'trace=openat,open,creat', ...node] : node;
  const run = spawnSync(command, args, {
    cwd: ROOT,
    env: childEnv(mode, options.trap),
    input: JSON.stringify(images.map(({ label, bytes }) => ({ label, base64: bytes.toString('base64') }))),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    timeout: 120_000,
  });
  let results: Result[] = [];
  try {
    results = JSON.parse(run.stdout) as Result[];
  } catch {
    // reported by the caller
  }
  return { run, results };
}

const describe = (r: Result) => [r.label, r.path, r.rgba === undefined ? undefined : r.rgba ? 'rgba' : 'as stored'].filter(Boolean).join(', ');

t.test('the trap is armed: plain sharp spills a 1 MB+ WebP under this environment, and fails', async (t) => {
  const { run, results } = runChild('control', { trap: true });
  t.equal(results.length, images.length, results.length ? 'control ran' : `control ran: ${run.stderr.slice(0, 500)}`);
  const webp = results.filter((r) => r.label.startsWith('webp') && !r.label.includes('large'));
  t.ok(webp.length >= 3, 'WebP images in the control');
  for (const r of webp) t.match(r, { ok: false, error: /unable to write/ }, `${r.label}: libvips tried to write to TMPDIR`);
});

t.test('no decode of any format, on either path, tries to write to TMPDIR (threshold lowered to 1 MB)', async (t) => {
  const { run, results } = runChild('decode', { trap: true });
  t.equal(results.length, images.length * 4, results.length ? 'every decode ran' : `every decode ran: ${run.stderr.slice(0, 500)}`);
  const failed = results.filter((r) => !r.ok);
  t.same(failed.map((r) => `${describe(r)}: ${r.error}`), [], 'every decode succeeded with nowhere to spill to');
});

/** Decode a small PNG in a worker thread (from TypeScript, through tsx): the error's message, or 'ok'. */
function decodeInWorker(): Promise<string> {
  const code = `
    import('tsx/esm/api').then(async (tsx) => {
      tsx.register();
      const { parentPort, workerData } = await import('node:worker_threads');
      const { decodeForHashing } = await import(workerData.decodeUrl);
      try { await decodeForHashing(workerData.png, 'reference'); parentPort.postMessage('ok'); }
      catch (err) { parentPort.postMessage(String(err.message)); }
    });`;
  return new Promise((resolve, reject) => {
    const png = images.find((i) => i.label === 'png')!.bytes;
    const worker = new Worker(code, { eval: true, workerData: { decodeUrl: DECODE_URL, png } });
    worker.once('message', (m: string) => void worker.terminate().then(() => resolve(m)));
    worker.once('error', reject);
  });
}

t.test('a worker thread cannot set the threshold for libvips, so it decodes only if it inherited it', async (t) => {
  const saved = process.env.VIPS_DISC_THRESHOLD;
  delete process.env.VIPS_DISC_THRESHOLD;
  t.teardown(() => {
    if (saved !== undefined) process.env.VIPS_DISC_THRESHOLD = saved;
  });
  t.match(await decodeInWorker(), /could spill uploads to disk in this worker thread/, 'refused before the main thread imported decode.ts');
  await import(DECODE_URL);
  t.equal(process.env.VIPS_DISC_THRESHOLD, '1024g', 'importing decode.ts set it for the process');
  t.equal(await decodeInWorker(), 'ok', 'decodes once inherited');
});

/** Lines of an strace log between the child's two markers that open a file for writing or an unnamed temp file. */
function writesBetweenMarkers(log: string): { traced: boolean; writes: string[] } {
  const lines = log.split('\n');
  const begin = lines.findIndex((l) => l.includes(`${MARKER}begin`));
  const end = lines.findIndex((l) => l.includes(`${MARKER}end`));
  if (begin < 0 || end < begin) return { traced: false, writes: [] };
  return { traced: true, writes: lines.slice(begin + 1, end).filter((l) => /\b(open|openat|creat)\(/.test(l) && /O_TMPFILE|O_CREAT|O_WRONLY|O_RDWR|\bcreat\(/.test(l)) };
}

// strace is optional (CI machines may lack it, or forbid ptrace): the TMPDIR trap above does not need it.
const straceFound = spawnSync('strace', ['-V'], { encoding: 'utf8' });
const straceControl = straceFound.error || straceFound.status !== 0 ? undefined : runChild('control', { trap: false, strace: true });
const straceSkip = !straceControl
  ? 'strace is not installed (the TMPDIR trap still covers this)'
  : !writesBetweenMarkers(straceControl.run.stderr).traced
    ? `strace cannot trace here, ptrace not permitted? (the TMPDIR trap still covers this): ${straceControl.run.stderr.slice(0, 200)}`
    : false;

t.test('under strace: no file is opened for writing while decoding', { skip: straceSkip }, async (t) => {
  t.ok(
    writesBetweenMarkers(straceControl!.run.stderr).writes.some((l) => l.includes('O_TMPFILE')),
    'the check sees plain sharp open an O_TMPFILE for a WebP',
  );
  const { run, results } = runChild('decode', { trap: false, strace: true });
  t.equal(results.filter((r) => r.ok).length, images.length * 4, 'every decode succeeded under strace');
  const trace = writesBetweenMarkers(run.stderr);
  t.ok(trace.traced, 'both markers traced');
  t.same(trace.writes, [], 'no open for writing and no O_TMPFILE between the markers');
});
