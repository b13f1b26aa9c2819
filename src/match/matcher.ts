/**
 * Answers a Query (query.ts) against the indexed store: captured content
 * (`matchContent`: a victim's photo, an NGO's batch item, a case's hashes) or
 * victims' own registered hashes (`matchCases`: newly captured content).
 *
 * Thresholds per signal type: the type's default, replaced by the bank's if it
 * sets one, replaced by the query's if it sets one; whichever applies is
 * lowered to the type's ceiling (its maxThreshold), and the answer says so.
 * The bank is the captured content's in both directions: the bank searched
 * (`matchContent`), or the bank of the item matched against cases
 * (`matchCases` with `bankId`), so a pair matches or not the same way round.
 */
import DataLoader from 'dataloader';
import type { DihedralName } from '../hashing/pdq.js';
import { findSignalType, type KnownSignalType, SIGNAL_TYPES } from '../hashing/registry.js';
import type { RegionKind } from '../robust/regions.js';
import type { CaseSignalOwner, ContentSignalOwner, Provenance, Store } from '../store/store.js';
import { type ExpandedSignal, expandSignals, type Query, QueryError, type QueryWarning } from './query.js';
import type { IndexQuery, SignalSearcher } from './signal-indexes.js';

/** What the matcher reads from the store. */
export type MatcherStore = Pick<Store, 'listBanks' | 'getBank' | 'contentSignalOwners' | 'caseSignalOwners'>;

/** Which hash of the query matched, and how. */
export interface MatchEvidence {
  signalType: string;
  distance: number;
  /** The stored signal that matched. */
  signalId: number;
  /** Position in `query.signals`. */
  signalIndex: number;
  /** Which rotation or mirror of the query matched, when known. */
  variant: DihedralName | null;
  /** A hash of the whole image, or of a region of it. */
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
}

/** The threshold used for one signal type (and bank), and how it was arrived at. */
export interface AppliedThreshold<B extends number | null = number | null> {
  type: string;
  /** null when no bank applies (cases matched for content of no named bank). */
  bankId: B;
  source: 'default' | 'bank' | 'request';
  requested: number;
  /** What was used: `requested`, lowered to the ceiling if above it. */
  applied: number;
  clamped: boolean;
}

/** Content matching always searches banks, so each of its thresholds names one. */
export type BankThreshold = AppliedThreshold<number>;

export interface MatchAnswer<M, T extends AppliedThreshold = AppliedThreshold> {
  /** One match per content item (or case): its closest; sorted by distance. */
  matches: M[];
  /** The threshold of every queried signal type (in every searched bank). */
  thresholds: T[];
  /** The query's own warnings, and THRESHOLD_CLAMPED once per type whose request was lowered. */
  warnings: QueryWarning[];
}

export interface MatcherOptions {
  /** Lower ceilings than the types' own, per type (benchmarks probing how close wrong photos come raise them instead). */
  ceilings?: Readonly<Record<string, number>>;
}

interface Hit extends MatchEvidence {
  type: KnownSignalType;
}

/** Smaller distance wins; at equal distance an exact-type match is the stronger evidence. */
function better(a: Hit, b: Hit): boolean {
  if (a.distance !== b.distance) return a.distance < b.distance;
  if (a.type.comparison !== b.type.comparison) return a.type.comparison === 'exact';
  return a.signalIndex < b.signalIndex;
}

function evidence({ signalType, distance, signalId, signalIndex, variant, via, region }: Hit): MatchEvidence {
  return { signalType, distance, signalId, signalIndex, variant, via, region };
}

function clampWarnings(thresholds: AppliedThreshold[]): QueryWarning[] {
  const clamped = new Map<string, AppliedThreshold>();
  for (const t of thresholds) if (t.clamped) clamped.set(t.type, t);
  return [...clamped.values()].map((t) => ({
    code: 'THRESHOLD_CLAMPED',
    message: `The ${t.type} threshold ${t.requested} is above this service's ceiling; ${t.applied} was used.`,
  }));
}

export class Matcher {
  private readonly ceilings = new Map<string, number>();
  /**
   * The owners of content signals found by queries whose searches come back
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
    private readonly store: MatcherStore,
    private readonly indexes: SignalSearcher,
    options: MatcherOptions = {},
  ) {
    for (const type of SIGNAL_TYPES) this.ceilings.set(type.name, type.maxThreshold);
    for (const [name, ceiling] of Object.entries(options.ceilings ?? {})) {
      const type = findSignalType(name);
      if (!type || type.comparison !== 'hamming' || !Number.isInteger(ceiling) || ceiling < 0 || ceiling > type.bits) {
        throw new QueryError('INVALID_REQUEST', `ceiling ${ceiling} for ${name} is not a distance of a perceptual type`);
      }
      this.ceilings.set(name, ceiling);
    }
  }

  /** The highest threshold a bank or query may use for `type`. */
  ceiling(type: KnownSignalType): number {
    return this.ceilings.get(type.name)!;
  }

