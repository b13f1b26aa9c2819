/**
 * The victim page in headless Chromium against the real app: the browser's
 * PDQ against the server's for every good reference fixture; photos in a
 * bank, a cropped screenshot and an unrelated photo found exactly as the
 * CLI finds them, in plain words, with nothing of the captured content;
 * no request carrying image bytes or leaving the origin; a case registered,
 * read back and withdrawn; the quick exit; languages; axe at phone width.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Page, Request, Route } from 'playwright-core';
import { unzipSync } from 'fflate';
import sharp from 'sharp';
import t from 'tap';
import { main } from '../src/cli/main.js';
import { hammingDistance } from '../src/hashing/hamming.js';
import { pdq } from '../src/hashing/registry.js';
import { hashImage } from '../src/image/hash-image.js';
import { WEB_CSP } from '../src/api/plugins/web.js';
import { DEFAULT_EXIT_URL } from '../src/web/exit.js';
import { startWebHarness } from './helpers/browser.js';
import { PDQ_DIR, pdqExpected } from './helpers/fixtures.js';
import { multipart } from './helpers/multipart.js';

const harness = await startWebHarness();
/** The page left with results shown, for the case test. */
let resultsPage: Page | null = null;
/** Every hash the page sent. */
const sentHashes: string[] = [];
t.teardown(() => harness.close());
const { app, origin, browser } = harness;
const work = mkdtempSync(join(tmpdir(), 'ncii-web-files-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

const takedown = { authorization: `Bearer ${app.services.keys.create({ name: 'web test', role: 'takedown' }).secret}` };
const fixture = (name: string) => readFileSync(join(PDQ_DIR, name));

/** A phone screenshot of a photo: cropped to 90%, scaled to 720 wide, between a status bar and a chat bar. */
async function screenshotOf(bytes: Buffer, background: string): Promise<Buffer> {
  const { width, height } = await sharp(bytes).metadata();
  const crop = { left: Math.round(width! * 0.05), top: Math.round(height! * 0.05), width: Math.round(width! * 0.9), height: Math.round(height! * 0.9) };
  const photo = await sharp(bytes).extract(crop).resize({ width: 720 }).toBuffer();
  return sharp(photo).extend({ top: 96, bottom: 160, background }).jpeg({ quality: 85 }).toBuffer();
}

const bank = (await app.inject({ method: 'POST', url: '/v1/banks', headers: takedown, payload: { name: 'captured' } })).json().id as number;
async function ingest(name: string, bytes: Buffer, group: string, capturedAt: string): Promise<number> {
  const form = multipart([
    { name: 'image', filename: name, bytes, contentType: 'image/jpeg' },
    { name: 'group', value: group },
    { name: 'capturedAt', value: capturedAt },
    { name: 'messageUrl', value: `https://t.me/c/1234/${capturedAt.slice(8, 10)}` },
  ]);
  const res = await app.inject({ method: 'POST', url: `/v1/banks/${bank}/content`, payload: form.payload, headers: { ...form.headers, ...takedown } });
  if (res.statusCode !== 201) throw new Error(res.body);
  return res.json().items[0].id;
}

/**
 * What she picks: a photo the bank holds as it is, two whose cropped
 * screenshots it holds (captured content is mostly screenshots of the chat),
 * and one it does not hold.
 */
const PICKED = {
  'in-bank.jpg': fixture('q0122.jpg'),
  'screenshot-in-bank.jpg': fixture('q0746.jpg'),
  'dark-screenshot-in-bank.jpg': fixture('q2821.jpg'),
  'unrelated.jpg': fixture('q0291.jpg'),
};
await ingest('a.jpg', PICKED['in-bank.jpg'], 'Group One', '2026-03-04T10:00:00Z');
await ingest('b.jpg', await screenshotOf(PICKED['screenshot-in-bank.jpg'], '#f4f4f4'), 'Group Two', '2026-05-06T10:00:00Z');
await ingest('c.jpg', await screenshotOf(PICKED['dark-screenshot-in-bank.jpg'], '#111111'), 'Group Three', '2026-07-08T10:00:00Z');

async function asTakedown<T>(method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object): Promise<T> {
  const res = await app.inject({ method, url, headers: takedown, ...(payload ? { payload } : {}) });
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.json();
}

/** A scheduled scan of every bank and case, run now and waited for (bounded). */
async function runScan(): Promise<void> {
  const scan = await asTakedown<{ id: number }>('POST', '/v1/scans', { name: 'web test', cron: '0 */4 * * *', timeZone: 'UTC' });
  const started = await asTakedown<{ id: number }>('POST', `/v1/scans/${scan.id}/run`, {});
  for (let tries = 0; tries < 600; tries++) {
    if ((await asTakedown<{ status: string }>('GET', `/v1/scan-runs/${started.id}`)).status !== 'running') return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the scan run did not finish');
}

/** Reported, then taken down, as the takedown team records it. */
async function markRemoved(matchId: number): Promise<void> {
  await asTakedown('PATCH', `/v1/matches/${matchId}`, { status: 'reported', where: 'Telegram abuse form', reference: 'TG-1' });
  await asTakedown('PATCH', `/v1/matches/${matchId}`, { status: 'removed' });
}

/** The CLI's robust check of a file: `ncii-match match --url ORIGIN FILE`, anonymous. */
async function cliMatches(name: string, bytes: Buffer): Promise<number[]> {
  const file = join(work, name);
  writeFileSync(file, bytes);
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (chunk) => (out += chunk));
  const code = await main(['match', '--url', origin, file], { stdout, stderr: new PassThrough() });
  if (code !== 0) throw new Error(`ncii-match exited ${code}: ${out}`);
  return (JSON.parse(out.trim()).matches as { contentId: number }[]).map((m) => m.contentId).sort();
}

/** Every request the page makes, with its body. */
function recordRequests(page: Page): Request[] {
  const requests: Request[] = [];
  page.context().on('request', (request) => requests.push(request));
  return requests;
}

async function openPage(locale = 'en-GB', viewport = { width: 1280, height: 900 }): Promise<Page> {
  const context = await browser.newContext({ locale, viewport });
  const page = await context.newPage();
  page.on('pageerror', (err) => t.fail(`page error: ${err.message}`));
  await page.goto(`${origin}/`);
  return page;
}

async function pick(page: Page, files: Record<string, Buffer>): Promise<void> {
  await page.setInputFiles('#photos', Object.entries(files).map(([name, buffer]) => ({ name, mimeType: 'image/jpeg', buffer })));
  await page.waitForSelector('#results:not([hidden])', { timeout: 120_000 });
}

t.test('the page and its scripts carry the strict CSP; nothing is fetched from elsewhere', async (t) => {
  for (const path of ['/', '/assets/app.js', '/assets/worker.js', '/assets/app.css']) {
    const res = await app.inject({ method: 'GET', url: path });
    t.equal(res.statusCode, 200, path);
    t.equal(res.headers['content-security-policy'], WEB_CSP, `${path}: the page's CSP`);
    t.equal(res.headers['cache-control'], 'no-store');
  }
  t.match(WEB_CSP, /default-src 'self'/);
  t.notMatch(WEB_CSP, /'unsafe-inline'|'unsafe-eval'|\*/, 'no inline script, no eval, no wildcard');
  const html = (await app.inject({ method: 'GET', url: '/' })).body;
  t.notMatch(html, /<script>|<script [^>]*src="(?!\/assets\/)|<link [^>]*href="https?:/, 'no inline script, no script or style from elsewhere');
});

/** The PDQ the page's worker computes for each file (the unrotated one of the 8 it sends). */
async function browserPdq(files: Buffer[]): Promise<string[]> {
  const page = await openPage();
  const hashes = await page.evaluate(async (files: string[]) => {
    const worker = new Worker('/assets/worker.js');
    const out: string[] = [];
    for (const [id, b64] of files.entries()) {
      const file = new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))]);
      const reply = await new Promise<{ ok: boolean; code?: string; signals?: { type: string; hash: string; variant?: string }[] }>((resolve) => {
        worker.onmessage = (event) => resolve(event.data);
        worker.postMessage({ id, file });
      });
      out.push(reply.ok ? reply.signals!.find((s) => s.type === 'pdq' && s.variant === 'orig')!.hash : `error ${reply.code}`);
    }
    worker.terminate();
    return out;
  }, files.map((f) => f.toString('base64')));
  await page.context().close();
  return hashes;
}

