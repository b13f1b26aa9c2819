/**
 * Evidence packages (src/evidence/): what the service found of one case, or
 * of a chosen set of matches, with where and when each item was seen, who
 * brought it in, the scan that found it and its takedown history, the audit
 * entries about all of it, signed with the service's key. No image and no
 * hash is in a package. A takedown team or NGO asks by case number or match
 * ids; a victim by her case number and PIN.
 */
import type { ChainedEntry } from '../store/audit-chain.js';
import type { ScanMatch } from '../store/scan-matches.js';
import type { VictimCase } from '../store/store.js';
import { EVIDENCE_FORMAT, type EvidenceDocument, type EvidenceMatch } from '../evidence/document.js';
import { buildEvidencePackage } from '../evidence/package.js';
import { isSummaryLanguage } from '../evidence/summary.js';
import type { AuditTrail } from './audit-trail.js';
import { normalizeCaseNumber } from './case-credentials.js';
import { type CaseLanguage, type CaseService, checkLanguage } from './cases.js';
import type { ServiceContext } from './context.js';
import { ServiceError } from './errors.js';
import type { SigningKeys } from './signing.js';

/** A case with more matches than this is asked for in sets of matches. */
export const MAX_EVIDENCE_MATCHES = 2000;

export interface EvidenceFile {
  fileName: string;
  bytes: Uint8Array;
}

export class EvidenceService {
  constructor(
    private readonly services: ServiceContext & { trail: AuditTrail; signing: SigningKeys },
    private readonly cases: CaseService,
  ) {}

  /**
   * A package of a case's matches, or of the given ones. Its summary is in
   * `language` if given (one of CASE_LANGUAGES), else in the language the
   * case was registered in, else in English.
   */
  create(input: { caseNumber?: string; matchIds?: number[]; language?: string }): EvidenceFile {
    if ((input.caseNumber === undefined) === (input.matchIds === undefined)) throw new ServiceError('INVALID_REQUEST', 'Give either caseNumber or matchIds.');
    return input.caseNumber !== undefined ? this.forCase(input.caseNumber, input.language) : this.forMatches(input.matchIds!, input.language);
  }

  /** Every match of a case (by its number), for a takedown team or NGO. */
  forCase(typedNumber: string, language?: string): EvidenceFile {
    const asked = checkLanguage(language);
    const number = normalizeCaseNumber(typedNumber);
    const victimCase = number === null ? undefined : this.services.store.findCaseByNumber(number);
    if (!victimCase) throw new ServiceError('NOT_FOUND', 'No case has this case number.');
    return this.caseFile(victimCase, asked);
  }

  /** A victim's own case, with her case number and PIN (refused as any wrong PIN is). */
  async forVictim(typedNumber: string, typedPin: string, client: string, language?: string): Promise<EvidenceFile> {
    const asked = checkLanguage(language);
    return this.caseFile(await this.cases.open(typedNumber, typedPin, client), asked);
  }

  /** The given matches (of one case or several): in `language`, else English. */
  forMatches(ids: readonly number[], language?: string): EvidenceFile {
    const asked = checkLanguage(language) ?? 'en';
    const unique = [...new Set(ids)].sort((a, b) => a - b);
    const matches = unique.map((id) => this.services.matchStore.get(id));
    const doc = this.document({ kind: 'matches', matchIds: unique }, matches, asked);
    return { fileName: `evidence-matches-${unique.length}-${doc.createdAt.slice(0, 10)}.zip`, bytes: this.sign(doc, matches) };
  }

  /** In the language asked for, else the one she registered the case in, else English. */
  private caseFile({ id: caseId, caseNumber, language: registered }: VictimCase, asked: CaseLanguage | undefined): EvidenceFile {
    const language = asked ?? (isSummaryLanguage(registered) ? registered : 'en');
    const matches = this.services.matchStore.list({ caseId }, { limit: MAX_EVIDENCE_MATCHES + 1 }).reverse();
    if (matches.length > MAX_EVIDENCE_MATCHES) {
      throw new ServiceError('INVALID_REQUEST', `This case has more than ${MAX_EVIDENCE_MATCHES} matches: ask for packages of chosen matches (matchIds) instead.`);
    }
    const doc = this.document({ kind: 'case', caseNumber }, matches, language, [caseId]);
    return { fileName: `evidence-${caseNumber}-${doc.createdAt.slice(0, 10)}.zip`, bytes: this.sign(doc, matches, [caseId]) };
  }

