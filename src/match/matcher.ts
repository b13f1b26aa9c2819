import DataLoader from 'dataloader';
import { DIHEDRAL_NAMES, pdqDihedralFromDct, type DihedralName } from '../hashing/pdq.js';
import type { RegionKind } from '../robust/regions.js';
import { StoreError } from '../store/errors.js';
import { STORED_SIGNAL_TYPES, type StoredSignalType } from '../store/signal-types.js';
import type { CaseStatus, ContentSignalOwner, Provenance, SignalOwnerKind, Store, ThresholdsByType } from '../store/store.js';
import type { IndexQuery, SignalSearcher } from './signal-indexes.js';

/**
 * One hash to match. A PDQ hash computed from an image may carry the DCT the
 * hashing core returned, which lets `dihedral` requests also match the image's
 * 8 rotations and flips. A bare hash has no DCT, and the variants cannot be
 * derived from the bits alone, so hash-only queries match as given.
 */
export interface HashQuery {
  type: string;
  hash: Uint8Array;
  /** PDQ (and a pdq-region frame): the 16 x 16 DCT block the hash came from. */
  dct?: Float32Array;
  /** pdq-region only: which region of the query image the hash is of. */
  region?: RegionKind;
}

export interface MatchRequest {
  hashes: HashQuery[];
  /** Per-type thresholds for this request; they replace bank thresholds, and are clamped to the ceiling. */
  thresholds?: ThresholdsByType;
  /** Also match the 8 dihedral variants of PDQ queries (each such query must carry its DCT). */
  dihedral?: boolean;
}

export interface ContentMatchRequest extends MatchRequest {
  /** Search only these banks (default: all). */
  bankIds?: number[];
}

/** Which of the request's hashes matched, and how. */
export interface MatchEvidence {
  signalType: string;
  distance: number;
  /** The stored signal that matched. */
  signalId: number;
  /** Position in `request.hashes`. */
  queryIndex: number;
  /** Which dihedral variant of the query matched; null when the query was not expanded. */
  variant: DihedralName | null;
  /** How the match was found: a hash of the whole image, or of a region of it (pdq-region). */
  via: 'whole' | 'region';
  /** For region matches, which region of the query matched (when the query said). */
  region: RegionKind | null;
}

export interface ContentMatch extends MatchEvidence {
  contentId: number;
  bankId: number;
  provenance: Provenance;
}

export interface CaseMatch extends MatchEvidence {
  caseId: number;
  caseNumber: string;
  status: CaseStatus;
}

/** The threshold used for one signal type (and bank), and how it was arrived at. */
export interface AppliedThreshold<B extends number | null = number | null> {
  type: string;
  /** null for case matching, which has no banks. */
  bankId: B;
  source: 'default' | 'bank' | 'request';
  /** What the source asked for. */
  requested: number;
  /** What was used: `requested`, lowered to the ceiling if above it. */
  applied: number;
  clamped: boolean;
}

/** Content matching always searches banks, so each of its thresholds names one. */
export type BankThreshold = AppliedThreshold<number>;

export interface MatchResult<M, T extends AppliedThreshold = AppliedThreshold> {
  /** One match per content item (or case): its smallest distance; sorted by distance. */
  matches: M[];
  /** Thresholds for every queried signal type; check `clamped` to see a lowered request. */
  thresholds: T[];
}

export interface MatcherOptions {
  /**
   * Highest threshold any bank or request may use, per signal type. Defaults
   * to the type's default threshold, so loosening matching is a deliberate
   * deployment decision: every false match shows someone a link to another
   * person's intimate image. Exact types are always 0.
   */
  ceilings?: ThresholdsByType;
}

/** Query hashes searched between pauses by matchContentInSlices. */
const SEARCH_SLICE = 64;

function invalid(message: string): StoreError {
  return new StoreError('INVALID_INPUT', message);
}

function knownType(name: string): StoredSignalType {
  const type = STORED_SIGNAL_TYPES.get(name);
  if (!type) throw invalid(`unknown signal type ${JSON.stringify(name)}; known: ${[...STORED_SIGNAL_TYPES.keys()].join(', ')}`);
  return type;
}