t.test("the browser PDQ of every fixture of quality >= 80, and of a 12 MP photo, is within 8 bits of the server's", async (t) => {
  const rows = pdqExpected().filter((r) => Number(r.quality) >= 80);
  t.ok(rows.length >= 20, `${rows.length} fixtures`);
  // A phone-sized photo is hashed at the fast decode's 1/4 scale on both sides.
  const large = await sharp(fixture('q0746.jpg')).resize(4032, 3024, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
  const files: [string, Buffer][] = [...rows.map((r): [string, Buffer] => [r.file, fixture(r.file)]), ['q0746 at 4032 x 3024', large]];
  const hashes = await browserPdq(files.map(([, bytes]) => bytes));
  for (const [i, [name, bytes]] of files.entries()) {
    const server = (await hashImage(bytes)).pdq!.hash;
    const distance = /^[0-9a-f]{64}$/.test(hashes[i]) ? hammingDistance(pdq.parse(hashes[i]), server) : Infinity;
    t.ok(distance <= 8, `${name}: browser PDQ ${distance} bits from the server's`);
  }
});

t.test('photos in a bank and a cropped screenshot are found as the CLI finds them, an unrelated one is not; only hashes leave', async (t) => {
  const page = await openPage();
  const requests = recordRequests(page);
  const answers: number[][] = [];
  page.on('response', async (response) => {
    if (response.url().endsWith('/v1/match')) answers.push(((await response.json()).matches as { contentId: number }[]).map((m) => m.contentId).sort());
  });
  await pick(page, PICKED);
  await page.waitForFunction(() => document.querySelectorAll('#results-body .photo-result').length === 4);
  const names = Object.keys(PICKED) as (keyof typeof PICKED)[];
  for (const [i, name] of names.entries()) {
    const cli = await cliMatches(name, PICKED[name]);
    t.same(answers[i], cli, `${name}: the page finds what the CLI finds (${cli.length})`);
    t.equal(cli.length, name === 'unrelated.jpg' ? 0 : 1, `${name}: ${name === 'unrelated.jpg' ? 'not found' : 'found'}`);
  }
  const blocks = await page.$$eval('#results-body .photo-result', (nodes) => nodes.map((n) => (n as HTMLElement).innerText));
  t.match(blocks[0], /Photo 1\s+Found in 1 place\.\s+Platforms: telegram\s+Groups: Group One \(telegram\)\s+First seen: March 4, 2026\s+Last seen: March 4, 2026/);
  t.match(blocks[1], /Group Two/);
  t.match(blocks[2], /Group Three/);
  t.match(blocks[3], /Not seen in the groups this service watches/);
  t.match(await page.textContent('#next-steps'), /You are not to blame/);
  const text = (await page.textContent('body')) ?? '';
  t.notMatch(text, /t\.me|https:\/\/t\.|contentId/, 'no message link or content id on the page');

  // Every request: to this origin, and no body holds any part of a photo, raw, hex or base64.
  t.ok(requests.length > 0);
  for (const request of requests) {
    t.ok(request.url().startsWith(origin) || /^(data|blob):/.test(request.url()), `${request.method()} ${request.url()} stays on the origin`);
    const body = request.postDataBuffer();
    if (!body) continue;
    const sent = body.toString('latin1');
    for (const bytes of Object.values(PICKED)) {
      for (const at of [2, Math.floor(bytes.length / 3), Math.floor(bytes.length / 2), bytes.length - 40]) {
        const window = bytes.subarray(at, at + 24);
        t.notOk(sent.includes(window.toString('latin1')) || sent.includes(window.toString('hex')) || sent.includes(window.toString('base64')), `${request.url()}: no image bytes`);
      }
    }
    t.match(request.headers()['content-type'], /^application\/json/, 'bodies are JSON hashes');
    for (const signal of (JSON.parse(body.toString()).signals ?? []) as { hash: string }[]) sentHashes.push(signal.hash);
  }
  t.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0, 'nothing in storage');
  t.equal(page.url(), `${origin}/`, 'nothing in the URL');
  t.equal(await page.evaluate(() => history.length), 2, 'no history entries beyond the blank tab and the page');
  resultsPage = page;
});

