/**
 * The takedown commands as a person runs them, against a real server process
 * over HTTP: create a scan, run it to the end, list what it found and get the
 * report as CSV in real `ncii-match` processes; the other forms (lists,
 * filters, JSON report, refusals with exit status 1, mistakes with 2) through
 * the same `main` in this process, as each command process costs seconds.
 */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { main } from '../src/cli/main.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import t from 'tap';
import { newCaseNumber } from '../src/services/case-credentials.js';
import { DATABASE_FILE } from '../src/services/services.js';
import { SqliteApiKeyStore } from '../src/store/api-keys.js';
import { hashPin } from '../src/store/pin.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { TS_NODE_ARGS } from './helpers/node-args.js';
import { freePort, startServerProcess } from './helpers/server-process.js';

// A server and a dozen command processes on a machine shared with other work.
t.setTimeout(900_000);
const dir = mkdtempSync(join(tmpdir(), 'ncii-cli-scans-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const store = new SqliteStore(join(dir, DATABASE_FILE));
const key = new SqliteApiKeyStore(store.db).create({ name: 'takedown', role: 'takedown' }).secret;
const bankId = store.createBank({ name: 'captured' }).id;
const photo = new Uint8Array(randomBytes(32));
const caseNumber = newCaseNumber();
store.createCase({ caseNumber, pinHash: await hashPin('123412341234'), signals: [{ type: 'pdq', hash: photo }] });
const copy = photo.slice();
copy[0] ^= 0x0f;
store.addContent(bankId, [
  { provenance: { platform: 'telegram', channel: '=cmd|evil', messageRef: 'https://t.me/c/1' }, signals: [{ type: 'pdq', hash: copy }] },
  { provenance: { platform: 'telegram', channel: 'other', messageRef: 'https://t.me/c/2' }, signals: [{ type: 'pdq', hash: new Uint8Array(randomBytes(32)) }] },
]);
store.close();

const server = await startServerProcess(dir);
t.teardown(() => void server.child.kill('SIGKILL'));

/** Runs the command to its end: exit status, stdout as bytes and text, stderr. */
function cli(...args: string[]): Promise<{ status: number | null; stdout: string; bytes: Buffer; stderr: string }> {
  const child = spawn(process.execPath, [...TS_NODE_ARGS, 'src/cli/main.ts', ...args], { env: { ...process.env, NCII_MATCH_URL: server.url, NCII_MATCH_KEY: key }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, bytes: Buffer.concat(out), stdout: Buffer.concat(out).toString('utf8'), stderr })));
}

/** The same command through `main` in this process. */
async function inProcess(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const [stdout, stderr] = [new PassThrough(), new PassThrough()];
  let [out, err] = ['', ''];
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  const status = await main([...args, ...(args.some((a) => a.startsWith('--url')) ? [] : ['--url', server.url]), '--key', args.includes('--key') ? args[args.indexOf('--key') + 1] : key], { stdout, stderr });
  return { status, stdout: out, stderr: err };
}

t.test('scan create, list and run; matches list; report', async (t) => {
  const created = await cli('scan', 'create', '--name', 'hourly', '--cron', '0 * * * *', '--tz', 'Europe/Paris', '--json');
  t.equal(created.status, 0, created.stderr);
  const scan = JSON.parse(created.stdout);
  t.same([scan.name, scan.timeZone, scan.banks, scan.cases], ['hourly', 'Europe/Paris', 'all', 'all']);

  const human = await inProcess('scan', 'list');
  t.match(human.stdout, new RegExp(`^${scan.id}\\thourly\\t0 \\* \\* \\* \\* \\(Europe/Paris\\)`, 'm'));
  const listed = await inProcess('scan', 'list', '--json');
  t.same(listed.stdout.trim().split('\n').map((line) => JSON.parse(line).id), [scan.id], 'one JSON line per scan');

  const ran = await cli('scan', 'run', String(scan.id), '--json');
  t.equal(ran.status, 0, ran.stderr);
  const run = JSON.parse(ran.stdout);
  t.same([run.status, run.newMatches], ['done', 1], 'followed to the end');
  t.equal(ran.stderr, '', 'no progress bar when stderr is not a terminal');

  const matches = await cli('matches', 'list', '--json', '--status', 'new');
  t.equal(matches.status, 0, matches.stderr);
  const rows = matches.stdout.trim().split('\n').map((line) => JSON.parse(line));
  t.same(rows.map((m) => [m.caseNumber, m.group, m.messageUrl, m.runId]), [[caseNumber, '=cmd|evil', 'https://t.me/c/1', run.id]]);
  const table = await inProcess('matches', 'list', '--case', caseNumber);
  t.match(table.stdout, /^\d+\tnew\t.*\ttelegram\t=cmd\|evil\thttps:\/\/t\.me\/c\/1\twhole pdq d=4\t/m);
  t.equal((await inProcess('matches', 'list', '--status', 'removed')).stdout, '', 'filters reach the service');

  const csv = await cli('report', String(run.id), '--csv');
  t.equal(csv.status, 0, csv.stderr);
  t.same([...csv.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'the CSV bytes as the service sent them, BOM first');
  const parsed = parse(csv.bytes, { bom: true, columns: true }) as Record<string, string>[];
  t.same(parsed.map((r) => [r.group, r.status, r.message]), [["'=cmd|evil", 'new', 'https://t.me/c/1']]);
  const json = await inProcess('report', String(run.id));
  t.same(JSON.parse(json.stdout).byStatus, { new: 1, reported: 0, removed: 0, dismissed: 0 });

  const detached = await inProcess('scan', 'run', String(scan.id), '--detach');
  t.equal(detached.status, 0, detached.stderr);
  t.match(detached.stdout, /^run \d+ of scan \d+: (running|done), 0 new matches\n$/);
});

t.test('refusals and mistakes', async (t) => {
  const unknown = await inProcess('scan', 'run', '999');
  t.same([unknown.status, unknown.stderr], [1, 'ncii-match scan: NOT_FOUND: No scan has id 999.\n']);
  const badTz = await inProcess('scan', 'create', '--name', 'x', '--cron', '0 * * * *', '--tz', 'Moon/Base');
  t.equal(badTz.status, 1);
  t.match(badTz.stderr, /INVALID_REQUEST: timeZone "Moon\/Base" is not an IANA time zone/);
  const noKey = await inProcess('matches', 'list', '--key', 'nm_wrong');
  t.equal(noKey.status, 1);
  t.match(noKey.stderr, /UNAUTHORIZED/);
  const missing = await inProcess('scan', 'create', '--name', 'x');
  t.equal(missing.status, 2);
  t.match(missing.stderr, /create needs --name, --cron and --tz/);
  t.equal((await inProcess('report', 'abc')).status, 2);
  t.equal((await inProcess('scan', 'frobnicate')).status, 2);
  const closed = await freePort();
  const down = await inProcess('scan', 'list', '--url', `http://127.0.0.1:${closed}`);
  t.equal(down.status, 1);
  t.equal(down.stderr, `ncii-match scan: could not reach http://127.0.0.1:${closed}: ECONNREFUSED\n`);
  const help = await inProcess('scan', '--help');
  t.match(help.stdout, /ncii-match scan create/);
});