function checkThreshold(type: StoredSignalType, value: unknown, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > type.bytes * 8) {
    throw invalid(`${what} for ${type.name} must be an integer from 0 to ${type.bytes * 8}`);
  }
  return value as number;
}

interface ExpandedQuery {
  type: StoredSignalType;
  code: Uint8Array;
  queryIndex: number;
  variant: DihedralName | null;
  region: RegionKind | null;
}

interface Hit extends MatchEvidence {
  type: StoredSignalType;
}

/** What matching content needs besides the index hits. */
interface ContentPlan {
  queries: ExpandedQuery[];
  /** False when there is no bank to search. */
  searched: boolean;
  thresholds: BankThreshold[];
  /** Applied threshold by signal type, then bank id. */
  thresholdOf: Map<string, Map<number, number>>;
  /** Search radius by signal type: the largest threshold of any bank. */
  radiusOf: Map<string, number>;
}

/** Smaller distance wins; at equal distance an exact-type match is the stronger evidence. */
function better(a: Hit, b: Hit): boolean {
  if (a.distance !== b.distance) return a.distance < b.distance;
  if (a.type.comparison !== b.type.comparison) return a.type.comparison === 'exact';
  return a.queryIndex < b.queryIndex;
}

function evidence(hit: Hit): MatchEvidence {
  const { signalType, distance, signalId, queryIndex, variant, via, region } = hit;
  return { signalType, distance, signalId, queryIndex, variant, via, region };
}

/**
 * Matches hashes against the indexed store: captured content (`matchContent`)
 * or victims' own hashes (`matchCases`, for checking newly captured content).
 *
 * Thresholds per signal type: the type's default, replaced by the bank's if it
 * sets one, replaced by the request's if it sets one; whichever applies is
 * clamped to the configured ceiling, and `thresholds` in the result says so.
 */
export class Matcher {
  private readonly ceilings = new Map<string, number>();
  /**
   * The owners of content signals found by requests whose searches come back
   * together are read in one store call: each call on SQLite pays for taking
   * and releasing a read lock (two system calls), more than reading the rows.
   */
  private readonly contentOwners = new DataLoader<number, ContentSignalOwner | null>(
    async (signalIds) => {
      const owners = new Map<number, ContentSignalOwner>();
      for (const owner of this.store.contentSignalOwners(signalIds as number[])) owners.set(owner.signalId, owner);
      return signalIds.map((id) => owners.get(id) ?? null);
    },
    { cache: false, maxBatchSize: 10_000 },
  );

  constructor(
    private readonly store: Store,
    private readonly indexes: SignalSearcher,
    options: MatcherOptions = {},
  ) {
    for (const type of STORED_SIGNAL_TYPES.values()) this.ceilings.set(type.name, type.defaultThreshold);
    for (const [name, ceiling] of Object.entries(options.ceilings ?? {})) {
      const type = knownType(name);
      checkThreshold(type, ceiling, 'ceiling');
      if (type.comparison === 'exact' && ceiling !== 0) throw invalid(`${name} is an exact type: its ceiling is 0`);
      this.ceilings.set(name, ceiling);
    }
  }

  ceiling(type: string): number {
    return this.ceilings.get(knownType(type).name)!;
  }

  async matchContent(request: ContentMatchRequest): Promise<MatchResult<ContentMatch, BankThreshold>> {
    const plan = this.planContent(request);
    const hits: Hit[] = [];
    if (plan.searched) await this.search('content', plan.queries, 0, plan.queries.length, plan.radiusOf, hits);
    return await this.finishContent(plan, hits);
  }

  /**
   * matchContent for queries of hundreds of hashes (robust image queries): the
   * index is searched a slice at a time with `pause()` awaited in between, so
   * other requests are served meanwhile. Results are those of matchContent; a
   * content item deleted mid-way is simply not reported.
   */
  async matchContentInSlices(request: ContentMatchRequest, pause: () => Promise<void>, slice = SEARCH_SLICE): Promise<MatchResult<ContentMatch, BankThreshold>> {
    const plan = this.planContent(request);
    const hits: Hit[] = [];
    for (let i = 0; plan.searched && i < plan.queries.length; i += slice) {
      if (i > 0) await pause();
      await this.search('content', plan.queries, i, Math.min(i + slice, plan.queries.length), plan.radiusOf, hits);
    }
    return await this.finishContent(plan, hits);
  }

