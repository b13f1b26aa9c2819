/**
 * One query, three ways in: the same photo and options through POST
 * /v1/match (the image uploaded), a batch (the image uploaded, matched in the
 * background) and the command line (hashed on this machine, only the hashes
 * sent) find exactly the same matches, on a live server whose content was
 * ingested as images (so region hashes are in its index).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import sharp from 'sharp';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { main } from '../src/cli/main.js';
import { loadConfig } from '../src/config.js';
import { PDQ_DIR } from './helpers/fixtures.js';
import { multipartBody } from './helpers/form-data.js';

interface Match {
  contentId: number;
  bankId: number;
  signalType: string;
  distance: number;
  via: string;
  region: string | null;
  variant: string | null;
}

const comparable = (matches: Match[]) =>
  matches.map(({ contentId, bankId, signalType, distance, via, region, variant }) => ({ contentId, bankId, signalType, distance, via, region, variant }));

const dir = mkdtempSync(join(tmpdir(), 'ncii-query-paths-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const app = await buildApp({ config: loadConfig({ DATA_DIR: join(dir, 'data'), ANONYMOUS_REQUESTS_PER_MINUTE: '100000', KEYED_REQUESTS_PER_MINUTE: '100000' }), logger: false });
await app.listen({ host: '127.0.0.1', port: 0 });
t.teardown(() => app.close());
const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
const takedown = { authorization: `Bearer ${app.services.keys.create({ name: 'takedown', role: 'takedown' }).secret}` };
const ngoSecret = app.services.keys.create({ name: 'ngo', role: 'ngo' }).secret;
const ngo = { authorization: `Bearer ${ngoSecret}` };

const photo = (name: string) => readFileSync(join(PDQ_DIR, name));
const bridge = photo('bridge-1-original.jpg');
const dark = photo('q0003.jpg');
const meta = await sharp(bridge).metadata();
const cropped = await sharp(bridge)
  .extract({ left: Math.round(meta.width! * 0.06), top: Math.round(meta.height! * 0.02), width: Math.round(meta.width! * 0.86), height: Math.round(meta.height! * 0.9) })
  .jpeg({ quality: 80 })
  .toBuffer();
// Turned a quarter and framed: its whole-image hashes are far from the photo's; its inner part is the turned photo.
const framedTurned = await sharp(await sharp(bridge).rotate(90).toBuffer())
  .extend({ top: 60, bottom: 60, left: 60, right: 60, background: '#ffffff' })
  .jpeg({ quality: 85 })
  .toBuffer();
const captioned = await sharp(bridge)
  .extend({ top: Math.round(meta.height! * 0.15), background: '#f4d03f' })
  .jpeg({ quality: 85 })
  .toBuffer();

async function ingest(bankId: number, name: string, bytes: Uint8Array, group: string): Promise<number> {
  const res = await app.inject({
    method: 'POST',
    url: `/v1/banks/${bankId}/content`,
    ...multipartBody([{ name: 'image', filename: name, data: bytes }, { name: 'group', data: group }], takedown),
  });
  if (res.statusCode !== 201) throw new Error(res.body);
  return res.json().items[0].id;
}

const loose = (await app.inject({ method: 'POST', url: '/v1/banks', headers: takedown, payload: { name: 'loose' } })).json().id as number;
const strict = (await app.inject({ method: 'POST', url: '/v1/banks', headers: takedown, payload: { name: 'strict', threshold: 10 } })).json().id as number;
const turned = await ingest(loose, 'turned.jpg', photo('bridge-2-rotate-90.jpg'), 'turned');
const crop = await ingest(loose, 'crop.jpg', cropped, 'crop');
const caption = await ingest(strict, 'caption.jpg', captioned, 'caption');
const mirrored = await ingest(strict, 'mirrored.jpg', photo('bridge-5-flipx.jpg'), 'mirrored');
const unrelated = await ingest(loose, 'unrelated.jpg', photo('q2821.jpg'), 'unrelated');
const turnedFramed = await ingest(loose, 'turned-framed.jpg', framedTurned, 'turned framed');
// An exact copy of the featureless photo, stored by its digest.
app.services.store.addContent(loose, [{ provenance: { platform: 'telegram', channel: 'exact' }, signals: [{ type: 'md5', hash: new Uint8Array(createHash('md5').update(dark).digest()) }] }]);

const files = { bridge: join(dir, 'bridge.jpg'), dark: join(dir, 'dark.jpg') };
writeFileSync(files.bridge, bridge);
writeFileSync(files.dark, dark);

/** Options as form fields (match, batch) and as CLI flags. */
const CASES: { name: string; fields: Record<string, string>; flags: string[] }[] = [
  { name: 'robust, the default', fields: {}, flags: [] },
  { name: 'threshold 0', fields: { threshold: '0' }, flags: ['--threshold', '0'] },
  { name: 'threshold 31', fields: { threshold: '31' }, flags: ['--threshold', '31'] },
  { name: 'mode pdq', fields: { mode: 'pdq' }, flags: ['--mode', 'pdq'] },
  { name: 'mode pdq with dihedral', fields: { mode: 'pdq', dihedral: 'true' }, flags: ['--mode', 'pdq', '--dihedral'] },
  { name: 'banks filter', fields: { banks: String(strict) }, flags: ['--banks', String(strict)] },
];

