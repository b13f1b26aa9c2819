/**
 * The README's examples, run as a reader runs them, so that it cannot go
 * stale: a real server (the CLI's `serve`) on a temporary data directory, and
 * every example, in order, in one bash session from the checkout, with the
 * address the reader exports pointing at that server, the photos it names
 * under a home directory of their own, and the values she copies from one
 * output (a case number, a PIN, a batch id, a key) pasted into the next
 * commands. Each example must succeed and print what the README shows.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { BLOCKHASH_DIR, PDQ_DIR } from './helpers/fixtures.js';
import { TS_NODE_ARGS } from './helpers/node-args.js';
import { type Copies, compareJson, compareText, type Example, jsonValues, parseExamples, substitute } from './helpers/readme-examples.js';

const README = readFileSync('README.md', 'utf8');
const PACKAGE = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string }; scripts: Record<string, string> };
/** The address the README tells readers to export; the test's server is elsewhere. */
const README_URL = 'http://127.0.0.1:3000';
/** The home directory the README's outputs show. */
const README_HOME = '/home/you';
const EXAMPLE_TIMEOUT_MS = 60_000;
const MAX_README_BYTES = 11_264;

const root = mkdtempSync(join(tmpdir(), 'ncii-readme-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

t.test('the README is short, and says what package.json and CI say', async (t) => {
  // About 10 KB for users; operators' and maintainers' material belongs in docs/.
  t.ok(Buffer.byteLength(README) <= MAX_README_BYTES, `README.md is ${Buffer.byteLength(README)} bytes; at most ${MAX_README_BYTES} (the rest belongs in docs/)`);
  t.ok(README.includes(`\`${PACKAGE.engines.node}\``), `README.md names the Node versions of package.json's engines (${PACKAGE.engines.node})`);
  t.match(readFileSync('.ci/run', 'utf8'), /^npm ci --engine-strict$/m, 'CI refuses a Node that engines does not allow');
  // "npm ci && npm start" on a fresh clone: npm ci runs prepare, which compiles what start runs.
  t.equal(PACKAGE.scripts.prepare, 'npm run build', 'npm ci runs the build');
  t.match(PACKAGE.scripts.build, /^tsc -p tsconfig\.build\.json && /, 'the build compiles the TypeScript');
  t.equal(PACKAGE.scripts.start, 'node dist/cli/main.js serve', 'npm start serves from what prepare compiled');
  const notRun = parseExamples(README).filter((e) => e.notRun !== null);
  t.ok(notRun.length > 0);
  for (const example of notRun) {
    for (const [, script] of example.code.matchAll(/npm (?:run )?(\w[\w:-]*)/g)) {
      if (script === 'ci') continue;
      t.ok(PACKAGE.scripts[script], `README line ${example.line}: "npm ${script}" is a script of package.json`);
    }
  }
});

/** The reader's photos: hers, two captured reposts (bars added; resized), and two reported to a helpline (a mirrored copy; another photo). */
async function makePhotos(home: string): Promise<void> {
  for (const dir of ['Pictures', 'captured', 'reported']) mkdirSync(join(home, dir), { recursive: true });
  const original = `${PDQ_DIR}bridge-1-original.jpg`;
  const { width } = await sharp(original).metadata();
  copyFileSync(original, join(home, 'Pictures/me.jpg'));
  await sharp(original).extend({ top: 140, bottom: 140, background: '#000' }).jpeg({ quality: 80 }).toFile(join(home, 'captured/msg-456.jpg'));
  await sharp(original).resize(Math.round(width! / 2)).jpeg({ quality: 70 }).toFile(join(home, 'captured/msg-457.jpg'));
  await sharp(original).flop().resize(Math.round(width! / 3)).jpeg({ quality: 75 }).toFile(join(home, 'reported/from-a-helpline-1.jpg'));
  copyFileSync(`${BLOCKHASH_DIR}clipper_ship.jpg`, join(home, 'reported/from-a-helpline-2.jpg'));
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

async function waitUntilReady(url: string, server: ChildProcessWithoutNullStreams): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (server.exitCode !== null) throw new Error(`the server exited with ${server.exitCode}`);
    const res = await fetch(`${url}/readyz`).catch(() => null);
    if (res?.ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the server was not ready within 120 s');
}

/** The newest modification time of the files under `dir`. */
function newest(dir: string): number {
  return Math.max(...readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => statSync(join(e.parentPath, e.name)).mtimeMs));
}

/**
 * One bash session, fed an example at a time: each ends with a line carrying
 * whether any of its commands failed, so the output of each can be told apart.
 */
class Shell {
  private readonly bash: ChildProcessWithoutNullStreams;
  private stdout = '';
  private stderr = '';

  constructor(env: NodeJS.ProcessEnv) {
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd: process.cwd(), env });
    this.bash.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.bash.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.bash.stdin.write("trap '__failed=1' ERR\n");
  }

  async run(code: string): Promise<{ failed: boolean; stdout: string; stderr: string }> {
    const marker = `@@example-end-${Math.random().toString(36).slice(2)}@@`;
    this.bash.stdin.write(`__failed=0\n${code}\nprintf '\\n${marker} %s\\n' "$__failed"\n`);
    const deadline = Date.now() + EXAMPLE_TIMEOUT_MS;
    while (!this.stdout.includes(marker)) {
      if (this.bash.exitCode !== null) throw new Error(`bash exited with ${this.bash.exitCode}:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`no end within ${EXAMPLE_TIMEOUT_MS / 1000} s; printed so far:\n${this.stdout}\n${this.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const at = this.stdout.indexOf(marker);
    const end = this.stdout.indexOf('\n', at);
    const failed = this.stdout.slice(at + marker.length, end).trim() !== '0';
    // The marker's line starts with a newline of its own.
    const result = { failed, stdout: this.stdout.slice(0, at - 1), stderr: this.stderr };
    this.stdout = this.stdout.slice(end + 1);
    this.stderr = '';
    return result;
  }

  close(): void {
    this.bash.stdin.end();
    this.bash.kill();
  }
}

function differences(example: Example, printed: string, copies: Copies): string[] {
  const expected = example.expected!;
  if (expected.kind === 'text') return compareText(expected.text, printed, copies);
  let shown: unknown[];
  let got: unknown[];
  try {
    shown = jsonValues(expected.text);
  } catch (err) {
    return [`the README's JSON at line ${expected.line} does not parse: ${(err as Error).message}`];
  }
  try {
    got = jsonValues(printed);
  } catch {
    return [`printed something that is not JSON:\n${printed}`];
  }
  if (got.length !== shown.length) return [`${shown.length} JSON values shown, ${got.length} printed:\n${printed}`];
  return shown.flatMap((value, i) => compareJson(value, got[i], `value ${i + 1}`, copies));
}

t.test('a text block compares generated values by their own positions, whatever groups their forms hold', async (t) => {
  const shown = 'created 2026-01-01T00:00:00Z, case 2222-3333-4444, PIN 1111-2222-3333';
  const copies: Copies = new Map();
  t.same(compareText(shown, 'created 2026-12-07T03:34:25.123Z, case ABCD-EFGH-JKMN, PIN 1234-5678-9012', copies), []);
  t.equal(copies.get('2222-3333-4444'), 'ABCD-EFGH-JKMN', 'the case number after a time is the one copied');
  t.equal(copies.get('1111-2222-3333'), '1234-5678-9012');
  t.not(compareText(shown, 'created yesterday, case ABCD-EFGH-JKMN, PIN 1234-5678-9012', new Map()).length, 0, 'a time that is not one differs');
});

t.test("the README's examples succeed and print what it shows", async (t) => {
  const dist = statSync('dist/cli/main.js', { throwIfNoEntry: false });
  if (!dist || dist.mtimeMs < newest('src')) {
    t.fail('dist/ is older than src/: the examples run ./ncii-match, which runs dist/. Run `npm run build` first (npm ci does).');
    return;
  }
  const home = join(root, 'you');
  const dataDir = join(root, 'data');
  await makePhotos(home);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('NCII_MATCH_')));
  const server = spawn(process.execPath, [...TS_NODE_ARGS, 'src/cli/main.ts', 'serve'], {
    env: { ...env, HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
  });
  let serverLog = '';
  server.stdout.setEncoding('utf8').on('data', (chunk: string) => (serverLog += chunk));
  server.stderr.setEncoding('utf8').on('data', (chunk: string) => (serverLog += chunk));
  t.teardown(() => void server.kill('SIGTERM'));
  await waitUntilReady(url, server);

  // The operator's DATA_DIR (for `keys create`) is the service's; the reader's photos are under her home.
  // The compiled dist/ the examples run records no coverage (tap's hook puts itself back into every child's
  // NODE_OPTIONS): tsc's output could not be merged with that of the sources under the test loader.
  const shell = new Shell({ ...env, HOME: home, DATA_DIR: dataDir, _TAPJS_PROCESSINFO_COVERAGE_: '0' });
  t.teardown(() => shell.close());
  const copies: Copies = new Map([[README_URL, url]]);
  const examples = parseExamples(README).filter((e) => e.notRun === null);
  t.ok(examples.length >= 10, `${examples.length} examples`);
  for (const example of examples) {
    const { failed, stdout, stderr } = await shell.run(substitute(example.code, copies));
    const printed = stdout.split(home).join(README_HOME);
    t.notOk(failed, `README line ${example.line}: every command succeeds`, { stdout: printed, stderr });
    if (!example.expected) continue;
    t.same(differences(example, printed, copies), [], `README line ${example.line}: prints what the README shows at line ${example.expected.line}`, { stderr });
  }
  t.notMatch(serverLog, /"level":(50|60)/, 'the server logged no error');
});
