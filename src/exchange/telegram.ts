/**
 * Telegram Desktop's machine-readable chat export (result.json): one chat
 * (`name`, `type`, `id`, `messages[]`) or a full export (`chats.list[]`, and
 * `left_chats.list[]`), read as a stream one message at a time. Only the
 * messages that carry a photo, an image file, a video or an animation are
 * yielded; the files themselves are the caller's to read.
 */
import type { Readable } from 'node:stream';
import { type JsonPath, valuesAt } from './json-values.js';

export interface TelegramChat {
  name: string | null;
  type: string | null;
  id: number | null;
}

export type TelegramMediaKind = 'photo' | 'image-document' | 'video' | 'animation';

export interface TelegramMessage {
  chat: TelegramChat;
  id: number;
  /** Seconds since 1970 (`date_unixtime`). */
  dateUnixtime: number | null;
  from: string | null;
  fromId: string | null;
  forwardedFrom: string | null;
  /** The message's text or caption, entity arrays flattened to their text. */
  text: string;
  kind: TelegramMediaKind;
  /** The file's path relative to the export's folder; null when the export left it out ("File not included"). */
  file: string | null;
  fileName: string | null;
  mimeType: string | null;
}

const CHAT_FIELDS = new Set(['name', 'type', 'id']);
const VIDEO_MEDIA = new Set(['video_file', 'video_message']);

/** Where a path's chat is: `[]` for a single-chat export, `['chats', 'list', n]` in a full one. */
function chatPrefix(path: JsonPath): { prefix: string; field: string | null } | null {
  const full = (path[0] === 'chats' || path[0] === 'left_chats') && path[1] === 'list' && typeof path[2] === 'number';
  const rest = full ? path.slice(3) : path;
  const prefix = full ? path.slice(0, 3).join('.') : '';
  if (rest.length === 1 && CHAT_FIELDS.has(String(rest[0]))) return { prefix, field: String(rest[0]) };
  if (rest.length === 2 && rest[0] === 'messages' && typeof rest[1] === 'number') return { prefix, field: null };
  return null;
}

/** Text as Telegram writes it: a string, or an array of strings and `{type, text}` entities. */
export function flattenText(text: unknown): string {
  if (typeof text === 'string') return text;
  if (!Array.isArray(text)) return '';
  return text.map((part) => (typeof part === 'string' ? part : typeof (part as { text?: unknown })?.text === 'string' ? (part as { text: string }).text : '')).join('');
}

const str = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);

/** Telegram writes this instead of a path when the export's settings left the file out. */
function includedPath(value: unknown): string | null {
  const path = str(value);
  return path === null || path.startsWith('(File not included') || path.startsWith('(File exceeds maximum size') ? null : path;
}

function mediaOf(m: Record<string, unknown>): Pick<TelegramMessage, 'kind' | 'file' | 'fileName' | 'mimeType'> | null {
  if (m.photo !== undefined) return { kind: 'photo', file: includedPath(m.photo), fileName: null, mimeType: null };
  if (m.file === undefined) return null;
  const mimeType = str(m.mime_type);
  const mediaType = str(m.media_type);
  const kind: TelegramMediaKind | null =
    mediaType === 'animation' ? 'animation' : VIDEO_MEDIA.has(mediaType ?? '') || mimeType?.startsWith('video/') ? 'video' : mediaType !== 'sticker' && mimeType?.startsWith('image/') ? 'image-document' : null;
  return kind && { kind, file: includedPath(m.file), fileName: str(m.file_name), mimeType };
}

function message(chat: TelegramChat, value: unknown): TelegramMessage | null {
  if (typeof value !== 'object' || value === null) return null;
  const m = value as Record<string, unknown>;
  const media = mediaOf(m);
  if (!media || typeof m.id !== 'number') return null;
  const unix = Number(m.date_unixtime);
  return {
    chat: { ...chat },
    id: m.id,
    dateUnixtime: Number.isFinite(unix) && m.date_unixtime !== undefined ? unix : null,
    from: str(m.from),
    fromId: str(m.from_id),
    forwardedFrom: str(m.forwarded_from),
    text: flattenText(m.text),
    ...media,
  };
}

/** Every message with media, with its chat (whose name, type and id Telegram writes before the messages). */
export async function* readTelegramExport(source: Readable): AsyncGenerator<TelegramMessage> {
  const chats = new Map<string, TelegramChat>();
  for await (const { path, value } of valuesAt(source, (p) => chatPrefix(p) !== null)) {
    const { prefix, field } = chatPrefix(path)!;
    let chat = chats.get(prefix);
    if (!chat) chats.set(prefix, (chat = { name: null, type: null, id: null }));
    if (field === 'name' || field === 'type') chat[field] = str(value);
    else if (field === 'id') chat.id = typeof value === 'number' ? value : Number.isFinite(Number(value)) ? Number(value) : null;
    else {
      const read = message(chat, value);
      if (read) yield read;
    }
  }
}

const LINKED_TYPES = new Set(['public_channel', 'private_channel', 'public_supergroup', 'private_supergroup']);

/** The id in t.me/c/ links: exports may give a channel's or supergroup's id as the API's -100… peer id. */
export function linkChatId(id: number): string {
  const digits = String(Math.abs(id));
  return digits.length >= 13 && digits.startsWith('100') ? digits.slice(3) : digits;
}

/** The message's link: t.me/<username>/<id> when the operator names the public username, t.me/c/<id>/<id> for channels and supergroups, else null. */
export function messageLink(chat: TelegramChat, messageId: number, username?: string): string | null {
  if (username) return `https://t.me/${username}/${messageId}`;
  if (chat.id === null || !LINKED_TYPES.has(chat.type ?? '')) return null;
  return `https://t.me/c/${linkChatId(chat.id)}/${messageId}`;
}