  /**
   * Captured content matching the query; a content item deleted mid-way is
   * simply not reported.
   */
  async matchContent(query: Query): Promise<MatchAnswer<ContentMatch, BankThreshold>> {
    const banks = query.banks === undefined ? this.store.listBanks() : query.banks.map((id) => this.store.getBank(id));
    const expanded = expandSignals(query);
    const thresholds: BankThreshold[] = [];
    const thresholdOf = new Map<string, Map<number, number>>();
    const radiusOf = new Map<string, number>();
    for (const type of new Set(expanded.map((s) => s.type))) {
      const byBank = new Map<number, number>();
      for (const bank of banks) {
        const applied = this.resolve(type, bank.id, bank.thresholds[type.name], query.thresholds[type.name]);
        thresholds.push(applied);
        byBank.set(bank.id, applied.applied);
      }
      thresholdOf.set(type.name, byBank);
      radiusOf.set(type.name, Math.max(0, ...byBank.values()));
    }
    const hits: Hit[] = [];
    if (banks.length > 0) await this.searchAll('content', expanded, radiusOf, hits);
    const owners = await this.ownersOf(hits);
    const best = new Map<number, { hit: Hit; owner: ContentSignalOwner }>();
    for (const hit of hits) {
      const owner = owners.get(hit.signalId);
      // An index hit without an owner was deleted since the search.
      if (!owner || hit.distance > (thresholdOf.get(hit.signalType)?.get(owner.bankId) ?? -1)) continue;
      const current = best.get(owner.contentId);
      if (!current || better(hit, current.hit)) best.set(owner.contentId, { hit, owner });
    }
    const matches = [...best.values()].map(({ hit, owner }) => ({ contentId: owner.contentId, bankId: owner.bankId, provenance: owner.provenance, ...evidence(hit) }));
    matches.sort((a, b) => a.distance - b.distance || a.contentId - b.contentId);
    return { matches, thresholds, warnings: [...query.warnings, ...clampWarnings(thresholds)] };
  }

  /**
   * Victims' cases whose hashes match the query (newly captured content).
   * Withdrawn cases are deleted, so they cannot match. With `bankId`, the
   * bank the content was captured into, its threshold overrides apply as
   * they do when a case is matched against that bank (`matchContent`);
   * without, the query's thresholds, else the types' defaults.
   */
  async matchCases(query: Query, options: { bankId?: number } = {}): Promise<MatchAnswer<CaseMatch>> {
    const { bankId } = options;
    const bank = bankId === undefined ? undefined : this.store.getBank(bankId);
    const expanded = expandSignals(query);
    const thresholds = [...new Set(expanded.map((s) => s.type))].map((type) => this.resolve(type, bank?.id ?? null, bank?.thresholds[type.name], query.thresholds[type.name]));
    const radiusOf = new Map(thresholds.map((t) => [t.type, t.applied]));
    const hits = await this.searchAll('case', expanded, radiusOf, []);
    const owners = new Map<number, CaseSignalOwner>(this.store.caseSignalOwners(uniqueSignalIds(hits)).map((o) => [o.signalId, o]));
    const best = new Map<number, { hit: Hit; owner: CaseSignalOwner }>();
    for (const hit of hits) {
      const owner = owners.get(hit.signalId);
      if (!owner) continue;
      const current = best.get(owner.caseId);
      if (!current || better(hit, current.hit)) best.set(owner.caseId, { hit, owner });
    }
    const matches = [...best.values()].map(({ hit, owner }) => ({ caseId: owner.caseId, caseNumber: owner.caseNumber, ...evidence(hit) }));
    matches.sort((a, b) => a.distance - b.distance || a.caseId - b.caseId);
    return { matches, thresholds, warnings: [...query.warnings, ...clampWarnings(thresholds)] };
  }

  private resolve<B extends number | null>(type: KnownSignalType, bankId: B, bankThreshold: number | undefined, requestThreshold: number | undefined): AppliedThreshold<B> {
    const source: AppliedThreshold['source'] = requestThreshold !== undefined ? 'request' : bankThreshold !== undefined ? 'bank' : 'default';
    const requested = requestThreshold ?? bankThreshold ?? type.defaultThreshold;
    const ceiling = this.ceiling(type);
    return { type: type.name, bankId, source, requested, applied: Math.min(requested, ceiling), clamped: requested > ceiling };
  }

  private async ownersOf(hits: Hit[]): Promise<Map<number, ContentSignalOwner>> {
    const owners = new Map<number, ContentSignalOwner>();
    if (hits.length === 0) return owners;
    for (const owner of await this.contentOwners.loadMany(uniqueSignalIds(hits))) {
      if (owner instanceof Error) throw owner;
      if (owner) owners.set(owner.signalId, owner);
    }
    return owners;
  }

  /**
   * Searches every expanded signal, appending to `hits` in query order. All
   * of a query's searches go to the searcher at once: the service's index
   * threads search them as batches per index part (robust queries carry
   * hundreds of hashes), which costs less per hash the larger they are, and
   * share a large one between the threads.
   */
  private async searchAll(owner: 'content' | 'case', expanded: ExpandedSignal[], radiusOf: Map<string, number>, hits: Hit[]): Promise<Hit[]> {
    const lookups: IndexQuery[] = expanded.map((s) => ({ type: s.type.name, code: s.code, radius: radiusOf.get(s.type.name)!, region: s.region }));
    const found = await this.indexes.searchMany(owner, lookups);
    expanded.forEach(({ type, signalIndex, variant, region }, i) => {
      const via = type.scope === 'region' ? 'region' : 'whole';
      for (const { signalId, distance } of found[i]) hits.push({ type, signalType: type.name, distance, signalId, signalIndex, variant, via, region });
    });
    return hits;
  }
}

function uniqueSignalIds(hits: Hit[]): number[] {
  return [...new Set(hits.map((h) => h.signalId))];
}
