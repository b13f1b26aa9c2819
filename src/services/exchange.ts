/**
 * Import and export of a bank's or a case's hashes in the exchange formats
 * (src/exchange, docs/exchange.md). Files stream through: records are applied
 * a chunk at a time, each chunk in one transaction (the indexes hear of it
 * when it commits); a strict import stages its chunks in the database and
 * applies them all in one transaction once the file has been read without a
 * malformed row, so a refused file leaves nothing behind.
 */
import type { Readable } from 'node:stream';
import {
  contentTypeOf,
  type ExchangeFormat,
  type ExchangeRecord,
  type ExchangeSignal,
  type ExportItem,
  findExchangeType,
  modifiedAtOf,
  readRecords,
  writeRecords,
} from '../exchange/index.js';
import type { SqliteExchangeStaging } from '../store/exchange-staging.js';
import { truncateWal } from '../store/sqlite-files.js';
import type { ContentWithSignals, ImportWriter } from '../store/store.js';

export { EXCHANGE_FORMATS, type ExchangeFormat } from '../exchange/index.js';
import { CASE_MAX_SIGNALS, type CaseService } from './cases.js';
import type { ServiceContext } from './context.js';
import { ServiceError, StoreError } from './errors.js';
import { deserializeRecords, serializeRecords } from './exchange-staging-records.js';
import { HashOwners } from './hash-owners.js';
import { PendingRecords, type Read } from './pending-records.js';

/** Records applied per transaction outside strict mode. */
const CHUNK_RECORDS = 50_000;
/** Reasons kept in a report; the count goes on past them. */
const MAX_REPORTED_ERRORS = 1000;
/** Items read per query while exporting. */
const EXPORT_PAGE = 2000;
const DAY_MS = 86_400_000;

export interface ImportOptions {
  format: ExchangeFormat;
  /** Refuse the whole file at its first malformed row, importing nothing. */
  strict?: boolean;
}

export interface ImportReport {
  format: ExchangeFormat;
  strict: boolean;
  /** Records that added an item (bank) or hashes (case). */
  added: number;
  /** Records already there as they are (or, for a removal, already absent). */
  duplicate: number;
  /** Records that changed a stored item's metadata (a newer StopNCII record). */
  updated: number;
  /** Records whose removal took items (bank) or hashes (case) away. */
  removed: number;
  rejected: number;
  /** Hashes stored. */
  signalsAdded: number;
  /** Why rows were rejected, by line (JSON: record number), the first 1,000. */
  errors: { line: number; reason: string }[];
  /** A StopNCII page's token for the next page, when it has one. */
  nextPageToken?: string | null;
}

export interface ExportOptions {
  format: ExchangeFormat;
  /** Items per page, for a paged export (StopNCII pages); all when absent. */
  limit?: number;
  /** The previous page's nextPageToken. */
  pageToken?: string;
}

export interface ExportStream {
  contentType: string;
  /** A file name for downloads. */
  filename: string;
  chunks: AsyncGenerator<string>;
}


/** Where records go: a bank's items or a case's hashes, with what it already holds by hash. */
interface ImportTarget {
  /** Key (type and hash) to the ids that hold it: content ids of a bank, signal ids of a case. */
  known: HashOwners;
  apply(writer: ImportWriter, read: Read, report: ImportReport): void;
}

/** The record's signals not yet held, each once. */
function freshSignals(known: HashOwners, record: ExchangeRecord): ExchangeRecord['signals'] {
  const { signals } = record;
  // Hash lists hold one hash a record: no intermediate arrays.
  if (signals.length === 1) return known.has(signals[0].type.name, signals[0].hash) ? [] : signals;
  const seen = new HashOwners();
  return signals.filter((s) => {
    if (known.has(s.type.name, s.hash) || seen.has(s.type.name, s.hash)) return false;
    seen.add(s.type.name, s.hash, 1);
    return true;
  });
}

/** The ids holding any of the record's hashes. */
function holders(known: HashOwners, record: ExchangeRecord): Set<number> {
  return new Set(record.signals.flatMap((s) => known.ids(s.type.name, s.hash)));
}

function emptyReport(format: ExchangeFormat, strict: boolean): ImportReport {
  return { format, strict, added: 0, duplicate: 0, updated: 0, removed: 0, rejected: 0, signalsAdded: 0, errors: [] };
}

function reject(report: ImportReport, line: number, reason: string): void {
  report.rejected++;
  if (report.errors.length < MAX_REPORTED_ERRORS) report.errors.push({ line, reason });
}

