/**
 * Evidence packages end to end: a scan finds a victim's photo in captured
 * content, a takedown team moves the match along, and the package of her
 * case says what was found, where, when, by whom and since with what status;
 * it verifies offline, and no byte of it can change without the check
 * failing with a reason; another instance's key is refused; a package made
 * before a key rotation still verifies after it; she can get her own with her
 * case number and PIN; openssl and sha256sum check it without this program.
 * The summary is in the language her case was registered in (here Serbian,
 * Latin script), or one asked for, or English; every language's text says
 * everything the English does.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strFromU8, unzipSync } from 'fflate';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { SUMMARY_LANGUAGES, SUMMARY_TEXT, type SummaryLanguage, summaryDisagreement } from '../src/evidence/summary.js';
import { verifyEvidencePackage } from '../src/evidence/verify.js';
import { MATCH_STATUSES } from '../src/store/scan-matches.js';
import { LANGUAGES as PAGE_LANGUAGES } from '../src/web/i18n.js';
import { SIGNING_KEY_FILE } from '../src/services/signing.js';
import { runCli } from './helpers/cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'ncii-evidence-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

const cli = (dataDir: string, argv: string[]) => runCli(argv, { env: { DATA_DIR: dataDir } });

/** Setup runs before any test: a failure there throws rather than asserts. */
function must(ok: boolean, message: string): void {
  if (!ok) throw new Error(`setup failed: ${message}`);
}

/** A PDQ hash `bits` bits away from `hex`. */
function near(hex: string, bits: number): string {
  const bytes = Buffer.from(hex, 'hex');
  for (let i = 0; i < bits; i++) bytes[i * 3] ^= 1;
  return bytes.toString('hex');
}

async function instance(name: string) {
  const dir = join(root, name);
  // The event-loop guard would shed requests with 503 on a loaded test machine; nothing here is about load.
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dir, ANONYMOUS_REQUESTS_PER_MINUTE: '100000', KEYED_REQUESTS_PER_MINUTE: '100000', MAX_EVENT_LOOP_DELAY_MS: '600000' }), logger: false });
  const bearer = (role: 'ngo' | 'takedown' | 'admin') => ({ authorization: `Bearer ${app.services.keys.create({ name: role, role }).secret}` });
  return { dir, app, takedown: bearer('takedown'), ngo: bearer('ngo') };
}

const photo = randomBytes(32).toString('hex');
const other = randomBytes(32).toString('hex');

