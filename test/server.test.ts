import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { Services } from '../src/services/services.js';
import { loadConfig } from '../src/config.js';
import { startServer, startMetricsListener } from '../src/server.js';
import { TS_NODE_ARGS } from './helpers/node-args.js';

const tempDir = (t: { teardown: (fn: () => void) => void }) => {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-server-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const cli = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [...TS_NODE_ARGS, 'src/cli/main.ts', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

t.test('settings are validated at start, with every problem named', async (t) => {
  const config = loadConfig({});
  t.equal(config.HOST, '127.0.0.1');
  t.equal(config.PORT, 3000);
  t.equal(config.DATA_DIR, './data');
  t.equal(loadConfig({ PORT: '8080', DECODE_PATH: 'reference' }).PORT, 8080);
  t.throws(() => loadConfig({ PORT: 'eighty' }), /PORT must be integer/);
  t.throws(() => loadConfig({ PORT: '70000' }), /PORT must be <= 65535/);
  t.throws(() => loadConfig({ DECODE_PATH: 'slow' }), /DECODE_PATH/);
  const serve = cli(['serve'], { PORT: 'nope', DATA_DIR: tempDir(t) });
  t.equal(serve.status, 2, 'a bad setting stops the service with a usage error');
  t.match(serve.stderr, /bad setting in the environment: .*PORT/);
});

t.test('keys: create shows the key once on the last line, list and revoke', async (t) => {
  const env = { DATA_DIR: tempDir(t) };
  const created = cli(['keys', 'create', '--role', 'takedown', '--name', 'team A'], env);
  t.equal(created.status, 0, created.stderr);
  const lines = created.stdout.trimEnd().split('\n');
  const key = lines[lines.length - 1];
  t.match(key, /^nm_[A-Za-z0-9_-]{43}$/);
  t.match(created.stderr, /cannot be shown again/);
  const list = cli(['keys', 'list'], env);
  t.match(list.stdout, /1\ttakedown\tteam A\tnm_/);
  t.notMatch(list.stdout, key, 'the secret is never listed');

  const app = await buildApp({ config: loadConfig(env), logger: false });
  t.teardown(() => app.close());
  const asKey = () => app.inject({ method: 'GET', url: '/v1/hash', headers: { authorization: `Bearer ${key}` } });
  t.equal((await asKey()).statusCode, 404, 'the key is accepted (the route only takes POST)');
  t.equal(cli(['keys', 'revoke', '1'], env).status, 0);
  const revoked = await asKey();
  t.equal(revoked.statusCode, 401);
  t.same(revoked.json().error.code, 'UNAUTHORIZED');
  t.match(revoked.json().error.message, /revoked/);

  t.equal(cli(['keys', 'create', '--role', 'root', '--name', 'x'], env).status, 2, 'unknown role');
  t.equal(cli(['keys', 'create', '--role', 'ngo'], env).status, 2, 'name required');
  t.equal(cli(['keys', 'revoke', 'abc'], env).status, 2);
  const unknown = cli(['keys', 'revoke', '99'], env);
  t.equal(unknown.status, 1, 'unknown key id');
  t.equal(unknown.stderr, 'ncii-match keys: no API key with id 99\n', 'said plainly, no stack trace');
  const long = cli(['keys', 'create', '--role', 'ngo', '--name', 'x'.repeat(201)], env);
  t.equal(long.status, 2, 'a name too long');
  t.equal(long.stderr, 'ncii-match keys: key name must be 1 to 200 characters\n');
  // The machine, not a bug: said plainly, without a stack trace.
  const notADirectory = join(tempDir(t), 'a-file');
  writeFileSync(notADirectory, 'x');
  const notADir = cli(['keys', 'list'], { DATA_DIR: join(notADirectory, 'data') });
  t.equal(notADir.status, 1, 'DATA_DIR inside a file');
  t.match(notADir.stderr, /^ncii-match keys: ENOTDIR: not a directory/);
  t.notMatch(notADir.stderr, /\n\s+at /, 'no stack trace');
  const garbageDir = tempDir(t);
  writeFileSync(join(garbageDir, 'ncii-match.db'), 'this is not a database, and it is long enough to look like one '.repeat(100));
  const notADatabase = cli(['keys', 'list'], { DATA_DIR: garbageDir });
  t.equal(notADatabase.status, 1, 'a file that is not a database');
  t.equal(notADatabase.stderr, 'ncii-match keys: file is not a database\n');
  const badSetting = cli(['keys', 'list'], { ...env, PORT: 'abc' });
  t.equal(badSetting.status, 2, 'a bad setting');
  t.match(badSetting.stderr, /bad setting in the environment: .*PORT/);
  t.notMatch(badSetting.stderr, /at .*\.ts:\d+/, 'no stack trace');
  const evil = cli(['keys', 'create', '--role', 'ngo', '--name', 'evil\u001b[2Jname\u0007'], env);
  t.equal(evil.status, 0);
  const listed = cli(['keys', 'list'], env).stdout;
  // eslint-disable-next-line no-control-regex -- the test looks for control characters
  const controls = /[\u0000-\u0008\u000b-\u001f\u007f]/;
  t.notMatch(listed, controls, 'terminal control characters in names are not printed');
  t.match(listed, /evil \[2Jname /);
  t.notMatch(evil.stderr, controls, 'nor when the key is made');
  const evilId = /^(\d+)\t.*evil/m.exec(listed)![1];
  t.notMatch(cli(['keys', 'revoke', evilId], env).stdout, controls, 'nor when it is revoked');
  const unquoted = cli(['keys', 'create', '--role', 'ngo', '--name', 'Helpline', 'Europe'], env);
  t.equal(unquoted.status, 2, 'a name with a space, unquoted, is not cut to its first word');
  t.match(unquoted.stderr, /unexpected "Europe"/);
});

t.test('readiness: 503 until the index is loaded', async (t) => {
  const app = await buildApp({ config: loadConfig({ DATA_DIR: tempDir(t) }), loadIndexes: false, logger: false });
  t.teardown(() => app.close());
  const before = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(before.statusCode, 503);
  t.equal(before.headers['retry-after'], '5');
  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'alive while loading');
  const loading = app.services.loadIndexes();
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503, 'still 503 while the worker builds the tables');
  await loading;
  t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
});

t.test('OpenAPI document lists every route with its responses', async (t) => {
  const app = await buildApp({ config: loadConfig({ DATA_DIR: tempDir(t) }), logger: false });
  t.teardown(() => app.close());
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
  t.equal(doc.openapi, '3.0.3');
  const hash = doc.paths['/v1/hash'].post;
  for (const status of ['200', '400', '413', '415', '422', '429', '500', '503']) t.ok(hash.responses[status], `/v1/hash documents ${status}`);
  // Every operation: a broken address (400) and a key that is not valid (401); with a body, 413 and 415; who needs a key.
  for (const [path, operations] of Object.entries(doc.paths as Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown; security?: unknown }>>)) {
    for (const [method, op] of Object.entries(operations)) {
      const label = `${method.toUpperCase()} ${path}`;
      t.ok(op.responses['400'] && op.responses['401'], `${label} documents 400 and 401`);
      if (op.requestBody) t.ok(op.responses['413'] && op.responses['415'], `${label} documents 413 and 415`);
      t.ok(op.security, `${label} says whether it needs a key`);
    }
  }
  t.same(doc.paths['/v1/banks'].post.security, [{ apiKey: [] }], 'banks need a key');
  t.same(doc.paths['/v1/match'].post.security, [{}, { apiKey: [] }], 'a key is optional for matching');
  t.ok(doc.paths['/v1/banks'].post.responses['413'], 'POST /v1/banks takes a body: 413');
  const ui = await app.inject({ method: 'GET', url: '/docs/' });
  t.equal(ui.statusCode, 200);
  t.match(ui.headers['content-type'], /text\/html/);
});