t.test('register the photos as a case, read it back, withdraw it', async (t) => {
  const page = resultsPage!;
  t.teardown(() => page.context().close());
  t.equal(await page.textContent('#register-button'), 'Register these 4 photos');
  await page.click('#register-button');
  await page.waitForSelector('#credentials:not([hidden])');
  const caseNumber = (await page.textContent('#new-case-number'))!;
  const pin = (await page.textContent('#new-pin'))!;
  t.match(pin, /^\d{4}-\d{4}-\d{4}$/);
  t.equal(await page.evaluate(() => document.activeElement?.id), 'credentials-heading', 'focus goes to the credentials');
  const read = await app.inject({ method: 'GET', url: `/v1/cases/${caseNumber}`, headers: { 'x-case-pin': pin } });
  t.equal(read.statusCode, 200, 'the case exists on the server');
  t.ok(read.json().hashes > 100, `${read.json().hashes} hashes registered (each photo's robust query)`);
  t.equal(app.services.store.findCaseByNumber(caseNumber)!.language, 'en', "in the page's language, for its evidence summary");

  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin });
  await page.click('#copy');
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  t.ok(copied.includes(caseNumber) && copied.includes(pin), 'the copy button copies both');
  await page.click('#wrote-down');
  t.notOk((await page.content()).includes(pin), 'once written down, the PIN is gone from the page');

  await page.fill('#case-number', caseNumber);
  await page.fill('#case-pin', '0000-0000-0000');
  await page.click('#case-form button[type="submit"]');
  await page.waitForSelector('#case-result p');
  t.equal(await page.textContent('#case-result'), 'No case has this case number and PIN. Check both and try again.');
  t.ok(await page.isHidden('#withdraw'), 'nothing to withdraw with a wrong PIN');

  await page.fill('#case-pin', pin);
  await page.click('#case-form button[type="submit"]');
  await page.waitForSelector('#withdraw:not([hidden])');
  const found = read.json().found.matches as number;
  const places = found === 0 ? 'nothing found so far' : `found in ${found} place${found === 1 ? '' : 's'}`;
  t.match(await page.textContent('#case-result'), `Case ${caseNumber}, registered`);
  t.match(await page.textContent('#case-result'), places, `the page says what the case report says (${found})`);
  t.match(await page.textContent('#case-result .takedown-progress'), /has not found these photos/, 'before any scan, monitoring found nothing');

  // A scan finds the copies the bank holds; the takedown team gets one removed, then the rest.
  await runScan();
  const scanned = (await asTakedown<{ matches: { id: number }[] }>('GET', `/v1/matches?case=${encodeURIComponent(caseNumber)}`)).matches;
  t.equal(scanned.length, 3, 'the scan found the three photos the bank holds');
  const progressAfterCheck = async () => {
    const before = await page.textContent('#case-result .takedown-progress');
    await page.click('#case-form button[type="submit"]');
    await page.waitForFunction((old) => {
      const now = document.querySelector('#case-result .takedown-progress')?.textContent;
      return now && now !== old;
    }, before);
    return page.textContent('#case-result .takedown-progress');
  };
  await markRemoved(scanned[0].id);
  t.equal(await progressAfterCheck(), 'Found in 3 places by our monitoring; 1 removed so far; still working on 2.');
  const takedownText = await page.innerText('#case-result .takedown');
  t.match(takedownText, /Groups: .*Group One \(telegram\)/, 'in which groups');
  t.notMatch(await page.textContent('body'), /t\.me|TG-1|Telegram abuse form/, 'no message link or takedown detail on the page');

  // Her evidence package: fetched with the PIN in a header and saved from memory.
  const requests = recordRequests(page);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#evidence')]);
  const zip = readFileSync((await download.path())!);
  t.equal(zip.subarray(0, 2).toString('latin1'), 'PK', 'a zip');
  const files = unzipSync(zip);
  t.ok('evidence.json' in files, `the package holds evidence.json (${Object.keys(files).join(', ')})`);
  t.same(JSON.parse(Buffer.from(files['evidence.json']).toString('utf8')).scope, { kind: 'case', caseNumber }, 'of her case');
  t.match(download.suggestedFilename(), /\.zip$/);
  await page.waitForFunction(() => document.querySelector('#evidence-status')?.textContent?.startsWith('Saved as'));
  const asked = requests.find((r) => r.url().includes('/evidence'))!;
  t.equal(asked.headers()['x-case-pin'], pin, 'the PIN goes in a header');
  t.notOk(asked.url().includes(pin), 'never in the URL');
  t.equal(page.url(), `${origin}/`, 'nothing in the page URL');

  for (const { id } of scanned.slice(1)) await markRemoved(id);
  t.equal(await progressAfterCheck(), 'Found in 3 places by our monitoring: all removed.');
  await page.click('#withdraw');
  t.equal(await page.evaluate(() => document.activeElement?.id), 'withdraw-yes', 'asked to confirm');
  await page.click('#withdraw-yes');
  await page.waitForFunction(() => document.querySelector('#case-result')?.textContent?.includes('withdrawn'));
  t.equal((await app.inject({ method: 'GET', url: `/v1/cases/${caseNumber}`, headers: { 'x-case-pin': pin } })).statusCode, 404, 'the case is gone');
  t.equal(await page.inputValue('#case-pin'), '', 'the PIN field is emptied');
  t.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0, 'nothing in storage');
  const logged = harness.logs.join('');
  t.ok(logged.includes('/v1/cases/:caseNumber'), 'the case requests were logged');
  t.notOk(logged.includes(caseNumber) || logged.includes(pin) || logged.includes(pin.replace(/-/g, '')), 'by route pattern: no case number or PIN in the logs');
  t.notOk(sentHashes.some((hash) => logged.includes(hash)), 'no hash the page sent is in the logs');
});

