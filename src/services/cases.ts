/**
 * Victims' cases: a person registers her own photos (hashed here in memory,
 * or in her own browser) and gets a case number and a PIN, shown once
 * (case-credentials.ts). With both she can see whether and where copies were
 * found, and withdraw everything at any time.
 *
 * A case holds what a robust query of each photo searches with: PDQ with its
 * rotations and mirrors, blockhash, the digests, and the photo's query region
 * hashes (crops, rotations, parts), so a case is matched exactly as
 * /v1/match matches her photo. Every photo that decodes is accepted: a dark
 * one is kept as its stretched-contrast PDQ (pdq-norm) and regions, a
 * featureless one as its exact digests, and the answer says so for each
 * (registering them silently would promise protection the service cannot
 * give).
 *
 * PIN guessing (see SECURITY.md): an unknown case number and a wrong PIN get
 * the same answer after the same scrypt work, so numbers cannot be probed.
 * Wrong PINs are limited per case and client (PIN_ATTEMPTS_PER_HOUR: one
 * client cannot guess on), and per case from everyone together
 * (PIN_ATTEMPTS_PER_CASE_PER_HOUR: guessing spread over many networks gets
 * nowhere either). No limit spans a client's attempts on different cases,
 * so someone behind the same address (a household, a shelter, a carrier's
 * NAT) who knows one case number can lock that case for that address at
 * most, and never another woman's case. Unknown case numbers have a budget
 * per client of their own, which bounds the scrypt work a spray of made-up
 * numbers costs and touches no real case.
 */
import { hashPin, verifyPin } from '../store/pin.js';
import { StoreError } from '../store/errors.js';
import type { NewSignal, Provenance, VictimCase } from '../store/store.js';
import type { CaseFindings } from '../store/scan-matches.js';
import { MAX_QUERY_SIGNALS, type Query, queryFromHashes, queryFromImage, queryFromSignals, searchedSignals } from '../match/query.js';
import type { ImageSignals } from '../robust/image-signals.js';
import { PDQ_MIN_QUALITY } from '../hashing/pdq.js';
import { isSummaryLanguage, SUMMARY_LANGUAGES, type SummaryLanguage } from '../evidence/summary.js';
import { AttemptLimiter } from './attempt-limiter.js';
import { newCaseNumber, newPin, normalizeCaseNumber, normalizePin } from './case-credentials.js';
import { ServiceError } from './errors.js';
import { describeFile } from './hashing.js';
import type { ServiceContext } from './context.js';
import type { MatchingService } from './matching.js';

/** Enough for a handful of photos of oneself; cases are not bulk intake. */
export const CASE_MAX_IMAGES = 20;
/** A browser may send each photo's whole robust query. */
export const CASE_MAX_SIGNALS = CASE_MAX_IMAGES * MAX_QUERY_SIGNALS;
/**
 * The largest hash list a case imports through the API (or MAX_IMPORT_BYTES if
 * lower): the limit of a JSON body, as a case made from hashes has. A case's
 * own export of CASE_MAX_SIGNALS hashes fits in any format (about 6 MiB as HMA JSON).
 */
export const CASE_IMPORT_MAX_BYTES = 10 * 1024 * 1024;
const HOUR_MS = 3_600_000;

/** The languages a case can be registered in: those its evidence summary is written in, the victim page's. */
export const CASE_LANGUAGES: readonly SummaryLanguage[] = SUMMARY_LANGUAGES;
export type CaseLanguage = SummaryLanguage;

/** `language` if given and one of CASE_LANGUAGES; anything else is refused. */
export function checkLanguage(language: string | undefined): CaseLanguage | undefined {
  if (language === undefined || isSummaryLanguage(language)) return language;
  throw new ServiceError('INVALID_REQUEST', `language ${JSON.stringify(language)} must be one of ${CASE_LANGUAGES.join(', ')}.`);
}
const NO_SUCH_CASE = 'No case matches this case number and PIN.';

/** A hash a victim's device computed, as registered. */
export interface CaseSignalInput {
  type: string;
  hash: string;
  quality?: number;
  region?: string;
  variant?: string;
}

export interface CaseCreated {
  caseNumber: string;
  pin: string;
  /** How many hashes were registered. */
  hashes: number;
  /** Photos the service can watch for only in part (LOW_QUALITY), each named. */
  warnings?: { code: string; message: string }[];
}

export interface CaseReport {
  caseNumber: string;
  status: VictimCase['status'];
  createdAt: string;
  hashes: number;
  found: {
    matches: number;
    platforms: { platform: string; matches: number }[];
    groups: { platform: string; group: string; matches: number }[];
    firstSeen: string | null;
    lastSeen: string | null;
  };
  /** What scheduled scans found and what became of it: counts, platforms, group names and times only. */
  takedown: CaseFindings & { status: CaseTakedownStatus };
}