const FORMAT_PLATFORM: Record<ExchangeFormat, string> = { 'hma-json': 'hma', 'te-file': 'threatexchange', 'te-csv': 'threatexchange', stopncii: 'stopncii', csv: 'telegram' };

export class ExchangeService {
  constructor(
    private readonly services: ServiceContext,
    private readonly staging: SqliteExchangeStaging,
    private readonly cases: CaseService,
  ) {}

  /** Reads `source` in `format` into the bank. */
  async importToBank(bankId: number, source: Readable, options: ImportOptions): Promise<ImportReport> {
    return this.run(this.bankTarget(bankId, FORMAT_PLATFORM[options.format]), source, options);
  }

  /**
   * Reads `source` in `format` into a victim's case: its hashes only (a case
   * keeps no provenance or metadata), under a case's rules (caseTarget).
   */
  async importToCase(caseId: number, source: Readable, options: ImportOptions): Promise<ImportReport> {
    const report = await this.run(this.caseTarget(caseId), source, options);
    // Withdrawn meanwhile: nothing may be recorded of her case after the withdrawal erased what there was.
    this.services.store.getCase(caseId);
    const { format, added, duplicate, removed, rejected, signalsAdded } = report;
    this.services.trail.record('case.imported', { caseId, details: { format, added, duplicate, removed, rejected, signalsAdded } });
    return report;
  }

  /** Her import into her own case, with its number and PIN (refused and limited as reading the case is). */
  async importToVictimCase(typedNumber: string, typedPin: string, client: string, source: Readable, options: ImportOptions): Promise<ImportReport> {
    const victimCase = await this.cases.open(typedNumber, typedPin, client);
    // The body failed while the PIN was checked (past its size limit): a reader would wait on it for good.
    if (source.errored) throw source.errored;
    try {
      return await this.importToCase(victimCase.id, source, options);
    } catch (err) {
      if (!this.services.store.findCaseByNumber(victimCase.caseNumber)) {
        // Withdrawn while the file was read. A strict import may have staged her hashes after the withdrawal
        // emptied the database's log (zeroed in the file when discarded, but not in the log): empty it again.
        truncateWal(this.services.store.db);
      }
      // The usual refusal then, not the store's words about a missing row.
      this.cases.current(victimCase.caseNumber);
      throw err;
    }
  }

  /** Her own case's hashes, with its number and PIN. */
  async exportVictimCase(typedNumber: string, typedPin: string, client: string, options: ExportOptions): Promise<ExportStream> {
    const victimCase = await this.cases.open(typedNumber, typedPin, client);
    return this.exportCase(victimCase.id, options);
  }

  private async run(target: ImportTarget, source: Readable, options: ImportOptions): Promise<ImportReport> {
    const report = emptyReport(options.format, options.strict ?? false);
    const page: { nextPageToken?: string | null } = {};
    const stage = options.strict ? { id: this.staging.begin(), seq: 0 } : null;
    try {
      let chunk = new PendingRecords(CHUNK_RECORDS);
      for await (const item of readRecords(options.format, source, page)) {
        if ('error' in item) {
          if (stage) throw new ServiceError('INVALID_REQUEST', `line ${item.line}: ${item.error}. Nothing was imported (strict).`);
          reject(report, item.line, item.error);
          continue;
        }
        chunk.push(item);
        if (!chunk.full) continue;
        this.flush(target, chunk, report, stage, true);
        chunk = new PendingRecords(CHUNK_RECORDS);
      }
      this.flush(target, chunk, report, stage, false);
      if (stage) this.applyStaged(target, stage.id, report);
    } finally {
      if (stage) this.staging.discard(stage.id);
    }
    if (page.nextPageToken !== undefined) report.nextPageToken = page.nextPageToken;
    // A chunk's unreadable rows are reported as they are read, its refused records when the chunk is written.
    report.errors.sort((a, b) => a.line - b.line);
    return report;
  }

  /** `more`: chunks of this file follow (the indexes may put off rebuilding their tables until the last). */
  private flush(target: ImportTarget, chunk: PendingRecords, report: ImportReport, stage: { id: string; seq: number } | null, more: boolean): void {
    if (chunk.length === 0) return;
    if (stage) {
      this.staging.stage(stage.id, stage.seq++, serializeRecords([...chunk.reads()]));
      return;
    }
    this.services.store.importTransaction((writer) => {
      for (const read of chunk.reads()) {
        try {
          target.apply(writer, read, report);
        } catch (err) {
          if (!(err instanceof StoreError)) throw err;
          reject(report, read.line, err.message);
        }
      }
    }, { more });
  }

