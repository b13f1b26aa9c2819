/**
 * The dashboard's requests: to this origin only (the CSP allows no other),
 * with the takedown key from this tab's session storage, never cached, no
 * cookies. The key is never written anywhere else: closing the tab forgets it.
 */
import type { Status } from './aggregate.js';

const KEY_ITEM = 'ncii-takedown-key';

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY_ITEM),
  signIn: (key: string) => sessionStorage.setItem(KEY_ITEM, key),
  signOut: () => sessionStorage.removeItem(KEY_ITEM),
};

export interface Match {
  id: number;
  scanId: number;
  runId: number;
  caseNumber: string;
  platform: string;
  group: string | null;
  messageUrl: string | null;
  capturedAt: string | null;
  signalType: string;
  distance: number;
  via: 'whole' | 'region';
  status: Status;
  reportedWhere: string | null;
  reference: string | null;
  dismissReason: string | null;
  foundAt: string;
}

export interface Run {
  id: number;
  scanId: number;
  status: string;
  newMatches: number;
  startedAt: string;
  finishedAt: string | null;
}

export interface Scan {
  id: number;
  name: string;
}

export interface Bank {
  id: number;
  name: string;
}

/** What `POST /v1/banks/:id/import` answers (docs/exchange.md). */
export interface ImportReport {
  added: number;
  duplicate: number;
  updated: number;
  removed: number;
  rejected: number;
  signalsAdded: number;
  errors: { line: number; reason: string }[];
}

/** What `POST /v1/banks/:id/telegram` answers. */
export interface TelegramReport {
  chats: number;
  messages: number;
  added: number;
  existing: number;
  notIncluded: number;
  images: number;
  videos: number;
  signalsAdded: number;
  failed: { chatId: number | null; messageId: number; reason: string }[];
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

type ErrorBody = { error?: { code?: string; message?: string } } | null;

async function request(method: string, url: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${session.key() ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
  if (!response.ok) {
    const error = (await response.json().catch(() => null)) as ErrorBody;
    throw new ApiFailure(response.status, error?.error?.message ?? `HTTP ${response.status}`, error?.error?.code);
  }
  return response;
}

const json = async <T>(method: string, url: string, body?: unknown) => (await request(method, url, body)).json() as Promise<T>;

export interface MatchFilter {
  status?: string;
  group?: string;
  case?: string;
  run?: string;
}

function query(filter: MatchFilter, extra: Record<string, string>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...filter, ...extra })) if (v) params.set(k, v);
  return params.toString();
}

export const api = {
  matches: (filter: MatchFilter, limit: number, cursor?: string) =>
    json<{ matches: Match[]; nextCursor: string | null }>('GET', `/v1/matches?${query(filter, { limit: String(limit), cursor: cursor ?? '' })}`),
  setStatus: (id: number, change: { status: Status; where?: string; reference?: string; reason?: string }) => json<Match>('PATCH', `/v1/matches/${id}`, change),
  scans: () => json<{ scans: Scan[] }>('GET', '/v1/scans'),
  scan: (id: number) => json<Scan & { runs: Run[] }>('GET', `/v1/scans/${id}`),
  banks: () => json<{ banks: Bank[] }>('GET', '/v1/banks'),
  reportCsv: async (runId: number) => (await request('GET', `/v1/scan-runs/${runId}/report?format=csv`)).blob(),
};

/**
 * A file sent as the request body with the browser's upload progress, which
 * fetch does not report: XMLHttpRequest, to this origin, without cookies.
 * A connection cut while sending (a service refusing a body too large may
 * close it) rejects with a TypeError, as fetch would.
 */
export function upload<T>(url: string, file: Blob, contentType: string, onProgress: (sent: number, total: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.withCredentials = false;
    xhr.responseType = 'json';
    xhr.setRequestHeader('authorization', `Bearer ${session.key() ?? ''}`);
    xhr.setRequestHeader('content-type', contentType);
    xhr.upload.addEventListener('progress', (event) => onProgress(event.loaded, event.total));
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve(xhr.response as T);
      const error = (xhr.response as ErrorBody)?.error;
      reject(new ApiFailure(xhr.status, error?.message ?? `HTTP ${xhr.status}`, error?.code));
    });
    xhr.addEventListener('error', () => reject(new TypeError('the upload did not reach the service')));
    xhr.send(file);
  });
}

/** Every match the filter selects, up to `cap` (the chart's input). */
export async function allMatches(filter: MatchFilter, cap: number): Promise<{ matches: Match[]; complete: boolean }> {
  const matches: Match[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await api.matches(filter, 1000, cursor);
    matches.push(...page.matches);
    if (page.nextCursor === null) return { matches, complete: true };
    if (matches.length >= cap) return { matches, complete: false };
    cursor = page.nextCursor;
  }
}