/** Captured items (two copies of her photo, one other), her case (registered in Serbian, Latin script), a scan run, one match reported. */
async function withFindings(name: string) {
  const inst = await instance(name);
  const { app, takedown } = inst;
  const bank = (await app.inject({ method: 'POST', url: '/v1/banks', headers: takedown, payload: { name: 'telegram capture' } })).json();
  const items = [
    { signals: [{ type: 'pdq', hash: near(photo, 3) }], platform: 'telegram', group: 'Group One', messageUrl: 'https://t.me/c/1/101', capturedAt: '2026-11-30T10:00:00Z' },
    { signals: [{ type: 'pdq', hash: near(photo, 6) }], platform: 'telegram', group: '=HYPERLINK("x")', messageUrl: 'https://t.me/c/2/202', capturedAt: '2026-12-01T11:00:00Z' },
    { signals: [{ type: 'pdq', hash: other }], platform: 'telegram', group: 'Group Three' },
  ];
  must((await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/content`, headers: takedown, payload: { items } })).statusCode === 201, 'content added');
  const victim = (await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'pdq', hash: photo }], language: 'sr-Latn' } })).json();
  const scan = (await app.inject({ method: 'POST', url: '/v1/scans', headers: takedown, payload: { name: 'nightly', cron: '0 3 * * *', timeZone: 'UTC', cases: 'all' } })).json();
  const run = await app.inject({ method: 'POST', url: `/v1/scans/${scan.id}/run`, headers: takedown });
  must(run.statusCode === 202, run.body);
  for (let i = 0; i < 600; i++) {
    if ((await app.inject({ method: 'GET', url: `/v1/scan-runs/${run.json().id}`, headers: takedown })).json().status !== 'running') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const matches = (await app.inject({ method: 'GET', url: `/v1/matches?case=${victim.caseNumber}`, headers: takedown })).json().matches as { id: number; contentId: number }[];
  must(matches.length === 2, `the scan found both copies, not ${matches.length}`);
  const reported = await app.inject({ method: 'PATCH', url: `/v1/matches/${matches[0].id}`, headers: takedown, payload: { status: 'reported', where: 'Telegram abuse form', reference: 'TG-1' } });
  must(reported.statusCode === 200, reported.body);
  return { ...inst, victim, matches, runId: run.json().id as number };
}

async function currentKeyId(app: Awaited<ReturnType<typeof instance>>['app']): Promise<string> {
  const { keys } = (await app.inject({ method: 'GET', url: '/v1/evidence/public-key' })).json() as { keys: { keyId: string; current: boolean }[] };
  return keys.find((k) => k.current)!.keyId;
}

const found = await withFindings('one');
t.teardown(() => found.app.close());
const summaryOf = (zip: Uint8Array) => strFromU8(unzipSync(zip)['summary.html']);

t.test('the package of a case: what was found, where, when, by whom, and its history; no hash', async (t) => {
  const res = await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.takedown, payload: { caseNumber: found.victim.caseNumber } });
  t.equal(res.statusCode, 200, res.body.slice(0, 300));
  t.equal(res.headers['content-type'], 'application/zip');
  t.match(res.headers['content-disposition'], /^attachment; filename="evidence-.+\.zip"$/);
  const zip = res.rawPayload;
  const files = unzipSync(zip);
  const doc = JSON.parse(strFromU8(files['evidence.json']));
  t.equal(doc.cases[0].caseNumber, found.victim.caseNumber);
  t.equal(doc.matches.length, 2);
  const first = doc.matches.find((m: { id: number }) => m.id === found.matches[0].id);
  t.match(first, { signalType: 'pdq', via: 'whole', status: 'reported', scanRun: { id: found.runId, status: 'done' } });
  t.ok(first.distance > 0 && first.distance <= 6);
  t.match(first.item, { platform: 'telegram', ingestedBy: /^key:\d+$/ });
  t.ok(first.item.messageUrl.startsWith('https://t.me/'));
  t.same(first.history.map((h: { to: string }) => h.to), ['new', 'reported']);
  t.match(first.history[1], { details: { where: 'Telegram abuse form', reference: 'TG-1' } });
  const csv = strFromU8(files['matches.csv']);
  t.equal(csv.trimEnd().split('\r\n').length, 3, 'a header and a row per match');
  t.match(csv, `'=HYPERLINK`, 'a formula-like cell is defused');
  const audit = JSON.parse(strFromU8(files['audit-entries.json']));
  const actions = audit.entries.map((e: { action: string }) => e.action);
  for (const action of ['content.ingested', 'case.created', 'match.recorded', 'match.status', 'scan.run']) t.ok(actions.includes(action), `the audit entries include ${action}`);
  const text = Buffer.from(zip).toString('latin1');
  for (const hash of [photo, near(photo, 3), near(photo, 6), other]) t.notOk(text.includes(hash), 'no hash of the case or of content is in the package');
  t.notOk(text.includes(found.victim.pin), 'nor her PIN');

  t.equal(doc.language, 'sr-Latn', 'in the language the case was registered in');
  const summary = strFromU8(files['summary.html']);
  t.match(summary, '<html lang="sr-Latn">');
  for (const words of ['<h1>Paket dokaza</h1>', `Slučaj <b>${found.victim.caseNumber}</b> (prijavljen `, 'Podudaranja: <b>2</b>', '<td>cela slika</td>', '<td>prijavljeno</td>', 'Priloženi unosi']) {
    t.ok(summary.includes(words), `the summary says ${words}`);
  }
  t.notMatch(summary, /Evidence package|whole image|>reported</, 'no English left');

  const report = verifyEvidencePackage(zip, { keyIds: [await currentKeyId(found.app)] });
  t.ok(report.ok, report.problem ?? 'verifies');
  t.match(report.holds.join('\n'), /2 of 2 matches have the audit entry that recorded them/);
});

t.test('the summary: a language asked for wins; chosen matches are in English; an unknown language is refused', async (t) => {
  const asked = (await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.ngo, payload: { caseNumber: found.victim.caseNumber, language: 'mk' } })).rawPayload;
  t.match(summaryOf(asked), /<html lang="mk">.*<h1>Пакет со докази<\/h1>/s, 'the language asked for over the case\'s');
  t.ok(verifyEvidencePackage(asked, { keyIds: [await currentKeyId(found.app)] }).ok, 'and it verifies');
  const chosen = (await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.ngo, payload: { matchIds: [found.matches[0].id] } })).rawPayload;
  t.match(summaryOf(chosen), /<html lang="en">.*<h1>Evidence package<\/h1>/s, 'matches, with no language asked for: English');
  const chosenIn = (await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.ngo, payload: { matchIds: [found.matches[0].id], language: 'sq' } })).rawPayload;
  t.match(summaryOf(chosenIn), '<h1>Paketa e provave</h1>', 'or the language asked for');
  for (const language of ['es', 'sr', 'SR-LATN', 'en<']) {
    const refused = await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.ngo, payload: { caseNumber: found.victim.caseNumber, language } });
    t.same([refused.statusCode, refused.json().error.code], [400, 'INVALID_REQUEST'], `${language} is refused`);
    t.match(refused.json().error.message, /sr-Latn/, 'naming the languages there are');
  }
  const query = await found.app.inject({ method: 'GET', url: `/v1/cases/${found.victim.caseNumber}/evidence?language=de`, headers: { 'x-case-pin': found.victim.pin } });
  t.same([query.statusCode, query.json().error.code], [400, 'INVALID_REQUEST'], 'in the query of her own package too');
});

