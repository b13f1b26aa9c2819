/**
 * The takedown dashboard in headless Chromium (Debian's, driven by
 * playwright-core) against the real app: a scan run over real stored hashes,
 * then sign in with a takedown key, filter, move a match to reported and
 * removed, read the chart, download a run's CSV, import a zipped Telegram
 * export and a hash list into banks; every request the page makes goes to the
 * service's own origin. The same run and status changes reach a
 * webhook receiver as signed deliveries.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { zipSync } from 'fflate';
import t from 'tap';
import { FIXTURE_CHAT, makeTelegramFixture } from '../scripts/make-telegram-fixture.js';
import { startWebHarness } from './helpers/browser.js';

/** Past the Telegram fixture's zip (about 2 MB), so that a larger hash list meets the limit. */
const MAX_IMPORT_BYTES = 3_000_000;
const harness = await startWebHarness({ WEBHOOK_ALLOW_HOSTS: '127.0.0.1', WEBHOOK_RETRY_BASE_MS: '20', KEYED_REQUESTS_PER_MINUTE: '100000', MAX_IMPORT_BYTES: String(MAX_IMPORT_BYTES) });
t.teardown(() => harness.close());
const { app, origin, browser } = harness;

const takedownKey = app.services.keys.create({ name: 'dashboard test', role: 'takedown' }).secret;
const auth = { authorization: `Bearer ${takedownKey}` };

