/**
 * Matching a photo or hashes against captured content: POST /v1/match and
 * the CLI's lookups. Nothing about the query is stored: not the image, not
 * its hashes.
 */
import type { BankThreshold, ContentMatch, MatchAnswer } from '../match/matcher.js';
import { type Query, type QueryOptions, type QueryWarning, queryFromHashes, queryFromImage, queryOptionsFromFields, type WireSignal } from '../match/query.js';
import type { Provenance } from '../store/store.js';
import type { ServiceContext } from './context.js';
import type { ServerTiming } from './timing.js';

/** What the caller may see of a match. */
export interface Viewer {
  /**
   * The message link, which leads straight to the image: only for takedown
   * and admin keys. Victims and NGOs learn that and where their photo
   * circulates (platform, group, when) and the content id, which means
   * nothing outside the service but lets a takedown team act on it.
   */
  fullProvenance: boolean;
}

export interface MatchedProvenance {
  platform: string;
  group: string | null;
  capturedAt: string | null;
  /** Left out (undefined) for viewers without full provenance. */
  messageUrl?: string | null;
}

export interface MatchedItem {
  contentId: number;
  bankId: number;
  signalType: string;
  distance: number;
  variant: string | null;
  via: 'whole' | 'region';
  region: string | null;
  /** Hash queries: which of the caller's hashes matched. */
  signalIndex?: number;
  provenance: MatchedProvenance;
}

export interface MatchResponse {
  matches: MatchedItem[];
  thresholds: BankThreshold[];
  warnings: QueryWarning[];
}

export interface HashMatchRequest extends QueryOptions {
  signals: WireSignal[];
}

export function provenanceFor(provenance: Provenance, viewer: Viewer): MatchedProvenance {
  return {
    platform: provenance.platform,
    group: provenance.channel,
    capturedAt: provenance.capturedAt,
    ...(viewer.fullProvenance ? { messageUrl: provenance.messageRef } : {}),
  };
}

/** A match as the API shows it: the same on /v1/match and in batch results. */
export function presentMatch(
  m: Pick<ContentMatch, 'contentId' | 'bankId' | 'signalType' | 'distance'> & { variant?: string | null; via?: 'whole' | 'region'; region?: string | null; signalIndex?: number },
  provenance: Provenance,
  viewer: Viewer,
  withSignalIndex: boolean,
): MatchedItem {
  return {
    contentId: m.contentId,
    bankId: m.bankId,
    signalType: m.signalType,
    distance: m.distance,
    variant: m.variant ?? null,
    via: m.via ?? (m.signalType === 'pdq-region' ? 'region' : 'whole'),
    region: m.region ?? null,
    ...(withSignalIndex && m.signalIndex !== undefined ? { signalIndex: m.signalIndex } : {}),
    provenance: provenanceFor(provenance, viewer),
  };
}

export class MatchingService {
  constructor(private readonly services: ServiceContext) {}

  /** Hashes a client computed (its own photo, or a robust query of it): no key needed. */
  byHashes({ signals, ...options }: HashMatchRequest, viewer: Viewer): Promise<MatchResponse> {
    return this.answer(queryFromHashes(signals, options), viewer);
  }

  /** An uploaded image, hashed here in memory, with the options of its form fields; with `timing`, hashing and searching are timed. */
  async byImage(bytes: Uint8Array, fields: Readonly<Record<string, string | undefined>>, viewer: Viewer, timing?: ServerTiming): Promise<MatchResponse> {
    const options = queryOptionsFromFields(fields);
    const hashed = await this.services.hashing.hashForQuery(bytes, options.mode, timing);
    const answer = await this.answer(queryFromImage(hashed, options), viewer);
    timing?.mark('search');
    return answer;
  }

  async answer(query: Query, viewer: Viewer): Promise<MatchResponse> {
    const { matches, thresholds, warnings } = await this.search(query);
    return { matches: matches.map((m) => presentMatch(m, m.provenance, viewer, query.fromHashes)), thresholds, warnings };
  }

  /** The matcher's answer; a robust query's hundreds of hashes are searched on the index threads, off the event loop. */
  search(query: Query): Promise<MatchAnswer<ContentMatch, BankThreshold>> {
    return this.services.matcher.matchContent(query);
  }
}