  /** Every staged chunk in one transaction: any refusal rolls the whole import back. */
  private applyStaged(target: ImportTarget, importId: string, report: ImportReport): void {
    this.services.store.importTransaction((writer) => {
      for (const chunk of this.staging.chunks(importId)) {
        for (const read of deserializeRecords(chunk)) {
          try {
            target.apply(writer, read, report);
          } catch (err) {
            if (err instanceof StoreError) throw new ServiceError('INVALID_REQUEST', `line ${read.line}: ${err.message}. Nothing was imported (strict).`);
            throw err;
          }
        }
      }
    });
  }

  private bankTarget(bankId: number, platform: string): ImportTarget {
    const { store } = this.services;
    store.getBank(bankId);
    const known = new HashOwners();
    for (const [contentId, type, hash] of store.iterateBankSignals(bankId)) known.add(type, hash, contentId);
    const formatProvenance = { platform, channel: null, messageRef: null, capturedAt: null };
    return {
      known,
      apply: (writer, { record }, report) => {
        if (record.remove) return this.removeItems(writer, known, record, report);
        const fresh = freshSignals(known, record);
        if (fresh.length === 0) {
          if (this.updateInPlace(writer, known, record)) report.updated++;
          else report.duplicate++;
          return;
        }
        const provenance = record.provenance ?? formatProvenance;
        const signals = fresh.map((signal) => ({ type: signal.type.name, hash: signal.hash, quality: signal.quality }));
        const [id] = writer.addItems(bankId, [{ provenance, metadata: record.metadata, note: record.note ?? null, signals }]);
        for (const signal of fresh) known.add(signal.type.name, signal.hash, id);
        report.added++;
        report.signalsAdded += fresh.length;
      },
    };
  }

  /** Withdrawn or deleted at the source: every item holding one of the record's hashes goes, so no copy of the image still matches. */
  private removeItems(writer: ImportWriter, known: HashOwners, record: ExchangeRecord, report: ImportReport): void {
    const ids = holders(known, record);
    if (ids.size === 0) {
      report.duplicate++;
      return;
    }
    // The items' other hashes go from `known` too: a later record with one of them adds it again.
    for (const id of ids) for (const s of writer.listSignals({ kind: 'content', contentId: id })) known.forget(s.type, s.hash, ids);
    writer.deleteItems([...ids]);
    for (const s of record.signals) known.forget(s.type.name, s.hash, ids);
    report.removed++;
  }

  /** A record with a newer modification time than the stored item's replaces the metadata it carries. */
  private updateInPlace(writer: ImportWriter, known: HashOwners, record: ExchangeRecord): boolean {
    if (record.modifiedAt === undefined) return false;
    const [first] = record.signals;
    const [id] = known.ids(first.type.name, first.hash);
    const stored = writer.getContent(id).metadata;
    const storedAt = modifiedAtOf((stored.stopncii as { lastModtimestamp?: unknown } | undefined)?.lastModtimestamp);
    if (storedAt !== undefined && record.modifiedAt <= storedAt) return false;
    const merged = { ...stored, ...record.metadata };
    if (JSON.stringify(merged) === JSON.stringify(stored)) return false;
    writer.updateMetadata(id, merged);
    return true;
  }

  /** A case's hashes, under the rules of hashes she registers (checkCaseRules); a removal takes her hash away. */
  private caseTarget(caseId: number): ImportTarget {
    const { store } = this.services;
    store.getCase(caseId);
    const known = new HashOwners();
    const stored = store.listSignals({ kind: 'case', caseId });
    for (const s of stored) known.add(s.type, s.hash, s.id);
    let held = stored.length;
    return {
      known,
      apply: (writer, { record }, report) => {
        if (record.remove) {
          const ids = holders(known, record);
          if (ids.size === 0) report.duplicate++;
          else {
            writer.deleteSignals([...ids]);
            for (const s of record.signals) known.forget(s.type.name, s.hash, ids);
            held -= ids.size;
            report.removed++;
          }
          return;
        }
        const fresh = freshSignals(known, record);
        if (fresh.length === 0) return void report.duplicate++;
        checkCaseRules(fresh, held);
        const ids = writer.addCaseSignals(caseId, fresh.map((signal) => ({ type: signal.type.name, hash: signal.hash, quality: signal.quality })));
        fresh.forEach((signal, i) => known.add(signal.type.name, signal.hash, ids[i]));
        held += ids.length;
        report.added++;
        report.signalsAdded += fresh.length;
      },
    };
  }