  private document(scope: EvidenceDocument['scope'], matches: ScanMatch[], language: CaseLanguage, caseIds: number[] = []): EvidenceDocument {
    const ingestions = this.ingestions(matches);
    const allCaseIds = [...new Set([...caseIds, ...matches.map((m) => m.caseId)])];
    return {
      format: EVIDENCE_FORMAT,
      createdAt: new Date().toISOString(),
      createdBy: this.services.trail.actor,
      language,
      scope,
      cases: allCaseIds.map((id) => this.services.store.getCase(id)).map((c) => ({ caseNumber: c.caseNumber, status: c.status, registeredAt: c.createdAt })),
      matches: matches.map((m) => this.evidenceMatch(m, ingestions.get(m.contentId))),
      signingKeyId: this.services.signing.signer().keyId,
    };
  }

  /** Who brought each item in, and when: its first `content.ingested` audit entry. */
  private ingestions(matches: ScanMatch[]): Map<number, ChainedEntry> {
    const entries = this.services.trail.log.covering([], [...new Set(matches.map((m) => `content:${m.contentId}`))]);
    const byItem = new Map<number, ChainedEntry>();
    for (const e of entries) {
      const id = Number(e.target!.slice('content:'.length));
      if (e.action === 'content.ingested' && !byItem.has(id)) byItem.set(id, e);
    }
    return byItem;
  }

  private evidenceMatch(m: ScanMatch, ingested: ChainedEntry | undefined): EvidenceMatch {
    const item = this.services.store.getContent(m.contentId);
    const run = this.services.scanStore.getRun(m.runId);
    return {
      id: m.id,
      caseNumber: m.caseNumber,
      signalType: m.signalType,
      distance: m.distance,
      via: m.via,
      foundAt: m.foundAt,
      status: m.status,
      item: {
        contentId: m.contentId,
        bankId: m.bankId,
        platform: item.provenance.platform,
        group: item.provenance.channel,
        messageUrl: item.provenance.messageRef,
        capturedAt: item.provenance.capturedAt,
        ingestedBy: ingested?.actor ?? null,
        ingestedAt: ingested?.at ?? item.createdAt,
      },
      scanRun: { id: run.id, scanId: run.scanId, trigger: run.trigger, startedBy: run.startedBy, startedAt: run.startedAt, finishedAt: run.finishedAt, status: run.status },
      history: this.services.matchStore.events(m.id).map((e) => ({ at: e.at, actor: e.actor, from: e.from, to: e.to, details: e.details })),
    };
  }

  /** The signed zip, with every audit entry about its cases, matches, items and runs; its making is audited too. */
  private sign(doc: EvidenceDocument, matches: ScanMatch[], caseIds: number[] = []): Uint8Array {
    const { trail } = this.services;
    const allCaseIds = [...new Set([...caseIds, ...matches.map((m) => m.caseId)])];
    const targets = matches.flatMap((m) => [`match:${m.id}`, `content:${m.contentId}`, `scan-run:${m.runId}`]);
    const audit = { entries: trail.log.covering(allCaseIds, [...new Set(targets)]), chainHead: trail.log.head() };
    const signer = this.services.signing.signer();
    if (signer.keyId !== doc.signingKeyId) throw new ServiceError('NOT_READY', 'The signing key was just rotated; ask again.', 1);
    const bytes = buildEvidencePackage(doc, audit, signer);
    // One entry per case, each erased with its case.
    for (const caseId of allCaseIds) {
      trail.record('evidence.created', { caseId, details: { matches: matches.filter((m) => m.caseId === caseId).map((m) => m.id), head: audit.chainHead?.id ?? null } });
    }
    return bytes;
  }
}
