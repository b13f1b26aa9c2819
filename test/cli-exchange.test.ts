/** `ncii-match bank`, `import` and `export` in-process against a database in a temp dir. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { withLocalServices } from '../src/services/local.js';
import { Services } from '../src/services/services.js';
import { hashPin } from '../src/store/pin.js';
import { runCli } from './helpers/cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'ncii-cli-exchange-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
process.env.DATA_DIR = join(dir, 'data');

const run = runCli;

const PDQ = 'c'.repeat(64);
const MD5 = 'd'.repeat(32);
const file = join(dir, 'list.txt');
writeFileSync(file, `pdq ${PDQ}\nvideo_md5 ${MD5}\npdq 123\n`);

t.test('bank create and list', async (t) => {
  const created = await run(['bank', 'create', 'Helpline list', '--description', 'from partners', '--json']);
  t.equal(created.code, 0);
  t.match(JSON.parse(created.stdout), { id: 1, name: 'Helpline list', description: 'from partners' });
  const listed = await run(['bank', 'list']);
  t.equal(listed.stdout, 'id\tname\tdescription\n1\tHelpline list\tfrom partners\n');
  t.equal((await run(['bank', 'remove'])).code, 2, 'an unknown action is a usage error');
});

t.test('import reports counts and rejected lines; --json; --strict imports nothing', async (t) => {
  const r = await run(['import', file, '--bank', '1', '--format', 'te-file'], { tty: true });
  t.equal(r.code, 0);
  t.equal(r.stdout, `${file}: added 2, duplicate 0, updated 0, removed 0, rejected 1 (2 hashes stored)\n`);
  t.match(r.stderr, `${file}:3: `, 'the rejected line on stderr');
  t.match(r.stderr, /importing \[/, 'a progress bar on a terminal');
  const again = await run(['import', file, '--bank', '1', '--format', 'te-file', '--json']);
  t.match(JSON.parse(again.stdout), { added: 0, duplicate: 2, rejected: 1, file });
  t.notMatch(again.stderr, /importing/, 'no progress bar off a terminal');
  await run(['bank', 'create', 'strict']);
  const strict = await run(['import', file, '--bank', '2', '--format', 'te-file', '--strict']);
  t.equal(strict.code, 1);
  t.match(strict.stderr, /line 3: .*Nothing was imported/);
  const missing = await run(['import', file, '--bank', '99', '--format', 'te-file']);
  t.same([missing.code, missing.stderr], [1, 'ncii-match import: no bank with id 99\n']);
  t.equal((await run(['import', file, '--bank', '1', '--format', 'xml'])).code, 2);
  t.equal((await run(['import', file, '--bank', '1', '--case', 'A', '--format', 'csv'])).code, 2);
});

t.test('export to stdout and to a file; a case too', async (t) => {
  const out = await run(['export', '--bank', '1', '--format', 'te-file']);
  t.same([out.code, out.stdout], [0, `pdq ${PDQ}\nvideo_md5 ${MD5}\n`]);
  const target = join(dir, 'out.csv');
  t.equal((await run(['export', '--bank', '1', '--format', 'csv', '--out', target])).code, 0);
  t.match(readFileSync(target, 'utf8'), /^item,signal_type,hash,quality,platform,group,message_url,captured_at,note,metadata\n1,pdq,c{64},,threatexchange,/);
  const page = await run(['export', '--bank', '1', '--format', 'stopncii', '--limit', '1']);
  t.equal(JSON.parse(page.stdout).hashRecords.length, 1);
  const next = JSON.parse(page.stdout).nextPageToken as string;
  const rest = await run(['export', '--bank', '1', '--format', 'stopncii', '--limit', '1', '--page-token', next]);
  t.same(JSON.parse(rest.stdout).hashRecords.map((r: { signalType: string }) => r.signalType), ['VideoMD5']);

  await withLocalServices(loadConfig(), async (services) => void services.store.createCase({ caseNumber: 'CLI-1', pinHash: await hashPin('123456') }));
  t.equal((await run(['import', file, '--case', 'CLI-1', '--format', 'te-file'])).code, 0);
  const exported = await run(['export', '--case', 'CLI-1', '--format', 'te-file']);
  t.equal(exported.stdout, `pdq ${PDQ}\nvideo_md5 ${MD5}\n`);
  t.equal((await run(['export', '--case', 'NOPE', '--format', 'te-file'])).code, 2);
  const paged = await run(['export', '--case', 'CLI-1', '--format', 'stopncii', '--limit', '1']);
  t.same([paged.code, paged.stderr.split('\n')[0]], [2, 'ncii-match export: a case is exported whole: --limit and --page-token go with --bank'], 'a case is not paged, and says so');
});

t.test('an import is refused while another live process serves the data directory, not after it died', async (t) => {
  const dataDir = process.env.DATA_DIR!;
  const claim = join(dataDir, 'serving.pid');
  // A service loading its indexes claims the directory, and gives it up when it closes.
  const services = new Services(loadConfig({ DATA_DIR: dataDir }), { error: () => {} });
  await services.loadIndexes();
  t.equal(readFileSync(claim, 'utf8'), `${hostname()}/${process.pid}\n`, 'the serving process names itself');
  t.equal((await run(['import', file, '--bank', '1', '--format', 'te-file'])).code, 0, 'its own process may import: its indexes learn it');
  services.close();
  t.notOk(existsSync(claim), 'closing gives the claim up');

  const server = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)']);
  t.teardown(() => void server.kill('SIGKILL'));
  writeFileSync(claim, `${hostname()}/${server.pid}\n`);
  const refused = await run(['import', file, '--bank', '1', '--format', 'te-file']);
  t.equal(refused.code, 1);
  t.match(refused.stderr, `a service is running on this DATA_DIR (${hostname()}/${server.pid})`);
  t.match(refused.stderr, 'POST /v1/banks/1/import');
  t.match((await run(['import-telegram', dir, '--bank', '1'])).stderr, 'POST /v1/banks/1/telegram', 'so is a Telegram import');
  t.equal((await run(['export', '--bank', '1', '--format', 'te-file'])).code, 0, 'reading is not');

  server.kill('SIGKILL');
  await once(server, 'exit');
  t.equal((await run(['import', file, '--bank', '1', '--format', 'te-file'])).code, 0, 'a claim left by a killed process does not hold');
});