t.test("a summary is checked for what it states, not for its wording", async (t) => {
  const res = await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.takedown, payload: { caseNumber: found.victim.caseNumber } });
  const files = unzipSync(res.rawPayload);
  const doc = JSON.parse(strFromU8(files['evidence.json']));
  const audit = JSON.parse(strFromU8(files['audit-entries.json']));
  const summary = strFromU8(files['summary.html']);
  t.equal(summaryDisagreement(summary, doc, audit), null, 'the summary made with the package agrees');
  const intro = SUMMARY_TEXT[doc.language as SummaryLanguage].intro;
  t.equal(summaryDisagreement(summary.replace(intro, 'Other words a later version chose.'), doc, audit), null, 'other prose (a later wording) still agrees');
  const group = doc.matches[0].item.group;
  t.match(summaryDisagreement(summary.replace(`<td>${group}</td>`, '<td>another group</td>'), doc, audit), /row 1 is not match/, 'a group it misstates');
  const removed = SUMMARY_TEXT[doc.language as SummaryLanguage].statuses.removed;
  const reported = SUMMARY_TEXT[doc.language as SummaryLanguage].statuses.reported;
  t.match(summaryDisagreement(summary.replace(`<td>${reported}</td>`, `<td>${removed}</td>`), doc, audit), /is not match/, 'a status it misstates');
  t.match(summaryDisagreement(summary.replace(/<tr><td>.*?<\/tr>\n?/, ''), doc, audit), /lists 1 matches, evidence.json 2/, 'a match it leaves out');
  t.match(summaryDisagreement(summary.replace(doc.cases[0].caseNumber, 'AAAA-BBBB-CCCC'), doc, audit), /names cases/, 'another case');
  t.match(summaryDisagreement(summary.replace(audit.chainHead.hash, '0'.repeat(64)), doc, audit), /another chain head/);
  t.match(summaryDisagreement(summary.replace('<html lang="sr-Latn">', '<html lang="en">'), doc, audit), /not in the language/);
});