/** open: nothing found by scans; found: copies found, not all removed yet; all removed: every copy found is gone. */
export type CaseTakedownStatus = 'open' | 'found' | 'all removed';

export function takedownStatus(findings: CaseFindings): CaseTakedownStatus {
  if (findings.items === 0) return 'open';
  return findings.removed === findings.items ? 'all removed' : 'found';
}

export class CaseService {
  private readonly perCase: AttemptLimiter;
  private readonly perClientAndCase: AttemptLimiter;
  private readonly unknownPerClient: AttemptLimiter;
  /** Verified against when the case does not exist, so both answers cost the same scrypt work. */
  private readonly dummyPinHash = hashPin(normalizePin(newPin()));

  constructor(
    private readonly services: ServiceContext,
    private readonly matching: MatchingService,
  ) {
    const { config } = services;
    this.perCase = new AttemptLimiter(config.PIN_ATTEMPTS_PER_CASE_PER_HOUR, HOUR_MS);
    this.perClientAndCase = new AttemptLimiter(config.PIN_ATTEMPTS_PER_HOUR, HOUR_MS);
    this.unknownPerClient = new AttemptLimiter(config.PIN_UNKNOWN_CASE_ATTEMPTS_PER_HOUR, HOUR_MS);
  }

  /**
   * Registers photos (all hashed first; a file that cannot be read fails the
   * request, naming it, and nothing is stored). Every photo that decodes is
   * accepted; `warnings` says plainly what the service can watch for where
   * that is less than edited copies (a dark photo; a featureless one).
   */
  async createFromImages(files: readonly { filename: string; bytes: Uint8Array }[], language?: string): Promise<CaseCreated> {
    const checked = checkLanguage(language);
    const signals: NewSignal[] = [];
    const warnings: { code: string; message: string }[] = [];
    for (const [i, file] of files.entries()) {
      const name = describeFile(i, file.filename);
      const hashed = await this.services.hashing.hashNamed(file.bytes, name, 'Nothing was registered.', { regions: 'query' });
      const query = queryFromImage(hashed);
      signals.push(...storedSignals(query, hashed));
      const featureless = query.warnings.find((w) => w.code === 'LOW_QUALITY');
      if (featureless) warnings.push({ code: 'LOW_QUALITY', message: `${name}: ${watchedFor(query)}` });
    }
    return { ...(await this.create(signals, checked)), ...(warnings.length > 0 ? { warnings } : {}) };
  }

  /** Registers hashes computed on her own device. */
  async createFromHashes(input: readonly CaseSignalInput[], language?: string): Promise<CaseCreated> {
    const checked = checkLanguage(language);
    const lowQuality = input.flatMap((s, i) => (s.type === 'pdq' && s.quality !== undefined && s.quality < PDQ_MIN_QUALITY ? [`signals[${i}]`] : []));
    if (lowQuality.length > 0) {
      throw new ServiceError('LOW_QUALITY', `PDQ quality under ${PDQ_MIN_QUALITY} cannot be matched reliably: ${lowQuality.join(', ')}. Nothing was registered.`);
    }
    const query = queryFromHashes(input.map(({ type, hash, region, variant }) => ({ type, hash, region, variant })));
    return this.create(
      searchedSignals(query).map(({ type, code, signalIndex }) => ({ type: type.name, hash: code, quality: input[signalIndex].quality ?? null })),
      checked,
    );
  }

  /** What was found for the case, if number and PIN are right. */
  async read(typedNumber: string, typedPin: string, client: string): Promise<{ report: CaseReport; matchCount: number }> {
    const victimCase = await this.open(typedNumber, typedPin, client);
    const signals = this.services.store.listSignals({ kind: 'case', caseId: victimCase.id });
    const matches = signals.length === 0 ? [] : (await this.matching.search(queryFromSignals(signals))).matches;
    // Withdrawn while the search ran: answered as withdrawn, not as still open.
    this.current(victimCase.caseNumber);
    const seen = matches.map(({ contentId, provenance }) => provenance.capturedAt ?? this.services.store.getContent(contentId).createdAt).sort();
    const findings = this.services.matchStore.caseFindings(victimCase.id);
    return {
      report: {
        caseNumber: victimCase.caseNumber,
        status: victimCase.status,
        createdAt: victimCase.createdAt,
        hashes: signals.length,
        found: { matches: matches.length, ...whereFound(matches.map((m) => m.provenance)), firstSeen: seen[0] ?? null, lastSeen: seen.at(-1) ?? null },
        takedown: { ...findings, status: takedownStatus(findings) },
      },
      matchCount: matches.length,
    };
  }