// A webhook receiver, to see the dashboard's status changes leave as signed deliveries.
const deliveries: { event: string; body: string; signature: string }[] = [];
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
    deliveries.push({ event: String(req.headers['x-ncii-event']), body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['x-ncii-signature']) });
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
t.teardown(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
const hook = await app.inject({
  method: 'POST',
  url: '/v1/webhooks',
  headers: auth,
  payload: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/ncii`, events: ['scan.run.finished', 'match.status.changed'] },
});
const hookSecret = hook.json<{ secret: string }>().secret;

const pdq = () => randomBytes(32).toString('hex');
/** Two victims' photos, captured in three groups; one captured item matches nothing. */
const photoA = pdq();
const photoB = pdq();
const CAPTURED = [
  { hash: photoA, group: 'alpha chat', message: 'https://t.me/alpha/1' },
  { hash: photoA, group: 'alpha chat', message: 'https://t.me/alpha/2' },
  { hash: photoA, group: 'beta =channel', message: 'https://t.me/beta/7' },
  { hash: photoB, group: 'beta =channel', message: 'https://t.me/beta/8' },
  { hash: photoB, group: 'gamma', message: 'javascript:alert(1)' },
  { hash: pdq(), group: 'gamma', message: 'https://t.me/gamma/3' },
];

async function post<T>(url: string, payload: unknown): Promise<T> {
  const res = await app.inject({ method: 'POST', url, headers: auth, payload: payload as object });
  if (res.statusCode >= 300) throw new Error(`${url}: ${res.statusCode} ${res.body}`);
  return res.json<T>();
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  // A bound on waiting, not a timing assertion.
  for (let i = 0; i < 3000; i++) {
    const value = await probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`never happened: ${what}`);
}

const caseA = await post<{ caseNumber: string }>('/v1/cases', { signals: [{ type: 'pdq', hash: photoA }] });
await post('/v1/cases', { signals: [{ type: 'pdq', hash: photoB }] });
const bank = await post<{ id: number }>('/v1/banks', { name: 'captured' });
await post(`/v1/banks/${bank.id}/content`, {
  items: CAPTURED.map((c) => ({ signals: [{ type: 'pdq', hash: c.hash }], platform: 'telegram', group: c.group, messageUrl: c.message })),
});
const scan = await post<{ id: number }>('/v1/scans', { name: 'every four hours', cron: '0 */4 * * *', timeZone: 'UTC' });
const started = await post<{ id: number }>(`/v1/scans/${scan.id}/run`, {});
const run = await until('the run finishes', async () => {
  const r = (await app.inject({ method: 'GET', url: `/v1/scan-runs/${started.id}`, headers: auth })).json<{ id: number; status: string; newMatches: number }>();
  return r.status !== 'running' && r;
});
const EXPECTED = 5;

const verify = (body: string, header: string) => {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const expected = createHmac('sha256', hookSecret).update(`${parts.t}.${body}`).digest();
  return Math.abs(Date.now() / 1000 - Number(parts.t)) <= 300 && timingSafeEqual(Buffer.from(parts.v1, 'hex'), expected);
};

t.test('the scan run found every copy, and a signed webhook said so', async (t) => {
  t.match(run, { status: 'done', newMatches: EXPECTED });
  const delivery = await until('scan.run.finished delivered', () => deliveries.find((d) => d.event === 'scan.run.finished'));
  t.ok(verify(delivery.body, delivery.signature), 'signed with the webhook secret');
  t.match(JSON.parse(delivery.body), { event: 'scan.run.finished', data: { runId: run.id, scanId: scan.id, status: 'done', newMatches: EXPECTED } });
  t.notOk(delivery.body.includes(caseA.caseNumber), 'no case number in a delivery');
  t.notOk(delivery.body.includes(photoA), 'no hash in a delivery');
});

t.test('sign in, filter, report and remove a match, chart, download the CSV; only this origin is ever asked', async (t) => {
  const context = await browser.newContext({ acceptDownloads: true });
  t.teardown(() => context.close());
  const elsewhere: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`) || url.startsWith('blob:') || url.startsWith('data:')) return route.continue();
    elsewhere.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  const response = await page.goto(`${origin}/dashboard`);
  t.match(response?.headers()['content-security-policy'], /default-src 'self'/, 'served under the strict CSP');

  await page.fill('#key', takedownKey);
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForSelector('#match-rows tr');
  await until('every match listed', async () => (await page.locator('#match-rows tr').count()) === EXPECTED);
  t.equal(await page.evaluate<string | null>("sessionStorage.getItem('ncii-takedown-key')"), takedownKey, 'the key is in session storage');
  t.equal(await page.evaluate<number>('localStorage.length'), 0, 'and nowhere lasting');
  t.same(await context.cookies(), [], 'no cookie');
  t.equal(await page.locator('#match-rows a[href^="javascript:"]').count(), 0, 'a message "link" that is not http(s) is shown as text');

  await page.fill('#f-group', 'alpha chat');
  await page.click('#filters button[type=submit]');
  await until('filtered to one group', async () => (await page.locator('#match-rows tr').count()) === 2);
  const groups = await page.locator('#match-rows tr td:nth-child(4)').allTextContents();
  t.same(groups, ['alpha chat', 'alpha chat'], 'the group filter applies');

  const row = page.locator('#match-rows tr').first();
  const matchId = Number(await row.getAttribute('data-match'));
  await row.locator('[data-action=report]').click();
  await page.fill('#report-dialog input[name=where]', 'Telegram abuse form');
  await page.fill('#report-dialog input[name=reference]', 'TG-4411');
  await page.click('#report-dialog button[value=save]');
  const rowById = page.locator(`#match-rows tr[data-match="${matchId}"]`);
  await until('reported', async () => (await rowById.locator('.badge').textContent()) === 'reported');
  t.match(await rowById.locator('td[data-field=status]').textContent(), /Telegram abuse form TG-4411/);
  await rowById.locator('[data-action=removed]').click();
  await until('removed', async () => (await rowById.locator('.badge').textContent()) === 'removed');
  const stored = (await app.inject({ method: 'GET', url: `/v1/matches/${matchId}`, headers: auth })).json<{ status: string; reportedWhere: string; reference: string; events: { from: string | null; to: string; actor: string }[] }>();
  t.match(stored, { status: 'removed', reportedWhere: 'Telegram abuse form', reference: 'TG-4411' }, 'the service recorded both changes');
  t.match(stored.events.slice(-2), [{ from: 'new', to: 'reported', actor: /^key:/ }, { from: 'reported', to: 'removed', actor: /^key:/ }]);

  await page.selectOption('#f-status', 'removed');
  await page.fill('#f-group', '');
  await page.click('#filters button[type=submit]');
  await until('status filter', async () => (await page.locator('#match-rows tr').count()) === 1);
  t.equal(await page.locator('#match-rows tr').getAttribute('data-match'), String(matchId), 'the status filter shows the removed match');

  // The chart is redrawn after the list (and after each change) without blocking it: wait for the redraw, then check its counts.
  const chartCounts = async () => {
    const bars = await page.locator('#chart-status rect[data-status]').evaluateAll((rects) => rects.map((r) => ({ status: r.getAttribute('data-status'), count: Number(r.getAttribute('data-count')) })));
    const byStatus = (s: string) => bars.filter((b) => b.status === s).reduce((n, b) => n + b.count, 0);
    return { new: byStatus('new'), reported: byStatus('reported'), removed: byStatus('removed') };
  };
  await until('the chart shows the removal', async () => (await chartCounts()).removed === 1).catch(() => undefined);
  t.same(await chartCounts(), { new: EXPECTED - 1, reported: 0, removed: 1 }, 'the chart counts matches by status (every status, whatever the status filter)');
  const lines = await page.locator('#chart-group polyline').evaluateAll((ls) => ls.map((l) => l.getAttribute('data-group')));
  t.same([...lines].sort(), ['alpha chat', 'beta =channel', 'gamma'], 'one line per group');

  await page.waitForSelector(`#run-rows tr[data-run="${run.id}"]`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click(`#run-rows tr[data-run="${run.id}"] [data-action=csv]`)]);
  t.equal(download.suggestedFilename(), `scan-run-${run.id}.csv`);
  const csv = readFileSync((await download.path())!, 'utf8');
  t.ok(csv.startsWith('\uFEFF'), 'UTF-8 with a BOM');
  const lines2 = csv.slice(1).trim().split('\r\n');
  t.match(lines2[0], /^platform,group,/, 'a header row');
  t.equal(lines2.length, 1 + EXPECTED, 'one row per match');
  t.ok(lines2.some((l) => l.includes(`,${matchId},`) && l.includes(',removed,') && l.includes('TG-4411')), 'the removed match, with its reference');
  t.same([...new Set(lines2.slice(1).map((l) => l.split(',')[1]))].sort(), ['alpha chat', 'beta =channel', 'gamma'], 'grouped by group');

  t.same(elsewhere, [], 'no request left this origin');
  t.same(errors, [], 'no error in the page');

  const changes = await until('status changes delivered', () => {
    const found = deliveries.filter((d) => d.event === 'match.status.changed');
    return found.length >= 2 && found;
  });
  t.ok(changes.every((d) => verify(d.body, d.signature)), 'signed');
  t.same(changes.map((d) => (JSON.parse(d.body) as { data: { matchId: number; from: string; to: string } }).data).map(({ matchId: id, from, to }) => ({ id, from, to })), [
    { id: matchId, from: 'new', to: 'reported' },
    { id: matchId, from: 'reported', to: 'removed' },
  ]);
});

