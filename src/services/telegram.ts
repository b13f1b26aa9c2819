/**
 * A Telegram Desktop export into a bank: every photo and image file hashed as
 * captured images are (whole-image signals and content regions), videos and
 * animations by their file's MD5 and SHA-256, each message one item with its
 * provenance (chat, message id, date, sender, link). Messages the bank has
 * are skipped, so a grown export adds only its new messages. The export's
 * files are only read: from a folder (CLI) or a zip held in memory (API).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { findExchangeType } from '../exchange/index.js';
import { messageLink, readTelegramExport, type TelegramMessage } from '../exchange/telegram.js';
import { ImageError } from '../image/errors.js';
import type { NewContentItem, NewSignal } from '../store/store.js';
import { capturedImageSignals } from './banks.js';
import type { ServiceContext } from './context.js';
import { directoryFiles, type TelegramFiles, zipFiles } from './telegram-files.js';

export type { TelegramFiles } from './telegram-files.js';

export interface TelegramOptions {
  /** The chat's public username, for t.me/<username>/<id> links (the export does not carry it). */
  username?: string;
  /** Called after each message with media. */
  onMessage?: (done: number) => void;
}

export interface TelegramReport {
  chats: number;
  /** Messages with a photo, image file, video or animation. */
  messages: number;
  added: number;
  /** Already in the bank (an earlier run over the same chat). */
  existing: number;
  /** Files the export left out ("File not included"): counted, not failed. */
  notIncluded: number;
  images: number;
  videos: number;
  signalsAdded: number;
  failed: { chatId: number | null; messageId: number; reason: string }[];
}

const MAX_TEXT = 4000;

/** A video's MD5 (what StopNCII exchanges) and SHA-256, read as a stream. */
async function fileDigests(source: Readable): Promise<NewSignal[]> {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  for await (const chunk of source) {
    md5.update(chunk as Buffer);
    sha256.update(chunk as Buffer);
  }
  return [
    { type: findExchangeType('md5').name, hash: new Uint8Array(md5.digest()) },
    { type: findExchangeType('sha256').name, hash: new Uint8Array(sha256.digest()) },
  ];
}

function item(m: TelegramMessage, signals: NewSignal[], username: string | undefined): NewContentItem {
  const telegram = {
    chatId: m.chat.id,
    chatName: m.chat.name,
    chatType: m.chat.type,
    messageId: m.id,
    dateUnixtime: m.dateUnixtime,
    from: m.from,
    fromId: m.fromId,
    forwardedFrom: m.forwardedFrom,
    text: m.text.slice(0, MAX_TEXT),
    media: m.kind,
    file: m.file,
    fileName: m.fileName,
    mimeType: m.mimeType,
  };
  return {
    provenance: {
      platform: 'telegram',
      channel: m.chat.name,
      messageRef: messageLink(m.chat, m.id, username),
      capturedAt: m.dateUnixtime === null ? null : new Date(m.dateUnixtime * 1000).toISOString(),
    },
    metadata: { telegram },
    signals,
  };
}

/** Entries and uncompressed bytes a zipped export may have. */
const ZIP_MAX_ENTRIES = 100_000;
const ZIP_MAX_TOTAL_BYTES = 8 * 1024 * 1024 * 1024;

export class TelegramService {
  constructor(private readonly services: ServiceContext) {}

  /** An export in a folder (the CLI). */
  importDirectory(bankId: number, dir: string, options: TelegramOptions = {}): Promise<TelegramReport> {
    return this.importExport(bankId, directoryFiles(dir), options);
  }

  /** A zipped export held in memory (the API). */
  async importZip(bankId: number, zip: Uint8Array, options: TelegramOptions = {}): Promise<TelegramReport> {
    this.services.store.getBank(bankId);
    return this.importExport(bankId, zipFiles(zip, { maxEntries: ZIP_MAX_ENTRIES, maxTotalBytes: ZIP_MAX_TOTAL_BYTES }), options);
  }

  async importExport(bankId: number, files: TelegramFiles, options: TelegramOptions = {}): Promise<TelegramReport> {
    const { store } = this.services;
    const known = store.telegramMessageKeys(bankId);
    const report: TelegramReport = { chats: 0, messages: 0, added: 0, existing: 0, notIncluded: 0, images: 0, videos: 0, signalsAdded: 0, failed: [] };
    const chats = new Set<number | null>();
    for await (const m of readTelegramExport(files.resultJson())) {
      report.messages++;
      chats.add(m.chat.id);
      const key = `${m.chat.id}/${m.id}`;
      if (known.has(key)) report.existing++;
      else if (m.file === null) report.notIncluded++;
      else {
        try {
          const signals = await this.signalsOf(m, files, report);
          store.addContent(bankId, [item(m, signals, options.username)]);
          known.add(key);
          report.added++;
          report.signalsAdded += signals.length;
        } catch (err) {
          if (!(err instanceof ImageError) && (err as NodeJS.ErrnoException).code === undefined) throw err;
          report.failed.push({ chatId: m.chat.id, messageId: m.id, reason: (err as Error).message });
        }
      }
      options.onMessage?.(report.messages);
    }
    report.chats = chats.size;
    return report;
  }

  private async signalsOf(m: TelegramMessage, files: TelegramFiles, report: TelegramReport): Promise<NewSignal[]> {
    if (m.kind === 'video' || m.kind === 'animation') {
      const signals = await fileDigests(files.stream(m.file!));
      report.videos++;
      return signals;
    }
    const bytes = await files.read(m.file!, this.services.config.MAX_IMAGE_BYTES);
    const hashed = await this.services.hashing.hash(bytes, { regions: 'content' });
    report.images++;
    return capturedImageSignals(hashed).signals;
  }
}
