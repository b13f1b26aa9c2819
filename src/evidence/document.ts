/**
 * What an evidence package says, and its two renderings: the CSV a
 * spreadsheet opens and the summary a person reads (HTML that prints to PDF).
 * Both are made from the JSON document alone, so a check can make them again
 * and compare (verify.ts): the three cannot disagree.
 */
import { stringify } from 'csv-stringify/sync';
import type { ChainedEntry } from '../store/audit-chain.js';

export const EVIDENCE_FORMAT = 'ncii-match-evidence/1';

export interface EvidenceMatch {
  id: number;
  caseNumber: string;
  signalType: string;
  distance: number;
  /** Whether the whole image matched, or a region of it (a crop, a sticker, a screenshot's part). */
  via: 'whole' | 'region';
  foundAt: string;
  status: string;
  item: {
    contentId: number;
    bankId: number;
    platform: string;
    group: string | null;
    messageUrl: string | null;
    capturedAt: string | null;
    /** Who brought the item into the service, and when (from the audit log; null for items from before it recorded ingestion). */
    ingestedBy: string | null;
    ingestedAt: string;
  };
  scanRun: { id: number; scanId: number; trigger: string; startedBy: string; startedAt: string; finishedAt: string | null; status: string };
  history: { at: string; actor: string; from: string | null; to: string; details: Record<string, unknown> }[];
}

export interface EvidenceDocument {
  format: typeof EVIDENCE_FORMAT;
  createdAt: string;
  createdBy: string;
  language: string;
  scope: { kind: 'case'; caseNumber: string } | { kind: 'matches'; matchIds: number[] };
  cases: { caseNumber: string; status: string; registeredAt: string }[];
  matches: EvidenceMatch[];
  /** The key whose signature covers this package: SHA-256 of its DER encoding. */
  signingKeyId: string;
}

export interface AuditExtract {
  /** Every audit entry about these cases, matches, items and runs, in full (with the salts of the case's own details). */
  entries: ChainedEntry[];
  /** The newest entry of the whole log when the package was made: it vouches for every entry before it. */
  chainHead: { id: number; hash: string } | null;
}

export function evidenceCsv(doc: EvidenceDocument): string {
  const rows = doc.matches.map((m) => [
    m.id,
    m.caseNumber,
    m.signalType,
    m.distance,
    m.via,
    m.item.platform,
    m.item.group ?? '',
    m.item.messageUrl ?? '',
    m.item.capturedAt ?? '',
    m.item.contentId,
    m.item.ingestedBy ?? '',
    m.item.ingestedAt,
    m.scanRun.id,
    m.foundAt,
    m.status,
    m.history.map((h) => `${h.at} ${h.actor}: ${h.from ?? '-'} -> ${h.to}`).join('; '),
  ]);
  const columns = ['match', 'case', 'signal type', 'distance', 'whole or region', 'platform', 'group', 'message link', 'captured at', 'item', 'ingested by', 'ingested at', 'scan run', 'found at', 'status', 'status history'];
  // Cells a spreadsheet would run as formulas are quoted with a leading apostrophe.
  const safe = (cell: unknown) => (typeof cell === 'string' && /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell);
  return stringify([columns, ...rows.map((r) => r.map(safe))], { record_delimiter: 'windows' });
}