t.test('dismiss with a reason; a wrong or lesser key cannot sign in; a new tab is signed out', async (t) => {
  const context = await browser.newContext();
  t.teardown(() => context.close());
  const page = await context.newPage();
  await page.goto(`${origin}/dashboard`);
  await page.fill('#key', 'nm_not-a-key');
  await page.click('#sign-in-form button[type=submit]');
  await until('refused', async () => /not valid/.test((await page.textContent('#sign-in-error')) ?? ''));
  t.ok(await page.isHidden('#board'), 'the board stays hidden');
  t.equal(await page.evaluate<number>('sessionStorage.length'), 0, 'a refused key is not kept');

  await page.fill('#key', app.services.keys.create({ name: 'ngo', role: 'ngo' }).secret);
  await page.click('#sign-in-form button[type=submit]');
  await until('ngo refused', async () => /needs a takedown or admin key/.test((await page.textContent('#sign-in-error')) ?? ''));

  await page.fill('#key', takedownKey);
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForSelector('#match-rows tr');
  const row = page.locator('#match-rows tr', { hasText: 'gamma' }).first();
  const id = await row.getAttribute('data-match');
  await row.locator('[data-action=dismiss]').click();
  await page.fill('#dismiss-dialog input[name=reason]', 'not the same photo');
  await page.click('#dismiss-dialog button[value=save]');
  const dismissed = page.locator(`#match-rows tr[data-match="${id}"]`);
  await until('dismissed', async () => (await dismissed.locator('.badge').textContent()) === 'dismissed');
  t.match(await dismissed.locator('td[data-field=status]').textContent(), /not the same photo/);

  await page.reload();
  await page.waitForSelector('#match-rows tr');
  t.ok(await page.isVisible('#board'), 'a reload of the tab keeps the session');
  await page.click('#sign-out');
  t.equal(await page.evaluate<number>('sessionStorage.length'), 0, 'sign out forgets the key');
  const other = await (await browser.newContext()).newPage();
  await other.goto(`${origin}/dashboard`);
  t.ok(await other.isVisible('#sign-in'), 'another tab starts signed out');
  await other.context().close();
});