  private planContent(request: ContentMatchRequest): ContentPlan {
    const queries = this.expand(request);
    const requestThresholds = this.requestThresholds(request.thresholds);
    if (request.bankIds !== undefined && !Array.isArray(request.bankIds)) throw invalid('bankIds must be an array of bank ids');
    const banks = request.bankIds === undefined ? this.store.listBanks() : [...new Set(request.bankIds)].map((id) => this.store.getBank(id));
    const thresholds: BankThreshold[] = [];
    const thresholdOf = new Map<string, Map<number, number>>();
    const radiusOf = new Map<string, number>();
    for (const { type } of queries) {
      if (thresholdOf.has(type.name)) continue;
      const byBank = new Map<number, number>();
      let radius = 0;
      for (const bank of banks) {
        const applied = this.resolve(type, bank.id, bank.thresholds[type.name], requestThresholds?.get(type.name));
        thresholds.push(applied);
        byBank.set(bank.id, applied.applied);
        radius = Math.max(radius, applied.applied);
      }
      thresholdOf.set(type.name, byBank);
      radiusOf.set(type.name, radius);
    }
    return { queries, searched: banks.length > 0, thresholds, thresholdOf, radiusOf };
  }

  private async finishContent(plan: ContentPlan, hits: Hit[]): Promise<MatchResult<ContentMatch, BankThreshold>> {
    if (hits.length === 0) return { matches: [], thresholds: plan.thresholds };
    const owners = new Map<number, ContentSignalOwner>();
    for (const owner of await this.contentOwners.loadMany(uniqueSignalIds(hits))) {
      if (owner instanceof Error) throw owner;
      if (owner) owners.set(owner.signalId, owner);
    }
    const best = new Map<number, { hit: Hit; owner: ContentSignalOwner }>();
    for (const hit of hits) {
      const owner = owners.get(hit.signalId);
      // An index hit without an owner: deleted since the search (or never, while the index follows the store).
      if (!owner) continue;
      const threshold = plan.thresholdOf.get(hit.signalType)?.get(owner.bankId);
      if (threshold === undefined || hit.distance > threshold) continue;
      const current = best.get(owner.contentId);
      if (!current || better(hit, current.hit)) best.set(owner.contentId, { hit, owner });
    }
    const matches: ContentMatch[] = [];
    for (const { hit, owner } of best.values()) {
      const { signalType, distance, signalId, queryIndex, variant, via, region } = hit;
      matches.push({ contentId: owner.contentId, bankId: owner.bankId, provenance: owner.provenance, signalType, distance, signalId, queryIndex, variant, via, region });
    }
    matches.sort((a, b) => a.distance - b.distance || a.contentId - b.contentId);
    return { matches, thresholds: plan.thresholds };
  }

  /**
   * Victims' cases whose hashes match, e.g. for newly captured content. Closed
   * cases match too (their status is in each match); withdrawn cases are
   * deleted, so they cannot.
   */
  async matchCases(request: MatchRequest): Promise<MatchResult<CaseMatch>> {
    const queries = this.expand(request);
    const requestThresholds = this.requestThresholds(request.thresholds);
    const thresholds = [...new Set(queries.map((q) => q.type))].map((type) => this.resolve(type, null, undefined, requestThresholds?.get(type.name)));
    const radiusOf = new Map(thresholds.map((t) => [t.type, t.applied]));
    const hits = (await this.search('case', queries, 0, queries.length, radiusOf, [])).filter((hit) => hit.distance <= radiusOf.get(hit.signalType)!);
    const owners = new Map(this.store.caseSignalOwners(uniqueSignalIds(hits)).map((o) => [o.signalId, o]));
    const best = new Map<number, { hit: Hit; caseNumber: string; status: CaseStatus }>();
    for (const hit of hits) {
      const owner = owners.get(hit.signalId);
      if (!owner) continue;
      const current = best.get(owner.caseId);
      if (!current || better(hit, current.hit)) best.set(owner.caseId, { hit, caseNumber: owner.caseNumber, status: owner.status });
    }
    const matches = [...best].map(([caseId, { hit, caseNumber, status }]) => ({ caseId, caseNumber, status, ...evidence(hit) }));
    matches.sort((a, b) => a.distance - b.distance || a.caseId - b.caseId);
    return { matches, thresholds };
  }