t.test('the quick exit and Escape leave for the neutral site, replacing the page in the history', async (t) => {
  for (const how of ['button', 'Escape'] as const) {
    const page = await openPage();
    const entries = await page.evaluate(() => history.length);
    await page.context().route(`${DEFAULT_EXIT_URL.split('?')[0]}**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>Weather</title>' }));
    if (how === 'button') await page.click('#quick-exit');
    else await page.keyboard.press('Escape');
    await page.waitForURL(DEFAULT_EXIT_URL);
    t.equal(await page.title(), 'Weather', `${how}: left`);
    t.equal(await page.evaluate(() => history.length), entries, `${how}: the page's history entry was replaced, none added`);
    await page.goBack();
    t.notOk(page.url().startsWith(origin), `${how}: Back does not return to the page (${page.url()})`);
    await page.context().close();
  }
});

t.test('replies that arrive after the quick exit, before the browser has left, draw and send nothing', async (t) => {
  const context = await browser.newContext({ locale: 'en-GB' });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  const held = (pattern: string, answer: (route: Route) => Promise<void> = (route) => route.continue()) => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const seen = new Promise<void>((resolve) =>
      void context.route(pattern, async (route) => {
        resolve();
        await released;
        await answer(route).catch(() => undefined);
      }),
    );
    return { seen, release };
  };
  const help = held('**/help-resources.json');
  const match = held('**/v1/match');
  const exit = held(`${DEFAULT_EXIT_URL.split('?')[0]}**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<title>Weather</title>' }));
  const matchRequests = recordRequests(page);
  await page.goto(`${origin}/`);
  await help.seen;
  await page.setInputFiles('#photos', ['in-bank.jpg', 'unrelated.jpg'].map((name) => ({ name, mimeType: 'image/jpeg', buffer: PICKED[name as keyof typeof PICKED] })));
  await match.seen;
  // Escape, not a click: a click would wait for the navigation held here.
  await page.keyboard.press('Escape');
  await exit.seen;
  // The page is emptied and the exit site has not answered yet: now the late replies come.
  const answered = Promise.all([page.waitForResponse('**/help-resources.json'), page.waitForResponse('**/v1/match')]);
  help.release();
  match.release();
  await answered;
  // The page cannot be asked anything while it leaves; its errors and requests still come through.
  await new Promise((resolve) => setTimeout(resolve, 500));
  t.same(errors, [], 'nothing tried to draw into the emptied page');
  t.equal(matchRequests.filter((r) => r.url().endsWith('/v1/match')).length, 1, 'the second photo was not checked');
  exit.release();
  await page.waitForURL(DEFAULT_EXIT_URL);
  await context.close();
});

t.test('the language follows the browser and the switch changes it', async (t) => {
  const cases: [string, string, string][] = [
    ['mk-MK', 'mk', 'Проверете дали вашите фотографии се споделени'],
    ['sr-RS', 'sr-Cyrl', 'Проверите да ли су ваше фотографије подељене'],
    ['de-DE', 'en', 'Check whether your photos were shared'],
  ];
  for (const [locale, lang, title] of cases) {
    const page = await openPage(locale);
    t.equal(await page.getAttribute('html', 'lang'), lang, `${locale}: ${lang}`);
    t.equal(await page.textContent('h1'), title);
    await page.selectOption('#language', 'sq');
    t.equal(await page.getAttribute('html', 'lang'), 'sq', 'switched');
    t.equal(await page.textContent('h1'), 'Kontrolloni nëse fotot tuaja janë shpërndarë');
    await page.context().close();
  }
});

t.test('at 360 px: no sideways scrolling, keyboard order, and no serious axe violations', async (t) => {
  const page = await openPage('hr-HR', { width: 360, height: 740 });
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.id), 'quick-exit', 'the quick exit is the first stop');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.id), 'language', 'then the language');
  await page.keyboard.press('Tab');
  t.equal(await page.evaluate(() => document.activeElement?.id), 'photos', 'then the photos');
  await pick(page, { 'in-bank.jpg': PICKED['in-bank.jpg'] });
  await page.waitForSelector('#register:not([hidden])');
  t.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'nothing wider than the screen');
  await page.evaluate(readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8'));
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  t.same(serious, [], 'no serious or critical violations');
  if (violations.length > serious.length) t.comment(`minor: ${JSON.stringify(violations.filter((v) => !serious.includes(v)))}`);
  await page.context().close();
});