t.test("every language's summary text says everything the English does", async (t) => {
  t.same(SUMMARY_LANGUAGES, [...PAGE_LANGUAGES], "the victim page's languages");
  const en = SUMMARY_TEXT.en;
  t.same(Object.keys(en.statuses).sort(), [...MATCH_STATUSES].sort(), 'a word for every takedown status');
  for (const language of SUMMARY_LANGUAGES) {
    const text = SUMMARY_TEXT[language];
    t.same(Object.keys(text).sort(), Object.keys(en).sort(), `${language}: the same keys`);
    t.same(Object.keys(text.statuses).sort(), Object.keys(en.statuses).sort(), `${language}: every status`);
    t.equal(text.columns.length, en.columns.length, `${language}: every column`);
    const words = [...Object.values(text).filter((v) => typeof v === 'string'), ...text.columns, ...Object.values(text.statuses), text.made('AT', 'BY')];
    t.ok(words.every((w) => w.trim() !== ''), `${language}: nothing empty`);
    t.match(text.made('AT', 'BY'), /AT.*BY/, `${language}: the time and who asked are both said`);
    t.match(text.verify, /docs\/evidence\.md.*MANIFEST\.sha256/, `${language}: how to check it`);
    if (language !== 'en') t.notOk([text.title, text.intro, text.whole, text.head].some((w) => Object.values(en).includes(w)), `${language}: translated, not English`);
  }
});

t.test('every single-byte change to the package fails verification, with a reason', async (t) => {
  const zip = (await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.takedown, payload: { matchIds: [found.matches[0].id] } })).rawPayload;
  const trusted = { keyIds: [await currentKeyId(found.app)] };
  t.ok(verifyEvidencePackage(zip, trusted).ok, 'the untouched package verifies');
  const reasons = new Map<string, number>();
  const passed: number[] = [];
  const copy = Buffer.from(zip);
  for (let i = 0; i < zip.length; i++) {
    copy[i] ^= 0x01;
    const report = verifyEvidencePackage(copy, trusted);
    copy[i] = zip[i];
    if (report.ok || !report.problem) passed.push(i);
    else {
      const kind = report.problem.replace(/[0-9a-f]{64}/g, '<hash>').replace(/\d+/g, 'N').slice(0, 70);
      reasons.set(kind, (reasons.get(kind) ?? 0) + 1);
    }
  }
  t.same(passed, [], `all ${zip.length} one-byte changes fail`);
  t.comment([...reasons].map(([reason, n]) => `${n} x ${reason}`).join('\n'));
  t.ok(reasons.size >= 4, 'the reasons say what changed (a file, the signature, the container...)');
});

t.test("a package is refused against another instance's key, and without a trusted key", async (t) => {
  const zip = (await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.ngo, payload: { caseNumber: found.victim.caseNumber } })).rawPayload;
  const elsewhere = await instance('two');
  t.teardown(() => elsewhere.app.close());
  const otherKey = await currentKeyId(elsewhere.app);
  t.not(otherKey, await currentKeyId(found.app));
  const refused = verifyEvidencePackage(zip, { keyIds: [otherKey] });
  t.notOk(refused.ok);
  t.match(refused.problem, /not the key you trust/);
  const unanchored = verifyEvidencePackage(zip, {});
  t.notOk(unanchored.ok);
  t.match(unanchored.problem, /no trusted key was given/);
  t.equal((await found.app.inject({ method: 'POST', url: '/v1/evidence', payload: { caseNumber: found.victim.caseNumber } })).statusCode, 401, 'anonymous callers get none');
  t.equal((await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.ngo, payload: {} })).json().error.code, 'INVALID_REQUEST');
  t.equal((await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.ngo, payload: { caseNumber: 'NOPE-NOPE' } })).statusCode, 404);
});

t.test('a victim gets her own case with number and PIN', async (t) => {
  const url = `/v1/cases/${found.victim.caseNumber}/evidence`;
  const res = await found.app.inject({ method: 'GET', url, headers: { 'x-case-pin': found.victim.pin } });
  t.equal(res.statusCode, 200);
  t.ok(verifyEvidencePackage(res.rawPayload, { keyIds: [await currentKeyId(found.app)] }).ok);
  t.match(summaryOf(res.rawPayload), '<html lang="sr-Latn">', 'in the language she registered in');
  const inHers = await found.app.inject({ method: 'GET', url: `${url}?language=sr-Cyrl`, headers: { 'x-case-pin': found.victim.pin } });
  t.match(summaryOf(inHers.rawPayload), /<html lang="sr-Cyrl">.*<h1>Пакет доказа<\/h1>/s, 'or in the one the page shows now');
  const wrong = await found.app.inject({ method: 'GET', url, headers: { 'x-case-pin': '0000-0000-0000' } });
  t.equal(wrong.statusCode, 404);
});