  /** Withdrawal: every hash of the case leaves the store and the indexes before this returns. */
  async withdraw(typedNumber: string, typedPin: string, client: string): Promise<void> {
    const victimCase = await this.open(typedNumber, typedPin, client);
    try {
      // Erased before the case goes: deleting it empties the database's log of both.
      this.services.trail.log.redactCase(victimCase.id);
      this.services.store.deleteCase(victimCase.id);
    } catch (err) {
      // Withdrawn by a request running alongside this one: the same answer as any unknown case.
      if (err instanceof StoreError && err.code === 'NOT_FOUND') throw new ServiceError('NOT_FOUND', NO_SUCH_CASE);
      throw err;
    }
  }

  /** `language`: the one she registers in (her evidence summary's); none is English. */
  private async create(signals: NewSignal[], language: CaseLanguage | undefined): Promise<CaseCreated> {
    const pin = newPin();
    const pinHash = await hashPin(normalizePin(pin));
    // A clash of ~59-bit random numbers is next to impossible; try again rather than fail if it happens.
    for (let attempt = 0; ; attempt++) {
      try {
        const created = this.services.store.createCase({ caseNumber: newCaseNumber(), pinHash, signals, language: language ?? null });
        this.services.trail.record('case.created', { caseId: created.id, details: { hashes: signals.length } });
        return { caseNumber: created.caseNumber, pin, hashes: signals.length };
      } catch (err) {
        if (!(err instanceof StoreError && err.code === 'CONFLICT') || attempt >= 3) throw err;
      }
    }
  }

  /** The case, if number and PIN are right; the same refusal otherwise. `client` names who is trying (a key, or an address's network). */
  async open(typedNumber: string, typedPin: string, client: string): Promise<VictimCase> {
    const now = Date.now();
    const caseNumber = normalizeCaseNumber(typedNumber);
    const found = caseNumber === null ? undefined : this.services.store.findCaseByNumber(caseNumber);
    // Unknown numbers are limited per case too, so that a locked number does not tell a real case from a made-up one.
    const caseKey = caseNumber ?? typedNumber.toUpperCase();
    const limits: [AttemptLimiter, string][] = [
      [this.perCase, caseKey],
      found ? [this.perClientAndCase, `${client} ${caseKey}`] : [this.unknownPerClient, client],
    ];
    const waitMs = Math.max(...limits.map(([limiter, key]) => limiter.retryAfterMs(key, now)));
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      throw new ServiceError('RATE_LIMITED', `Too many wrong PINs; try again in ${Math.ceil(seconds / 60)} minutes.`, seconds);
    }
    for (const [limiter, key] of limits) limiter.record(key, now);
    const right = await verifyPin(normalizePin(typedPin), found?.pinHash ?? (await this.dummyPinHash));
    if (!found || !right) throw new ServiceError('NOT_FOUND', NO_SUCH_CASE);
    for (const [limiter, key] of limits) limiter.forgive(key, now);
    // Read again: a withdrawal may have finished while the PIN was checked.
    return this.current(found.caseNumber);
  }

  /** The case as stored now, or the usual refusal if it was withdrawn meanwhile. */
  current(caseNumber: string): VictimCase {
    const victimCase = this.services.store.findCaseByNumber(caseNumber);
    if (!victimCase) throw new ServiceError('NOT_FOUND', NO_SUCH_CASE);
    return victimCase;
  }
}

/** The hashes a case keeps of one photo: every hash its robust query searches with (PDQ-like ones with their quality). */
function storedSignals(query: Query, hashed: ImageSignals): NewSignal[] {
  return searchedSignals(query).map(({ type, code, region }) => ({
    type: type.name,
    hash: code,
    region,
    quality: type.name === 'pdq' || type.name === 'pdq-norm' ? (hashed[type.name]?.quality ?? null) : null,
  }));
}

/** What a case can watch for of a photo whose PDQ is featureless, in words. */
function watchedFor(query: Query): string {
  const perceptual = query.signals.some((s) => s.type.comparison === 'hamming');
  return perceptual
    ? 'a dark or low-contrast photo: it is watched for by PDQ of its stretched contrast (a stricter match) and by its regions, and as exact copies.'
    : 'too little detail to recognise edited copies: only exact copies of this file (MD5, SHA-256) can be watched for. A sharper or larger copy of the photo, registered too, would let the service find edited copies.';
}

/** Counts by platform and by group, most first: never other people's content, ids or message links. */
function whereFound(found: Provenance[]): Pick<CaseReport['found'], 'platforms' | 'groups'> {
  const platforms = new Map<string, number>();
  const groups = new Map<string, { platform: string; group: string; matches: number }>();
  for (const { platform, channel } of found) {
    platforms.set(platform, (platforms.get(platform) ?? 0) + 1);
    if (!channel) continue;
    const key = JSON.stringify([platform, channel]);
    const group = groups.get(key) ?? { platform, group: channel, matches: 0 };
    group.matches++;
    groups.set(key, group);
  }
  return {
    platforms: [...platforms].map(([platform, matches]) => ({ platform, matches })).sort((a, b) => b.matches - a.matches),
    groups: [...groups.values()].sort((a, b) => b.matches - a.matches),
  };
}
