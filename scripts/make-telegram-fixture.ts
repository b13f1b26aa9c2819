/**
 * A small export shaped as Telegram Desktop writes one ("Machine-readable
 * JSON"): a private supergroup with two photos, an image sent as a file, a
 * video, a photo the export left out, a forwarded photo, a service message,
 * and text both as a string and as an entity array. `grown` adds one more
 * photo message, as a later export of the same chat would.
 *
 *   npx tsx scripts/make-telegram-fixture.ts [DIR] [--grown]
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const IMAGES = fileURLToPath(new URL('../fixtures/pdq-reference/', import.meta.url));

export const FIXTURE_CHAT = { name: 'Fixture Leaks Group', type: 'private_supergroup', id: 1234567890 };

export function makeTelegramFixture(dir: string, { grown = false } = {}): string {
  for (const sub of ['photos', 'files', 'video_files']) mkdirSync(join(dir, sub), { recursive: true });
  copyFileSync(join(IMAGES, 'bridge-1-original.jpg'), join(dir, 'photos', 'photo_1@30-11-2026_10-00-00.jpg'));
  copyFileSync(join(IMAGES, 'c.png'), join(dir, 'files', 'scan.png'));
  copyFileSync(join(IMAGES, 'LA.png'), join(dir, 'photos', 'photo_2@30-11-2026_10-05-00.jpg'));
  writeFileSync(join(dir, 'video_files', 'clip.mp4'), randomBytes(300_000));
  const base = (id: number, seconds: number) => ({ id, type: 'message', date: new Date(seconds * 1000).toISOString().slice(0, 19), date_unixtime: String(seconds), from: 'Poster One', from_id: 'user1001' });
  const messages: object[] = [
    { id: 1, type: 'service', date: '2026-11-30T09:00:00', date_unixtime: '1764493200', actor: 'Poster One', actor_id: 'user1001', action: 'create_group', title: FIXTURE_CHAT.name, text: '' },
    { ...base(2, 1764496800), photo: 'photos/photo_1@30-11-2026_10-00-00.jpg', photo_file_size: 1000, width: 800, height: 600, text: 'look who this is', text_entities: [{ type: 'plain', text: 'look who this is' }] },
    { ...base(3, 1764496860), file: 'files/scan.png', file_name: 'scan.png', file_size: 1000, mime_type: 'image/png', text: ['sent as a ', { type: 'bold', text: 'file' }, '!'] },
    { ...base(4, 1764496920), file: 'video_files/clip.mp4', file_name: 'clip.mp4', media_type: 'video_file', mime_type: 'video/mp4', duration_seconds: 3, text: '' },
    { ...base(5, 1764496980), photo: '(File not included. Change data exporting settings to download.)', photo_file_size: 2000, text: 'not exported' },
    { ...base(6, 1764497100), forwarded_from: 'Another Channel', photo: 'photos/photo_2@30-11-2026_10-05-00.jpg', text: '' },
    { ...base(7, 1764497160), text: 'a text message without media' },
  ];
  if (grown) {
    copyFileSync(join(IMAGES, 'q0122.jpg'), join(dir, 'photos', 'photo_3@01-12-2026_08-00-00.jpg'));
    messages.push({ ...base(8, 1764576000), from: 'Poster Two', from_id: 'user1002', photo: 'photos/photo_3@01-12-2026_08-00-00.jpg', text: 'new one' });
  }
  writeFileSync(join(dir, 'result.json'), JSON.stringify({ ...FIXTURE_CHAT, messages }, null, 1));
  return dir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : mkdtempSync(join(tmpdir(), 'telegram-export-'));
  console.log(makeTelegramFixture(dir, { grown: process.argv.includes('--grown') }));
}