  /** A bank's items as a file in `format`; an unknown bank is refused before anything is written. */
  exportBank(bankId: number, options: ExportOptions): ExportStream {
    const bank = this.services.store.getBank(bankId);
    const after = parsePageToken(options.pageToken);
    let next: string | null = null;
    const store = this.services.store;
    const limit = options.limit;
    async function* items(): AsyncGenerator<ExportItem> {
      let afterId = after;
      let left = limit ?? Infinity;
      while (left > 0) {
        const page = store.listContentWithSignals(bankId, { limit: Math.min(EXPORT_PAGE, left + 1), afterId });
        for (const item of page.slice(0, Math.min(page.length, left))) yield exportItem(item);
        if (page.length > left) next = String(page[left - 1].id);
        if (page.length < EXPORT_PAGE || page.length > left) return;
        left -= page.length;
        afterId = page[page.length - 1].id;
      }
    }
    const chunks = writeRecords(options.format, items(), { bank: { name: bank.name, description: bank.description }, nextPageToken: () => next });
    return { contentType: contentTypeOf(options.format), filename: `bank-${bankId}.${extensionOf(options.format)}`, chunks };
  }

  /**
   * A case's hashes in `format`, one record a hash (a case does not know which
   * photo each came from), never paged (a case holds at most CASE_MAX_SIGNALS).
   * Nothing names the case: its number is half of her credentials and stays
   * out of a file she may hand on (StopNCII's caseNumbers is empty), and
   * StopNCII's lastModtimestamp is the day the case last changed, not the moment.
   */
  exportCase(caseId: number, options: ExportOptions): ExportStream {
    const { store } = this.services;
    const victimCase = store.getCase(caseId);
    const signals = store.listSignals({ kind: 'case', caseId });
    this.services.trail.record('case.exported', { caseId, details: { format: options.format, hashes: signals.length } });
    const provenance = { platform: '', channel: null, messageRef: null, capturedAt: null };
    const updatedAt = new Date(Math.floor(Date.parse(victimCase.updatedAt) / DAY_MS) * DAY_MS).toISOString();
    async function* items(): AsyncGenerator<ExportItem> {
      for (const s of signals) yield { signals: [{ type: findExchangeType(s.type), hash: s.hash, quality: s.quality }], provenance, metadata: {}, note: null, updatedAt };
    }
    const chunks = writeRecords(options.format, items(), { bank: { name: 'case', description: '' }, nextPageToken: () => null });
    return { contentType: contentTypeOf(options.format), filename: `case-hashes.${extensionOf(options.format)}`, chunks };
  }
}

/**
 * What a case takes, as when she registers hashes: a hash of known quality
 * under its type's minimum is too featureless to match on, and a case holds at
 * most CASE_MAX_SIGNALS. Refused as the store refuses a row: the record is
 * rejected by its line, or a strict import refuses the file.
 */
function checkCaseRules(signals: readonly ExchangeSignal[], held: number): void {
  const poor = signals.find((s) => s.quality !== null && s.type.minQuality !== undefined && s.quality < s.type.minQuality);
  if (poor) throw new StoreError('INVALID_INPUT', `${poor.type.name} quality ${poor.quality} is under ${poor.type.minQuality}: too featureless to match reliably, so a case does not take it`);
  if (held + signals.length > CASE_MAX_SIGNALS) throw new StoreError('INVALID_INPUT', `a case holds at most ${CASE_MAX_SIGNALS} hashes and this one has ${held}`);
}

function exportItem(item: ContentWithSignals): ExportItem {
  return {
    signals: item.signals.map((s) => ({ type: findExchangeType(s.type), hash: s.hash, quality: s.quality })),
    provenance: item.provenance,
    metadata: item.metadata,
    note: item.note,
    updatedAt: item.updatedAt,
  };
}

function parsePageToken(token: string | undefined): number {
  if (token === undefined || token === '') return 0;
  if (!/^\d{1,15}$/.test(token)) throw new ServiceError('INVALID_REQUEST', 'pageToken must be the nextPageToken of the previous page.');
  return Number(token);
}

function extensionOf(format: ExchangeFormat): string {
  return format === 'hma-json' || format === 'stopncii' ? 'json' : format === 'te-file' ? 'txt' : 'csv';
}