async function viaMatch(bytes: Uint8Array, fields: Record<string, string>) {
  const parts = [{ name: 'image', filename: 'q.jpg', data: bytes }, ...Object.entries(fields).map(([name, data]) => ({ name, data }))];
  const res = await app.inject({ method: 'POST', url: '/v1/match', ...multipartBody(parts, ngo) });
  if (res.statusCode !== 200) throw new Error(res.body);
  return res.json() as { matches: Match[]; warnings: { code: string }[] };
}

async function viaBatch(bytes: Uint8Array, fields: Record<string, string>) {
  const parts = [{ name: 'image', filename: 'q.jpg', data: bytes }, ...Object.entries(fields).map(([name, data]) => ({ name, data }))];
  const created = await app.inject({ method: 'POST', url: '/v1/batches', ...multipartBody(parts, ngo) });
  if (created.statusCode !== 202) throw new Error(created.body);
  for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((resolve) => setTimeout(resolve, 20))) {
    const read = (await app.inject({ method: 'GET', url: `/v1/batches/${created.json().batchId}`, headers: ngo })).json();
    if (read.status === 'done') return read.items[0] as { matches: Match[]; warnings?: { code: string }[] };
  }
  throw new Error('the batch did not finish');
}

async function viaCli(file: string, flags: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.resume();
  const code = await main(['match', '--url', url, '--key', ngoSecret, ...flags, file], { stdout, stderr });
  if (code !== 0) throw new Error(`ncii-match exited ${code}: ${out}`);
  return JSON.parse(out.trim()) as { matches: Match[]; warnings: { code: string }[] };
}

for (const { name, fields, flags } of CASES) {
  t.test(`${name}: /v1/match, a batch and the CLI find the same`, async (t) => {
    const matched = await viaMatch(bridge, fields);
    const batched = await viaBatch(bridge, fields);
    const cli = await viaCli(files.bridge, flags);
    t.ok(matched.matches.length > 0 || ['threshold 0', 'mode pdq'].includes(name), `${matched.matches.length} matches`);
    t.notOk(matched.matches.some((m) => m.contentId === unrelated), 'never the unrelated photo');
    t.same(comparable(batched.matches), comparable(matched.matches), 'batch = match');
    t.same(comparable(cli.matches), comparable(matched.matches), 'CLI = match');
  });
}

t.test('what each case finds is what its options say', async (t) => {
  const found = async (fields: Record<string, string>) => (await viaMatch(bridge, fields)).matches.map((m) => m.contentId).sort((a, b) => a - b);
  t.same(await found({}), [turned, crop, caption, mirrored, turnedFramed], 'robust: turned, cropped, captioned, mirrored, and turned and framed copies');
  const viaTurnedRegion = (await viaMatch(bridge, {})).matches.find((m) => m.contentId === turnedFramed)!;
  t.match(viaTurnedRegion, { via: 'region', region: 'frame' }, 'the framed, turned copy is found by a turn of the frame region');
  t.not(viaTurnedRegion.variant, 'orig');
  const cli = await viaCli(files.bridge, []);
  t.ok(cli.matches.some((m) => m.contentId === turnedFramed), "the CLI finds it too: the client's query keeps the frame region's rotations");
  t.same(await found({ mode: 'pdq' }), [], 'pdq without rotations: none of these edits is within 31 bits as a whole image');
  t.same(await found({ mode: 'pdq', dihedral: 'true' }), [turned, mirrored], 'pdq with rotations: the turned and mirrored copies');
  t.same(await found({ banks: String(strict) }), [caption, mirrored], 'the strict bank only');
  const zero = await viaMatch(bridge, { threshold: '0' });
  t.ok(zero.matches.every((m) => m.distance === 0), 'threshold 0: exact hashes only, whole or region');
});

t.test('a featureless photo: its exact copy, the same way in all three', async (t) => {
  for (const { fields, flags } of [CASES[0], CASES[2]]) {
    const matched = await viaMatch(dark, fields);
    const batched = await viaBatch(dark, fields);
    const cli = await viaCli(files.dark, flags);
    t.same(comparable(matched.matches).map((m) => [m.signalType, m.distance]), [['md5', 0]]);
    t.same(comparable(batched.matches), comparable(matched.matches));
    t.same(comparable(cli.matches), comparable(matched.matches));
    for (const answer of [matched, batched, cli]) t.ok(answer.warnings?.some((w) => w.code === 'LOW_QUALITY'), 'each says the photo was too featureless');
  }
});

t.test('the thresholds a bank sets apply alike: its strict threshold keeps loose region matches out', async (t) => {
  const matched = await viaMatch(bridge, {});
  const strictMatches = matched.matches.filter((m) => m.bankId === strict);
  t.ok(strictMatches.length > 0);
  t.ok(strictMatches.every((m) => m.distance <= 10), 'every match in the strict bank within its 10 bits');
  const thresholds = (await app.inject({ method: 'POST', url: '/v1/match', headers: ngo, payload: { signals: [{ type: 'pdq-region', hash: 'a'.repeat(64) }], threshold: 0 } })).json()
    .thresholds as { type: string; bankId: number; applied: number }[];
  t.same(
    thresholds.map((x) => [x.type, x.bankId, x.applied]),
    [
      ['pdq-region', loose, 0],
      ['pdq-region', strict, 0],
    ],
    'threshold 0 holds for region hashes too, in every bank',
  );
});