  private resolve<B extends number | null>(type: StoredSignalType, bankId: B, bankThreshold: number | undefined, requestThreshold: number | undefined): AppliedThreshold<B> {
    const source: AppliedThreshold['source'] = requestThreshold !== undefined ? 'request' : bankThreshold !== undefined ? 'bank' : 'default';
    const requested = requestThreshold ?? bankThreshold ?? type.defaultThreshold;
    const ceiling = this.ceilings.get(type.name)!;
    return { type: type.name, bankId, source, requested, applied: Math.min(requested, ceiling), clamped: requested > ceiling };
  }

  /** The request's thresholds by type, checked; undefined when it sets none. */
  private requestThresholds(thresholds: ThresholdsByType | undefined): Map<string, number> | undefined {
    if (thresholds === undefined) return undefined;
    if (typeof thresholds !== 'object' || thresholds === null || Array.isArray(thresholds)) throw invalid('thresholds must be an object keyed by signal type');
    return new Map(Object.entries(thresholds).map(([name, value]) => [name, checkThreshold(knownType(name), value, 'threshold')]));
  }

  /** Validates the queries and expands PDQ queries to their dihedral variants when asked. */
  private expand(request: MatchRequest): ExpandedQuery[] {
    if (!request || !Array.isArray(request.hashes) || request.hashes.length === 0) throw invalid('hashes must be a non-empty array');
    const expanded: ExpandedQuery[] = [];
    request.hashes.forEach((query, queryIndex) => {
      const type = knownType(query?.type);
      if (!(query.hash instanceof Uint8Array) || query.hash.length !== type.bytes) {
        throw new StoreError('INVALID_HASH', `hashes[${queryIndex}]: a ${type.name} hash must be ${type.bytes} bytes`);
      }
      const region = type.name === 'pdq-region' ? (query.region ?? null) : null;
      if (!request.dihedral || (type.name !== 'pdq' && !(type.name === 'pdq-region' && query.dct))) {
        expanded.push({ type, code: query.hash, queryIndex, variant: null, region });
        return;
      }
      if (!(query.dct instanceof Float32Array) || query.dct.length !== 256) {
        throw invalid(
          `hashes[${queryIndex}]: dihedral matching needs the 256-value DCT the PDQ hasher returns with an image's hash; a bare hash can only be matched as given`,
        );
      }
      pdqDihedralFromDct(query.dct).forEach((code, v) => expanded.push({ type, code, queryIndex, variant: DIHEDRAL_NAMES[v], region }));
    });
    return expanded;
  }

  /** Searches `queries[from..to)`, appending the hits to `hits` (which it returns). */
  private async search(owner: SignalOwnerKind, queries: ExpandedQuery[], from: number, to: number, radiusOf: Map<string, number>, hits: Hit[]): Promise<Hit[]> {
    const lookups: IndexQuery[] = [];
    for (let i = from; i < to; i++) lookups.push({ type: queries[i].type.name, code: queries[i].code, radius: radiusOf.get(queries[i].type.name)! });
    const found = await this.indexes.searchMany(owner, lookups);
    for (let i = from; i < to; i++) {
      const { type, queryIndex, variant, region } = queries[i];
      const via = type.name === 'pdq-region' ? 'region' : 'whole';
      for (const { signalId, distance } of found[i - from]) hits.push({ type, signalType: type.name, distance, signalId, queryIndex, variant, via, region });
    }
    return hits;
  }
}

function uniqueSignalIds(hits: Hit[]): number[] {
  return [...new Set(hits.map((h) => h.signalId))];
}
