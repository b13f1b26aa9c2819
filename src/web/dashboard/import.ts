/**
 * The dashboard's Import section (docs/dashboard.md#importing): a zipped
 * Telegram Desktop export or a hash list uploaded into a bank with the
 * signed-in key, the upload's progress shown, and the service's report told
 * in plain words. Every text from the service is set as text.
 */
import { byId, el } from '../dom.js';
import { api, ApiFailure, type ImportReport, type TelegramReport, upload } from './api.js';

/** ImportReport lists at most this many rejected rows (the service's cap). */
const LISTED_ERRORS = 1000;

const field = <T extends HTMLElement = HTMLInputElement>(id: string) => byId<T>(id);

function say(text: string): void {
  byId('import-status').textContent = text;
}

/** An API error as a sentence a team can act on. */
export function importFailure(err: unknown): string {
  if (!(err instanceof ApiFailure)) return 'The upload did not reach the service (the connection was cut; a file too large may be refused this way). Nothing was imported.';
  if (err.status === 401) return 'The key is not valid (or was revoked). Sign in again.';
  if (err.status === 403) return 'This key may not import into banks: it needs a takedown or admin key.';
  if (err.status === 413) return `The file is too large for the service: ${err.message} Nothing was imported.`;
  if (err.status === 404) return 'That bank no longer exists. Reload the page to see the banks.';
  return `The service refused the file${err.code ? ` (${err.code})` : ''}: ${err.message}`;
}

export async function loadBanks(): Promise<void> {
  const select = field<HTMLSelectElement>('i-bank');
  const chosen = select.value;
  try {
    const { banks } = await api.banks();
    select.replaceChildren(...banks.map((b) => el('option', { value: String(b.id) }, `${b.name} (#${b.id})`)));
    if (chosen) select.value = chosen;
    if (banks.length === 0) say('There are no banks yet: create one first (ncii-match bank create NAME).');
  } catch (err) {
    say(importFailure(err));
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

function line(name: string, text: string): HTMLLIElement {
  return el('li', { 'data-field': name }, text);
}

function telegramReport(r: TelegramReport): HTMLElement[] {
  const items = [
    line('added', `Added: ${plural(r.added, 'message')} (${plural(r.images, 'image')}, ${plural(r.videos, 'video')} read; ${plural(r.signalsAdded, 'hash', 'hashes')} stored).`),
    line('existing', `Already in the bank: ${plural(r.existing, 'message')}.`),
    line('not-included', `Left out of the export (file not included): ${plural(r.notIncluded, 'message')}.`),
    line('failed', `Failed: ${plural(r.failed.length, 'message')}.`),
  ];
  const failures = r.failed.map((f) => el('li', { 'data-message': String(f.messageId) }, `Message ${f.messageId}${f.chatId === null ? '' : ` in chat ${f.chatId}`}: ${f.reason}`));
  return [el('p', {}, `Read ${plural(r.chats, 'chat')} with ${plural(r.messages, 'message')} carrying a photo, image file or video.`), el('ul', {}, ...items), ...(failures.length ? [el('ul', { class: 'rows' }, ...failures)] : [])];
}

function hashListReport(r: ImportReport): HTMLElement[] {
  const items = [
    line('added', `Added: ${plural(r.added, 'record')} (${plural(r.signalsAdded, 'hash', 'hashes')} stored).`),
    line('duplicate', `Already there (duplicates): ${plural(r.duplicate, 'record')}.`),
    ...(r.updated ? [line('updated', `Updated in place: ${plural(r.updated, 'record')}.`)] : []),
    ...(r.removed ? [line('removed', `Removed (withdrawn or deleted): ${plural(r.removed, 'record')}.`)] : []),
    line('rejected', `Rejected: ${plural(r.rejected, 'row')}.`),
  ];
  const rows = r.errors.map((e) => el('li', { 'data-line': String(e.line) }, `Line ${e.line}: ${e.reason}`));
  const more = r.rejected > r.errors.length ? [el('p', { class: 'hint' }, `Only the first ${LISTED_ERRORS} rejected rows are listed.`)] : [];
  return [el('ul', {}, ...items), ...(rows.length ? [el('ul', { class: 'rows' }, ...rows)] : []), ...more];
}

function kind(): 'telegram' | 'hashes' {
  return document.querySelector<HTMLInputElement>('input[name="i-kind"]:checked')?.value === 'hashes' ? 'hashes' : 'telegram';
}

function showKind(): void {
  const telegram = kind() === 'telegram';
  byId('i-username-field').hidden = !telegram;
  byId('i-format-field').hidden = telegram;
  byId('i-strict-field').hidden = telegram;
  field('i-file').setAttribute('accept', telegram ? '.zip,application/zip' : '.txt,.csv,.json,text/plain,text/csv,application/json');
}

function progress(sent: number, total: number): void {
  const bar = field<HTMLProgressElement>('import-progress');
  bar.max = total || 1;
  bar.value = sent;
  say(sent < total ? `Uploading… ${Math.floor((100 * sent) / total)}%` : 'Uploaded; the service is importing…');
}

/** The route and body type for the chosen kind of file. */
function target(bankId: string): { url: string; type: string } {
  if (kind() === 'telegram') {
    const username = field('i-username').value.trim().replace(/^@/, '');
    return { url: `/v1/banks/${bankId}/telegram${username ? `?${new URLSearchParams({ username })}` : ''}`, type: 'application/zip' };
  }
  const params = new URLSearchParams({ format: field<HTMLSelectElement>('i-format').value });
  if (field('i-strict').checked) params.set('strict', 'true');
  return { url: `/v1/banks/${bankId}/import?${params}`, type: 'application/octet-stream' };
}

async function submit(): Promise<void> {
  const file = field('i-file').files?.[0];
  const bankId = field<HTMLSelectElement>('i-bank').value;
  if (!file || !bankId) return say('Choose a bank and a file first.');
  const form = byId('import-form');
  const button = form.querySelector<HTMLButtonElement>('button[type=submit]')!;
  const bar = field<HTMLProgressElement>('import-progress');
  const telegram = kind() === 'telegram';
  const { url, type } = target(bankId);
  byId('import-report').replaceChildren();
  form.setAttribute('aria-busy', 'true');
  button.disabled = true;
  bar.hidden = false;
  progress(0, file.size);
  try {
    const report = await upload<ImportReport | TelegramReport>(url, file, type, progress);
    byId('import-report').replaceChildren(...(telegram ? telegramReport(report as TelegramReport) : hashListReport(report as ImportReport)));
    say(`Imported ${file.name} into ${field<HTMLSelectElement>('i-bank').selectedOptions[0]?.textContent ?? `bank ${bankId}`}.`);
  } catch (err) {
    say(importFailure(err));
  } finally {
    form.removeAttribute('aria-busy');
    button.disabled = false;
    bar.hidden = true;
  }
}

export function initImport(): void {
  for (const radio of document.querySelectorAll('input[name="i-kind"]')) radio.addEventListener('change', showKind);
  showKind();
  byId('import-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void submit();
  });
}