t.test('serve (what npm start runs): it listens, gets ready, and stops cleanly on SIGTERM', async (t) => {
  const port = await freePort();
  const child = spawn(process.execPath, [...TS_NODE_ARGS, 'src/cli/main.ts', 'serve'], {
    env: { ...process.env, PORT: String(port), DATA_DIR: tempDir(t), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let ready = false;
  for (let i = 0; i < 100 && !ready; i++) {
    await new Promise((r) => setTimeout(r, 200));
    ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false);
  }
  t.ok(ready, 'ready');
  const headers = (await fetch(`http://127.0.0.1:${port}/healthz`)).headers;
  t.equal(headers.get('x-content-type-options'), 'nosniff', 'security headers');
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'graceful exit');
});

t.test('serve exits 1 when it cannot listen, instead of exiting 0 or staying up', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  const child = spawn(process.execPath, [...TS_NODE_ARGS, 'src/cli/main.ts', 'serve'], {
    env: { ...process.env, PORT: String(port), DATA_DIR: tempDir(t), LOG_LEVEL: 'fatal' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.equal(code, 1, 'exit 1');
  t.match(output, /EADDRINUSE/, 'and says why');
});

t.test('a server whose indexes cannot be loaded stops and exits 1, instead of answering /healthz for ever', async (t) => {
  const port = await freePort();
  const original = Services.prototype.loadIndexes;
  Services.prototype.loadIndexes = () => Promise.reject(new Error('disk I/O error'));
  t.teardown(() => {
    Services.prototype.loadIndexes = original;
  });
  const exited = new Promise<number>((resolve) => void startServer(loadConfig({ PORT: String(port), DATA_DIR: tempDir(t), LOG_LEVEL: 'silent' }), resolve));
  t.equal(await exited, 1);
  t.equal(await fetch(`http://127.0.0.1:${port}/healthz`).then(() => 'answered', () => 'closed'), 'closed', 'no longer listening');
});

t.test('the metrics listener serves GET /metrics without a key, and nothing else; it closes with the app', async (t) => {
  const app = await buildApp({ config: loadConfig({ DATA_DIR: tempDir(t) }), logger: false });
  await app.ready();
  const server = await startMetricsListener(app, '127.0.0.1', 0);
  const { port } = server.address() as AddressInfo;
  const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.equal(metrics.status, 200);
  t.match(await metrics.text(), /process_cpu_user_seconds_total/);
  t.equal((await fetch(`http://127.0.0.1:${port}/v1/banks`)).status, 404, 'not the API');
  t.equal((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status, 404);
  await app.close();
  await t.rejects(fetch(`http://127.0.0.1:${port}/metrics`), 'closed with the app');
});