t.test('after a key rotation, old packages verify with the old key and new ones are signed by the new', async (t) => {
  const keyFile = join(found.dir, SIGNING_KEY_FILE);
  t.equal(statSync(keyFile).mode & 0o777, 0o600, 'the private key is readable by its owner alone');
  const before = (await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.takedown, payload: { caseNumber: found.victim.caseNumber } })).rawPayload;
  const oldKey = await currentKeyId(found.app);
  const rotated = await cli(found.dir, ['keys', 'rotate-signing']);
  t.equal(rotated.code, 0);
  const newKey = rotated.stdout.trim();
  t.not(newKey, oldKey);
  const { keys } = (await found.app.inject({ method: 'GET', url: '/v1/evidence/public-key' })).json();
  t.same(keys.map((k: { keyId: string; current: boolean }) => [k.keyId, k.current]), [[oldKey, false], [newKey, true]], 'both keys listed, the new one current');
  t.ok(keys[0].retiredAt);
  t.ok(verifyEvidencePackage(before, { keyIds: [oldKey] }).ok, 'the package made before verifies with the old key');
  const after = (await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.takedown, payload: { caseNumber: found.victim.caseNumber } })).rawPayload;
  t.ok(verifyEvidencePackage(after, { keyIds: [newKey] }).ok, 'the running service signs with the new key');
  t.notOk(verifyEvidencePackage(after, { keyIds: [oldKey] }).ok);
  const listed = await cli(found.dir, ['keys', 'signing']);
  t.match(listed.stdout, new RegExp(`${newKey}\\t.+\\tyes`));
});

t.test('verify-evidence on the command line, and openssl and sha256sum without this program', async (t) => {
  const zip = (await found.app.inject({ method: 'POST', url: '/v1/evidence', headers: found.takedown, payload: { caseNumber: found.victim.caseNumber } })).rawPayload;
  const dir = join(root, 'check');
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.zip'), zip);
  const keyId = await currentKeyId(found.app);
  const ok = await cli(found.dir, ['verify-evidence', join(dir, 'package.zip'), '--key-id', keyId]);
  t.equal(ok.code, 0, ok.stdout);
  t.match(ok.stdout, /VERIFIED/);
  const pem = (await found.app.inject({ method: 'GET', url: '/v1/evidence/public-key' })).json().keys.find((k: { current: boolean }) => k.current).publicKey;
  writeFileSync(join(dir, 'trusted.pem'), pem);
  t.equal((await cli(found.dir, ['verify-evidence', join(dir, 'package.zip'), '--public-key', join(dir, 'trusted.pem')])).code, 0);
  const broken = Buffer.from(zip);
  broken[broken.length >> 1] ^= 0x20;
  writeFileSync(join(dir, 'broken.zip'), broken);
  const failed = await cli(found.dir, ['verify-evidence', join(dir, 'broken.zip'), '--key-id', keyId, '--json']);
  t.equal(failed.code, 1);
  t.equal(JSON.parse(failed.stdout).ok, false);

  if (spawnSync('openssl', ['version']).status !== 0 || spawnSync('unzip', ['-v']).status !== 0) {
    t.comment('openssl or unzip is not installed: the standard-tools check is skipped');
    return;
  }
  const run = (cmd: string) => spawnSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8' });
  t.equal(run('unzip -q package.zip -d files').status, 0);
  const sums = run('cd files && sha256sum -c MANIFEST.sha256');
  t.equal(sums.status, 0, sums.stdout + sums.stderr);
  const signature = run('cd files && openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in MANIFEST.sha256 -sigfile MANIFEST.sha256.sig');
  t.equal(signature.status, 0, signature.stdout + signature.stderr);
  t.match(signature.stdout, /Signature Verified Successfully/);
  const fingerprint = run('openssl pkey -pubin -in files/public-key.pem -outform DER | sha256sum');
  t.equal(fingerprint.stdout.split(' ')[0], keyId, 'the key id is what openssl and sha256sum print');
  writeFileSync(join(dir, 'files', 'evidence.json'), '{}');
  t.not(run('cd files && sha256sum -c MANIFEST.sha256').status, 0, 'sha256sum notices a changed file');
  t.equal(createHash('sha256').update('{}').digest('hex').length, 64);
});