/** The fixture export (scripts/make-telegram-fixture.ts) zipped as a team would send it: its folder at the top. */
function zippedExport(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-dashboard-tg-'));
  try {
    const exportDir = makeTelegramFixture(join(dir, 'ChatExport_2026-12-01'));
    const entries: Record<string, Uint8Array> = {};
    const walk = (d: string): void => {
      for (const f of readdirSync(d)) {
        const path = join(d, f);
        if (statSync(path).isDirectory()) walk(path);
        else entries[`ChatExport_2026-12-01/${relative(exportDir, path)}`] = readFileSync(path);
      }
    };
    walk(exportDir);
    return Buffer.from(zipSync(entries));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('import a zipped Telegram export and a hash list from the dashboard, 360 px wide', async (t) => {
  const tgBank = await post<{ id: number }>('/v1/banks', { name: 'telegram import' });
  const listBank = await post<{ id: number }>('/v1/banks', { name: 'partner list' });
  const context = await browser.newContext({ viewport: { width: 360, height: 740 } });
  t.teardown(() => context.close());
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(`${origin}/dashboard`);
  await page.fill('#key', takedownKey);
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForSelector(`#i-bank option[value="${tgBank.id}"]`, { state: 'attached' });
  const right = await page.locator('#import-form').evaluate((f) => f.getBoundingClientRect().right);
  t.ok(right <= 360, `the form fits 360 px (right edge ${right})`);
  t.ok(await page.isHidden('#i-format-field'), 'the format is asked only for a hash list');

  await page.selectOption('#i-bank', String(tgBank.id));
  await page.fill('#i-username', '@leaks_group');
  await page.setInputFiles('#i-file', { name: 'ChatExport_2026-12-01.zip', mimeType: 'application/zip', buffer: zippedExport() });
  await page.click('#import-form button[type=submit]');
  await page.waitForSelector('#import-report li[data-field=added]', { timeout: 120_000 });
  const said = async (field: string) => page.textContent(`#import-report li[data-field=${field}]`);
  t.match(await said('added'), /^Added: 4 messages \(3 images, 1 video read;/, 'added, as the report says');
  t.match(await said('existing'), /: 0 messages/);
  t.match(await said('not-included'), /Left out of the export \(file not included\): 1 message\./);
  t.match(await said('failed'), /Failed: 0 messages/);
  t.match(await page.textContent('#import-status'), /Imported ChatExport_2026-12-01\.zip into telegram import/);
  t.equal(await page.getAttribute('#import-status', 'aria-live'), 'polite', 'a live status region');
  const content = (await app.inject({ method: 'GET', url: `/v1/banks/${tgBank.id}/content`, headers: auth })).json<{ items: { platform: string; group: string; messageUrl: string; metadata: { telegram: { messageId: number } } }[] }>();
  t.same(
    content.items.map((i) => [i.platform, i.group, i.messageUrl, i.metadata.telegram.messageId]),
    [2, 3, 4, 6].map((m) => ['telegram', FIXTURE_CHAT.name, `https://t.me/leaks_group/${m}`, m]),
    'the messages are in the bank with their provenance, linked by the username given',
  );

  await page.check('input[name=i-kind][value=hashes]');
  await page.selectOption('#i-bank', String(listBank.id));
  await page.selectOption('#i-format', 'te-file');
  const good = [pdq(), pdq()];
  const list = `# partner list\npdq ${good[0]}\npdq not-a-hash\n${good[1]}\n`;
  await page.setInputFiles('#i-file', { name: 'partner.txt', mimeType: 'text/plain', buffer: Buffer.from(list) });
  await page.click('#import-form button[type=submit]');
  await page.waitForSelector('#import-report li[data-field=rejected]');
  t.match(await said('added'), /^Added: 2 records \(2 hashes stored\)/);
  t.match(await said('duplicate'), /duplicates\): 0 records/);
  t.match(await said('rejected'), /Rejected: 1 row\./);
  t.match(await page.textContent('#import-report li[data-line]'), /^Line 3: /, 'the malformed line, by its number');
  const stored = (await app.inject({ method: 'GET', url: `/v1/banks/${listBank.id}/export?format=te-file`, headers: auth })).body;
  t.same(good.every((h) => stored.includes(h)), true, 'the good hashes are in the bank');

  await page.check('#i-strict');
  await page.click('#import-form button[type=submit]');
  await until('strict refused', async () => /refused the file \(INVALID_REQUEST\): line 3: .*Nothing was imported/.test((await page.textContent('#import-status')) ?? ''));
  t.equal(await page.locator('#import-report li').count(), 0, 'a refused import shows no report');

  await page.setInputFiles('#i-file', { name: 'huge.txt', mimeType: 'text/plain', buffer: Buffer.alloc(MAX_IMPORT_BYTES + 1, '#\n') });
  await page.click('#import-form button[type=submit]');
  await until('too large', async () => /too large/.test((await page.textContent('#import-status')) ?? ''));
  t.match(await page.textContent('#import-status'), /too large for the service: The body is larger than 3000000 bytes \(MAX_IMPORT_BYTES\)\. Nothing was imported\./, "the service's 413, in words");
  t.ok(await page.isEnabled('#import-form button[type=submit]'), 'the form is usable again');
  t.same(errors, [], 'no error in the page');
});

t.test('the logs hold neither the takedown key nor the webhook secret', async (t) => {
  const logged = harness.logs.join('');
  t.ok(logged.length > 0, 'the app logged');
  t.notOk(logged.includes(takedownKey), 'no takedown key');
  t.notOk(logged.includes(hookSecret), 'no webhook secret');
});
