/**
 * The page's requests: hashes only, to this origin only (the CSP allows no
 * other), never cached, with no referrer and no cookies. What comes back is
 * reduced here to what the page shows: counts, platforms, group names and
 * dates, never a content id or a link.
 */
import type { WireSignal } from '../match/query.js';

export interface Sightings {
  places: number;
  platforms: string[];
  groups: { platform: string; group: string }[];
  firstSeen: string | null;
  lastSeen: string | null;
}

export interface CaseCredentials {
  caseNumber: string;
  pin: string;
}

/** What the service's own monitoring found for the case and how many of those copies are gone. */
export interface Takedown {
  status: 'open' | 'found' | 'all removed';
  items: number;
  removed: number;
  sightings: Sightings;
}

export interface CaseReport {
  caseNumber: string;
  createdAt: string;
  sightings: Sightings;
  takedown: Takedown;
}

/** A file to save, in memory only. */
export interface Download {
  blob: Blob;
  fileName: string;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    /** Seconds, from Retry-After on a 429. */
    readonly retryAfter: number | null,
  ) {
    super(`HTTP ${status}`);
  }
}

async function send(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    throw new ApiFailure(0, null);
  }
  if (!response.ok) throw new ApiFailure(response.status, Number(response.headers.get('retry-after')) || null);
  return response;
}

async function call<T>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const response = await send(method, url, body, headers);
  return (response.status === 204 ? null : await response.json()) as T;
}

interface MatchProvenance {
  platform: string;
  group: string | null;
  capturedAt: string | null;
}

/** Where the matched copies were seen, from /v1/match's provenance. */
export function sightingsFromMatches(matches: readonly { provenance: MatchProvenance }[]): Sightings {
  const seen = matches.map((m) => m.provenance);
  const groups = new Map<string, { platform: string; group: string }>();
  for (const { platform, group } of seen) if (group) groups.set(`${platform}\n${group}`, { platform, group });
  const dates = seen.flatMap((p) => (p.capturedAt ? [p.capturedAt] : [])).sort();
  return { places: seen.length, platforms: [...new Set(seen.map((p) => p.platform))], groups: [...groups.values()], firstSeen: dates[0] ?? null, lastSeen: dates.at(-1) ?? null };
}

interface WhereSeen {
  platforms: { platform: string }[];
  groups: { platform: string; group: string }[];
  firstSeen: string | null;
  lastSeen: string | null;
}

interface CaseReportBody {
  caseNumber: string;
  createdAt: string;
  found: WhereSeen & { matches: number };
  takedown: WhereSeen & { items: number; removed: number; status: Takedown['status'] };
}

const sightingsOf = (places: number, seen: WhereSeen): Sightings => ({
  places,
  platforms: seen.platforms.map((p) => p.platform),
  groups: seen.groups.map(({ platform, group }) => ({ platform, group })),
  firstSeen: seen.firstSeen,
  lastSeen: seen.lastSeen,
});

const casePath = (caseNumber: string) => `/v1/cases/${encodeURIComponent(caseNumber.trim())}`;
const pinHeader = (pin: string) => ({ 'x-case-pin': pin.trim() });

export const api = {
  async match(signals: WireSignal[]): Promise<Sightings> {
    const answer = await call<{ matches: { provenance: MatchProvenance }[] }>('POST', '/v1/match', { signals, mode: 'robust' });
    return sightingsFromMatches(answer.matches);
  },
  /** `language`: the page's, kept with the case for the summary of its evidence packages. */
  createCase: (signals: WireSignal[], language: string) => call<CaseCredentials>('POST', '/v1/cases', { signals, language }),
  async readCase({ caseNumber, pin }: CaseCredentials): Promise<CaseReport> {
    const report = await call<CaseReportBody>('GET', casePath(caseNumber), undefined, pinHeader(pin));
    const { found, takedown } = report;
    return {
      caseNumber: report.caseNumber,
      createdAt: report.createdAt,
      sightings: sightingsOf(found.matches, found),
      takedown: { status: takedown.status, items: takedown.items, removed: takedown.removed, sightings: sightingsOf(takedown.items, takedown) },
    };
  },
  /** Her case's evidence package (a zip), with the summary in her language. */
  async caseEvidence({ caseNumber, pin }: CaseCredentials, language: string): Promise<Download> {
    const response = await send('GET', `${casePath(caseNumber)}/evidence?language=${encodeURIComponent(language)}`, undefined, pinHeader(pin));
    const named = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '');
    return { blob: await response.blob(), fileName: named?.[1] ?? 'evidence.zip' };
  },
  withdrawCase: ({ caseNumber, pin }: CaseCredentials) => call<null>('DELETE', casePath(caseNumber), undefined, pinHeader(pin)),
  helpResources: () => call<HelpResourcesBody>('GET', '/help-resources.json'),
};

type Localized = { en: string } & Record<string, string>;
export interface HelpResource {
  kind: 'report' | 'legal' | 'helpline' | 'police';
  name: Localized;
  url?: string;
  phone?: string;
  email?: string;
  description?: Localized;
}
export interface HelpResourcesBody {
  quickExitUrl?: string;
  international: HelpResource[];
  countries: Record<string, { name: Localized; resources: HelpResource[] }>;
}
