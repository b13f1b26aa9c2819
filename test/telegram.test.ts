/**
 * Telegram Desktop exports: the CLI reads a fixture export (made by
 * scripts/make-telegram-fixture.ts) into a bank and every ingested field is
 * checked; a grown export adds only its new message; the API takes the same
 * export zipped, and refuses zips that climb out of their folder.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { zipSync } from 'fflate';
import t from 'tap';
import { FIXTURE_CHAT, makeTelegramFixture } from '../scripts/make-telegram-fixture.js';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { linkChatId, messageLink } from '../src/exchange/telegram.js';
import { capturedImageSignals, signalText } from '../src/services/banks.js';
import { withLocalServices } from '../src/services/local.js';
import { runCli } from './helpers/cli-run.js';

const dir = mkdtempSync(join(tmpdir(), 'ncii-telegram-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
process.env.DATA_DIR = join(dir, 'data');
const exportDir = makeTelegramFixture(join(dir, 'ChatExport_2026-12-01'));

const run = runCli;

t.test('links: t.me/c for channels and supergroups (the -100 peer prefix stripped), t.me/<username> when named, none for basic groups', async (t) => {
  t.equal(linkChatId(-1001234567890), '1234567890');
  t.equal(linkChatId(1234567890), '1234567890');
  t.equal(messageLink({ name: 'x', type: 'public_channel', id: -1001234567890 }, 5), 'https://t.me/c/1234567890/5');
  t.equal(messageLink({ name: 'x', type: 'private_group', id: 42 }, 5), null);
  t.equal(messageLink({ name: 'x', type: 'private_group', id: 42 }, 5, 'some_group'), 'https://t.me/some_group/5');
});

t.test('the CLI ingests every photo, image file and video with its provenance', async (t) => {
  t.equal((await run(['bank', 'create', 'telegram'])).code, 0);
  const r = await run(['import-telegram', exportDir, '--bank', '1', '--json']);
  t.equal(r.code, 0);
  t.same(JSON.parse(r.stdout), { chats: 1, messages: 5, added: 4, existing: 0, notIncluded: 1, images: 3, videos: 1, signalsAdded: JSON.parse(r.stdout).signalsAdded, failed: [] });

  await withLocalServices(loadConfig(), async (services) => {
    const items = services.store.listContent(1, { limit: 100 });
    t.same(items.map((i) => (i.metadata.telegram as { messageId: number }).messageId), [2, 3, 4, 6], 'one item per message with media, the missing file left out');
    const expected = {
      2: { file: 'photos/photo_1@30-11-2026_10-00-00.jpg', media: 'photo', text: 'look who this is', forwardedFrom: null, fileName: null, mimeType: null, at: 1764496800 },
      3: { file: 'files/scan.png', media: 'image-document', text: 'sent as a file!', forwardedFrom: null, fileName: 'scan.png', mimeType: 'image/png', at: 1764496860 },
      4: { file: 'video_files/clip.mp4', media: 'video', text: '', forwardedFrom: null, fileName: 'clip.mp4', mimeType: 'video/mp4', at: 1764496920 },
      6: { file: 'photos/photo_2@30-11-2026_10-05-00.jpg', media: 'photo', text: '', forwardedFrom: 'Another Channel', fileName: null, mimeType: null, at: 1764497100 },
    } as const;
    for (const item of items) {
      const id = (item.metadata.telegram as { messageId: keyof typeof expected }).messageId;
      const e = expected[id];
      t.same(item.provenance, { platform: 'telegram', channel: FIXTURE_CHAT.name, messageRef: `https://t.me/c/1234567890/${id}`, capturedAt: new Date(e.at * 1000).toISOString() }, `message ${id}: provenance`);
      t.same(item.metadata, {
        telegram: {
          chatId: FIXTURE_CHAT.id, chatName: FIXTURE_CHAT.name, chatType: FIXTURE_CHAT.type, messageId: id, dateUnixtime: e.at, from: 'Poster One', fromId: 'user1001',
          forwardedFrom: e.forwardedFrom, text: e.text, media: e.media, file: e.file, fileName: e.fileName, mimeType: e.mimeType,
        },
      }, `message ${id}: metadata`);
      const bytes = readFileSync(join(exportDir, e.file));
      const stored = services.store.listSignals({ kind: 'content', contentId: item.id }).map(signalText);
      if (e.media === 'video') {
        t.same(stored, [
          { type: 'md5', hash: createHash('md5').update(bytes).digest('hex'), quality: null },
          { type: 'sha256', hash: createHash('sha256').update(bytes).digest('hex'), quality: null },
        ], 'a video: its file MD5 and SHA-256');
      } else {
        const want = capturedImageSignals(await services.hashing.hash(bytes, { regions: 'content' })).signals.map(signalText);
        t.same(stored, want, `message ${id}: the signals of content ingest, region hashes included`);
        t.ok(stored.some((s) => s.type === 'pdq-region'), 'with region hashes');
      }
    }
  });
  const files = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? files(join(d, f)) : [relative(exportDir, join(d, f))]));
  t.same(files(exportDir).sort(), ['files/scan.png', 'photos/photo_1@30-11-2026_10-00-00.jpg', 'photos/photo_2@30-11-2026_10-05-00.jpg', 'result.json', 'video_files/clip.mp4'], 'the export is left as it was');
});

t.test('a grown export adds only the new message; --username links by name', async (t) => {
  makeTelegramFixture(exportDir, { grown: true });
  const again = JSON.parse((await run(['import-telegram', exportDir, '--bank', '1', '--json'])).stdout);
  t.same({ added: again.added, existing: again.existing, notIncluded: again.notIncluded }, { added: 1, existing: 4, notIncluded: 1 });
  await run(['bank', 'create', 'named']);
  const named = await run(['import-telegram', exportDir, '--bank', '2', '--username', '@leaks_group']);
  t.match(named.stdout, /added 5 .*files not included in the export 1, failed 0/);
  await withLocalServices(loadConfig(), (services) => {
    t.same(services.store.listContent(2, { limit: 100 }).map((i) => i.provenance.messageRef), [2, 3, 4, 6, 8].map((m) => `https://t.me/leaks_group/${m}`));
  });
  t.equal((await run(['import-telegram', exportDir])).code, 2, '--bank is required');
});

t.test('POST /v1/banks/:id/telegram takes the export zipped; a zip climbing out of its folder is refused', async (t) => {
  const app = await buildApp({ config: loadConfig({ DATA_DIR: join(dir, 'api-data'), MAX_EVENT_LOOP_DELAY_MS: '600000' }), logger: false });
  t.teardown(() => app.close());
  const headers = { authorization: `Bearer ${app.services.keys.create({ name: 'telegram test', role: 'takedown' }).secret}`, 'content-type': 'application/zip' };
  const bank = app.services.banks.create({ name: 'from zip' });
  const entries: Record<string, Uint8Array> = {};
  const walk = (d: string) => readdirSync(d).forEach((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : (entries[`ChatExport_2026-12-01/${relative(exportDir, join(d, f))}`] = readFileSync(join(d, f)))));
  walk(exportDir);
  const res = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/telegram?username=leaks_group`, headers, payload: Buffer.from(zipSync(entries)) });
  t.equal(res.statusCode, 200);
  t.match(res.json(), { chats: 1, messages: 6, added: 5, notIncluded: 1, images: 4, videos: 1, failed: [] });
  const twice = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/telegram`, headers, payload: Buffer.from(zipSync(entries)) });
  t.match(twice.json(), { added: 0, existing: 5 });

  const evil = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/telegram`, headers, payload: Buffer.from(zipSync({ 'result.json': new TextEncoder().encode('{}'), '../outside.txt': new Uint8Array(1) })) });
  t.same([evil.statusCode, evil.json().error.code], [400, 'INVALID_REQUEST']);
  t.match(evil.json().error.message, /outside the export/);
  const climbing = JSON.stringify({ ...FIXTURE_CHAT, messages: [{ id: 1, type: 'message', photo: '../../etc/passwd', date_unixtime: '1' }] });
  const escaped = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/telegram`, headers, payload: Buffer.from(zipSync({ 'result.json': new TextEncoder().encode(climbing) })) });
  t.match(escaped.json(), { added: 0, failed: [{ messageId: 1, reason: /outside the export/ }] });
  const notZip = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/telegram`, headers, payload: 'not a zip' });
  t.equal(notZip.statusCode, 400);
  const noResult = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/telegram`, headers, payload: Buffer.from(zipSync({ 'a.txt': new Uint8Array(1) })) });
  t.match(noResult.json().error.message, /no result\.json/);
});
