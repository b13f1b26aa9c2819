import Database from 'better-sqlite3';
import { StoreError } from './errors.js';
import { isPinHash } from './pin.js';
import { REGION_KINDS, type RegionKind } from '../hashing/pdq-region.js';
import { findSignalType, type KnownSignalType, listSignalTypeNames, SIGNAL_TYPES } from '../hashing/registry.js';
import { BulkInserter } from './bulk-insert.js';
import { truncateWal } from './sqlite-files.js';
import { migrate } from './sqlite-migrations.js';
import type {
  AddedContent,
  Bank,
  BankPatch,
  CaseSignalOwner,
  CaseStatus,
  ContentItem,
  ContentPatch,
  ContentSignalOwner,
  ContentWithSignals,
  ImportWriter,
  NewBank,
  NewContentItem,
  NewProvenance,
  NewSignal,
  NewVictimCase,
  Provenance,
  Signal,
  SignalBatch,
  SignalChange,
  SignalChangeListener,
  SignalOwner,
  SignalOwnerKind,
  IndexSnapshotPosition,
  RecordedIndexSnapshot,
  Store,
  ThresholdsByType,
  VictimCase,
} from './store.js';

/** Index owners are 32-bit, so signal ids must stay below 2^32. */
const MAX_SIGNAL_ID = 0xffffffff;
/** Pages of 16k rows read about 1.6x faster than 64k here: the aggregated strings stay in cache. */
const DEFAULT_CHUNK_SIZE = 16384;
const MAX_NAME_LENGTH = 200;
const MAX_TEXT_LENGTH = 10_000;
const MAX_METADATA_BYTES = 64 * 1024;
const CASE_STATUSES: readonly CaseStatus[] = ['open', 'closed'];

export interface SqliteStoreOptions {
  /** How long a write waits for another connection's lock before SQLITE_BUSY. */
  busyTimeoutMs?: number;
}

type BankRow = { id: number; name: string; description: string; thresholds: string | null; created_at: string; updated_at: string };
type ContentRow = {
  id: number;
  bank_id: number;
  platform: string;
  channel: string | null;
  message_ref: string | null;
  captured_at: string | null;
  metadata: string;
  note: string | null;
  created_at: string;
  updated_at: string;
};
type ContentOwnerRow = [signalId: number, contentId: number, bankId: number, platform: string, channel: string | null, messageRef: string | null, capturedAt: string | null];
/** A signal as removals read it: id, type, hash, region kind. */
type SignalRow = [id: number, type: string, hash: Buffer, region: string | null];
type StoredSignalRow = { id: number; type: string; hash: Buffer; quality: number | null; region: string | null };
type CaseRow = { id: number; case_number: string; pin_hash: string; status: CaseStatus; language: string | null; created_at: string; updated_at: string };

function invalid(message: string): StoreError {
  return new StoreError('INVALID_INPUT', message);
}

function requireId(id: unknown, what: string): number {
  if (!Number.isSafeInteger(id) || (id as number) <= 0) throw invalid(`${what} must be a positive integer`);
  return id as number;
}

function requireText(value: unknown, field: string, maxLength: number): string {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`${field} must be a non-empty string`);
  if (value.length > maxLength) throw invalid(`${field} must be at most ${maxLength} characters`);
  return value;
}

function optionalText(value: unknown, field: string, maxLength: number): string | null {
  return value === undefined || value === null ? null : requireText(value, field, maxLength);
}

function signalType(name: unknown): KnownSignalType {
  const type = findSignalType(name);
  if (!type) throw invalid(`unknown signal type ${JSON.stringify(name)}; known: ${listSignalTypeNames()}`);
  return type;
}

function validThresholds(value: unknown): ThresholdsByType {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('thresholds must be an object keyed by signal type');
  for (const [name, threshold] of Object.entries(value)) {
    const type = signalType(name);
    if (!Number.isInteger(threshold) || threshold < 0 || threshold > type.bytes * 8) {
      throw invalid(`threshold for ${name} must be an integer from 0 to ${type.bytes * 8}`);
    }
  }
  return value as ThresholdsByType;
}

/** Deeper than this, metadata is refused: SQLite's JSON functions stop at 1,000 levels, and no real record nests this far. */
const MAX_METADATA_DEPTH = 32;

/** Whether `value` nests objects or arrays more than `limit` levels deep. */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (limit === 0) return true;
  return Object.values(value).some((child) => nestsDeeperThan(child, limit - 1));
}

function validMetadata(value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('metadata must be a JSON object');
  // Most imported hashes carry none: no serialising, with its replacer, for each of millions.
  if (Object.getPrototypeOf(value) === Object.prototype && Object.keys(value).length === 0) return '{}';
  if (nestsDeeperThan(value, MAX_METADATA_DEPTH)) throw invalid(`metadata must not nest objects or arrays more than ${MAX_METADATA_DEPTH} levels deep`);
  let json: string;
  try {
    json = JSON.stringify(value, checkedMetadataValue);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw invalid(`metadata must be serialisable as JSON: ${(err as Error).message}`);
  }
  if (Buffer.byteLength(json) > MAX_METADATA_BYTES) throw invalid(`metadata must be at most ${MAX_METADATA_BYTES} bytes as JSON`);
  return json;
}

/**
 * Refuses what JSON.stringify would store differently from what was sent (a
 * number too large for a double became null) and keys that pollute the
 * prototype of a client merging the object (Fastify refuses them in bodies).
 */
function checkedMetadataValue(this: unknown, key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) throw invalid(`metadata: the number at "${key}" is too large to store`);
  if (key === '__proto__' || (key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value)) {
    throw invalid(`metadata must not have a "${key}" key`);
  }
  return value;
}

/**
 * Databases written before secure_delete was on may hold deleted rows, in free
 * pages and in the unused space of pages still in use: rewritten once
 * (VACUUM; quick for a new database), marked done in user_version.
 */
function scrubDeletedRowsOnce(db: Database.Database): void {
  if (db.pragma('user_version', { simple: true }) !== 0) return;
  db.exec('VACUUM');
  truncateWal(db);
  db.pragma('user_version = 1');
}

/** Instants the API can give back as it takes them (RFC 3339 has four-digit years). */
const EARLIEST_TIME = Date.parse('0000-01-01T00:00:00Z');
const LATEST_TIME = Date.parse('9999-12-31T23:59:59.999Z');

function validTime(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  const ms = typeof value === 'string' ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw invalid(`${field} must be a date-time string, e.g. 2026-01-31T12:00:00Z`);
  if (ms < EARLIEST_TIME || ms > LATEST_TIME) throw invalid(`${field} must be in the years 0000 to 9999 (UTC)`);
  return new Date(ms).toISOString();
}

function validProvenance(p: NewProvenance | undefined): Provenance {
  if (typeof p !== 'object' || p === null) throw invalid('provenance is required');
  return {
    platform: requireText(p.platform, 'provenance.platform', MAX_NAME_LENGTH),
    channel: optionalText(p.channel, 'provenance.channel', MAX_NAME_LENGTH),
    messageRef: optionalText(p.messageRef, 'provenance.messageRef', MAX_TEXT_LENGTH),
    capturedAt: validTime(p.capturedAt, 'provenance.capturedAt'),
  };
}

interface CheckedItem {
  provenance: Provenance;
  metadata: string;
  note: string | null;
  signals: CheckedSignal[];
}

function checkItems(items: NewContentItem[]): CheckedItem[] {
  if (!Array.isArray(items)) throw invalid('items must be an array');
  return items.map((item) => {
    if (typeof item !== 'object' || item === null) throw invalid('each content item must be an object');
    return {
      provenance: validProvenance(item.provenance),
      metadata: validMetadata(item.metadata ?? {}),
      note: optionalText(item.note, 'note', MAX_TEXT_LENGTH),
      signals: (item.signals ?? []).map(checkSignal),
    };
  });
}

/** Checked signal with its hash as a Buffer view (what better-sqlite3 binds as a BLOB). */
interface CheckedSignal {
  type: KnownSignalType;
  hash: Buffer;
  quality: number | null;
  region: RegionKind | null;
}

function checkSignal(signal: NewSignal): CheckedSignal {
  if (typeof signal !== 'object' || signal === null) throw invalid('each signal must be an object {type, hash, quality?, region?}');
  const type = signalType(signal.type);
  const { hash } = signal;
  if (!(hash instanceof Uint8Array) || hash.length !== type.bytes) {
    throw new StoreError('INVALID_HASH', `a ${type.name} hash must be ${type.bytes} bytes, got ${hash instanceof Uint8Array ? hash.length : typeof hash}`);
  }
  const quality = signal.quality ?? null;
  if (quality !== null && !(Number.isInteger(quality) && quality >= 0 && quality <= 100)) {
    throw invalid('signal quality must be an integer from 0 to 100');
  }
  const region = signal.region ?? null;
  if (region !== null && (type.scope !== 'region' || !REGION_KINDS.includes(region))) {
    throw invalid(type.scope === 'region' ? `signal region must be one of ${REGION_KINDS.join(', ')}` : `a ${type.name} hash is of the whole image: it has no region`);
  }
  return { type, hash: Buffer.from(hash.buffer, hash.byteOffset, hash.length), quality, region };
}

/** A region kind as stored: one the CHECK of migration 015 lets in, or NULL. */
const storedRegion = (region: string | null): RegionKind | null => region as RegionKind | null;

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * Gathers the signals a transaction touched, per type, region kind and owner
 * kind, so that listeners get typed arrays rather than one object per signal.
 */
class BatchCollector {
  private readonly groups = new Map<string, CollectedGroup>();

  /** The group pushed to last: an import pushes hundreds of thousands of one type and owner in a row. */
  private last: CollectedGroup | undefined;

  push(type: KnownSignalType, owner: SignalOwnerKind, id: number, hash: Uint8Array, region: RegionKind | null): void {
    let group = this.last;
    if (group?.type !== type || group.owner !== owner || group.region !== region) {
      const key = `${owner}:${type.name}:${region}`;
      group = this.groups.get(key);
      if (!group) this.groups.set(key, (group = { type, owner, region, ids: [], codes: new Uint8Array(64 * type.bytes) }));
      this.last = group;
    }
    // The bytes are copied at once: an import's hundreds of thousands of hash objects need not live until its commit.
    const at = group.ids.length * type.bytes;
    if (at + type.bytes > group.codes.length) {
      const grown = new Uint8Array(2 * group.codes.length);
      grown.set(group.codes);
      group.codes = grown;
    }
    group.codes.set(hash, at);
    group.ids.push(id);
  }

  batches(): SignalBatch[] {
    return [...this.groups.values()].map(({ type, owner, region, ids, codes }) => ({
      type: type.name,
      owner,
      region,
      count: ids.length,
      ids: Uint32Array.from(ids),
      codes: codes.slice(0, ids.length * type.bytes),
    }));
  }
}

interface CollectedGroup {
  type: KnownSignalType;
  owner: SignalOwnerKind;
  region: RegionKind | null;
  ids: number[];
  /** The hashes' bytes, one after the other, with room to grow past `ids.length` of them. */
  codes: Uint8Array;
}

/** The statements of the content index's snapshot (migration 014). */
function prepareSnapshotStatements(db: Database.Database) {
  return {
    lastContentRemoval: db.prepare<[], number | null>('SELECT max(seq) FROM content_signal_removals').pluck(),
    recordedSnapshot: db.prepare<[], { token: string; last_signal_id: number; last_removal: number }>('SELECT token, last_signal_id, last_removal FROM index_snapshot'),
    recordSnapshot: db.prepare<[string, number, number, string]>(
      'INSERT OR REPLACE INTO index_snapshot (only_row, token, last_signal_id, last_removal, written_at) VALUES (1, ?, ?, ?, ?)',
    ),
    forgetSnapshot: db.prepare('DELETE FROM index_snapshot'),
    pruneContentRemovals: db.prepare<[number]>('DELETE FROM content_signal_removals WHERE seq <= ?'),
    contentRemovalsSince: db.prepare<[number], SignalRow>('SELECT signal_id, type, hash, region FROM content_signal_removals WHERE seq > ? ORDER BY seq').raw(),
  };
}

/** The statements of imports and exports (src/services/exchange.ts). */
function prepareImportStatements(db: Database.Database) {
  return {
      bankSignalRows: db.prepare<[number], [number, string, Buffer]>(
        'SELECT c.id, s.type, s.hash FROM content_items c JOIN signals s ON s.content_item_id = c.id WHERE c.bank_id = ?',
      ).raw(),
      signalsOfContentRange: db.prepare<[number, number, number], StoredSignalRow & { content_item_id: number }>(
        `SELECT s.content_item_id, s.id, s.type, s.hash, s.quality, s.region FROM content_items c JOIN signals s ON s.content_item_id = c.id
         WHERE c.bank_id = ? AND c.id > ? AND c.id <= ? ORDER BY s.content_item_id, s.id`,
      ),
      telegramMessages: db.prepare<[number], [string | number | null, number | null]>(
        `SELECT json_extract(metadata, '$.telegram.chatId'), json_extract(metadata, '$.telegram.messageId') FROM content_items
         WHERE bank_id = ? AND platform = 'telegram' AND json_extract(metadata, '$.telegram.messageId') IS NOT NULL`,
      ).raw(),
      updateMetadata: db.prepare('UPDATE content_items SET metadata = ?, updated_at = ? WHERE id = ?'),
  };
}

/** Every statement the store runs, prepared once per connection. */
function prepareStatements(db: Database.Database) {
  return {
      insertBank: db.prepare('INSERT INTO banks (name, description, thresholds, created_at, updated_at) VALUES (?, ?, ?, ?, ?)'),
      bankById: db.prepare<[number], BankRow>('SELECT * FROM banks WHERE id = ?'),
      bankByName: db.prepare<[string], BankRow>('SELECT * FROM banks WHERE name = ?'),
      allBanks: db.prepare<[], BankRow>('SELECT * FROM banks ORDER BY id'),
      updateBank: db.prepare('UPDATE banks SET name = ?, description = ?, thresholds = ?, updated_at = ? WHERE id = ?'),
      deleteBank: db.prepare('DELETE FROM banks WHERE id = ?'),
      bankSignals: db.prepare<[number], SignalRow>(
        'SELECT s.id, s.type, s.hash, s.region FROM content_items c JOIN signals s ON s.content_item_id = c.id WHERE c.bank_id = ?',
      ).raw(),
      insertContent: db.prepare(
        `INSERT INTO content_items (bank_id, platform, channel, message_ref, captured_at, metadata, note, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      contentById: db.prepare<[number], ContentRow>('SELECT * FROM content_items WHERE id = ?'),
      contentOfBank: db.prepare<[number, number, number], ContentRow>('SELECT * FROM content_items WHERE bank_id = ? AND id > ? ORDER BY id LIMIT ?'),
      updateContent: db.prepare(
        `UPDATE content_items SET platform = ?, channel = ?, message_ref = ?, captured_at = ?, metadata = ?, note = ?, updated_at = ?
         WHERE id = ?`,
      ),
      deleteContent: db.prepare('DELETE FROM content_items WHERE id = ?'),
      contentSignals: db.prepare<[number], SignalRow>('SELECT id, type, hash, region FROM signals WHERE content_item_id = ?').raw(),
      insertCase: db.prepare('INSERT INTO victim_cases (case_number, pin_hash, status, language, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)'),
      caseById: db.prepare<[number], CaseRow>('SELECT * FROM victim_cases WHERE id = ?'),
      caseByNumber: db.prepare<[string], CaseRow>('SELECT * FROM victim_cases WHERE case_number = ?'),
      setCaseStatus: db.prepare('UPDATE victim_cases SET status = ?, updated_at = ? WHERE id = ?'),
      deleteCase: db.prepare('DELETE FROM victim_cases WHERE id = ?'),
      caseSignals: db.prepare<[number], SignalRow>('SELECT id, type, hash, region FROM signals WHERE victim_case_id = ?').raw(),
      insertSignal: db.prepare('INSERT INTO signals (content_item_id, victim_case_id, type, hash, quality, region) VALUES (?, ?, ?, ?, ?, ?)'),
      signalsOfContent: db.prepare<[number], StoredSignalRow>('SELECT id, type, hash, quality, region FROM signals WHERE content_item_id = ? ORDER BY id'),
      signalsOfCase: db.prepare<[number], StoredSignalRow>('SELECT id, type, hash, quality, region FROM signals WHERE victim_case_id = ? ORDER BY id'),
      signalById: db.prepare<[number], { id: number; type: string; hash: Buffer; region: string | null; content_item_id: number | null }>(
        'SELECT id, type, hash, region, content_item_id FROM signals WHERE id = ?',
      ),
      deleteSignal: db.prepare('DELETE FROM signals WHERE id = ?'),
      lastSignalId: db.prepare<[], number | null>('SELECT max(id) FROM signals').pluck(),
      countContentSignals: db.prepare<[string], number>('SELECT count(*) FROM signals WHERE type = ? AND content_item_id IS NOT NULL').pluck(),
      countCaseSignals: db.prepare<[string], number>('SELECT count(*) FROM signals WHERE type = ? AND victim_case_id IS NOT NULL').pluck(),
      contentOwner: db.prepare<[number], ContentOwnerRow>(
        `SELECT s.id, c.id, c.bank_id, c.platform, c.channel, c.message_ref, c.captured_at
         FROM signals s JOIN content_items c ON c.id = s.content_item_id WHERE s.id = ?`,
      ).raw(),
      contentOwners: db.prepare<[string], ContentOwnerRow>(
        `SELECT s.id, c.id, c.bank_id, c.platform, c.channel, c.message_ref, c.captured_at
         FROM json_each(?) j JOIN signals s ON s.id = j.value JOIN content_items c ON c.id = s.content_item_id`,
      ).raw(),
      caseOwners: db.prepare<[string], [number, number, string, CaseStatus]>(
        `SELECT s.id, v.id, v.case_number, v.status
         FROM json_each(?) j JOIN signals s ON s.id = j.value JOIN victim_cases v ON v.id = s.victim_case_id`,
      ).raw(),
    };
}

/**
 * SQLite implementation of `Store` on better-sqlite3 (synchronous, one
 * connection per store). Only one process should write a database at a time:
 * listeners see the writes of this connection only.
 *
 * Durability: WAL with synchronous=FULL fsyncs the WAL at every commit, so an
 * acknowledged write survives both a killed process and a power cut. NORMAL
 * would survive only the former; the cost of FULL is one fsync per
 * transaction, which bulk writes amortise over their batch.
 */
export class SqliteStore implements Store {
  /** The connection, for tests and tools; writes through it bypass validation, listeners and the bank cache. */
  readonly db: Database.Database;
  private readonly listeners = new Set<SignalChangeListener>();
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly importStatements: ReturnType<typeof prepareImportStatements>;
  private readonly snapshotStatements: ReturnType<typeof prepareSnapshotStatements>;
  private readonly bulk: BulkInserter;
  /**
   * The banks as last committed, read on every match: loaded when first needed
   * outside a transaction, dropped by every write to the banks table (committed
   * or not). This connection is the database's only writer, as for the indexes.
   */
  private bankCache: { list: readonly Bank[]; byId: Map<number, Bank> } | undefined;
  /** Prepared when the indexes are first loaded. */
  private allSignalsPage: ReturnType<typeof signalPageQueries> | undefined;

  constructor(path: string, options: SqliteStoreOptions = {}) {
    this.db = new Database(path);
    try {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      this.db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
      // Deleted rows are overwritten with zeros, not left in free pages: a withdrawn case's hashes must not be recoverable from the file.
      this.db.pragma('secure_delete = ON');
      // Up to 64 MiB of pages (SQLite's default is 2 MiB): an import's transaction of 20,000 items then fits without spilling pages to the WAL before its commit.
      this.db.pragma('cache_size = -65536');
      migrate(this.db);
      scrubDeletedRowsOnce(this.db);
    } catch (err) {
      this.db.close();
      throw err;
    }
    this.statements = prepareStatements(this.db);
    this.importStatements = prepareImportStatements(this.db);
    this.snapshotStatements = prepareSnapshotStatements(this.db);
    this.bulk = new BulkInserter(this.db);
  }

  subscribe(listener: SignalChangeListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * Runs `work` in one IMMEDIATE transaction, then tells listeners what it
   * changed. Never inside another transaction: it would be a savepoint, and
   * listeners (the indexes) would hear of a write the outer transaction may
   * still roll back.
   */
  private write<T>(op: SignalChange['op'] | null, work: (collector: BatchCollector) => T): T {
    if (this.db.inTransaction) throw new Error('store writes cannot run inside another transaction: the indexes would hear of them before the commit');
    const collector = new BatchCollector();
    const result = this.db.transaction(() => work(collector)).immediate();
    if (op) {
      const batches = collector.batches();
      if (batches.length > 0) for (const listener of this.listeners) listener({ op, batches });
    }
    return result;
  }

  // Banks

  createBank(bank: NewBank): Bank {
    const name = requireText(bank?.name, 'bank name', MAX_NAME_LENGTH);
    const description = bank.description === undefined ? '' : requireTextOrEmpty(bank.description, 'bank description');
    const thresholds = bank.thresholds === undefined ? null : JSON.stringify(validThresholds(bank.thresholds));
    const now = new Date().toISOString();
    return this.writeBanks(null, () => {
      try {
        const { lastInsertRowid } = this.statements.insertBank.run(name, description, thresholds, now, now);
        return this.getBank(Number(lastInsertRowid));
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('CONFLICT', `a bank named ${JSON.stringify(name)} already exists`);
        throw err;
      }
    });
  }

  getBank(id: number): Bank {
    requireId(id, 'bank id');
    let bank: Bank | undefined;
    if (this.db.inTransaction) {
      const row = this.statements.bankById.get(id);
      bank = row && bankFromRow(row);
    } else bank = this.banks().byId.get(id);
    if (!bank) throw new StoreError('NOT_FOUND', `no bank with id ${id}`);
    return bank;
  }

  findBankByName(name: string): Bank | undefined {
    const row = this.statements.bankByName.get(requireText(name, 'bank name', MAX_NAME_LENGTH));
    return row && bankFromRow(row);
  }

  listBanks(): readonly Bank[] {
    return this.db.inTransaction ? Object.freeze(this.statements.allBanks.all().map(bankFromRow)) : this.banks().list;
  }

  /**
   * The committed banks, from the cache. Inside a transaction the callers
   * above read the table instead: it may hold changes not yet committed,
   * which must not be cached.
   */
  private banks(): { list: readonly Bank[]; byId: Map<number, Bank> } {
    if (!this.bankCache) {
      const list = Object.freeze(this.statements.allBanks.all().map(bankFromRow));
      this.bankCache = { list, byId: new Map(list.map((bank) => [bank.id, bank])) };
    }
    return this.bankCache;
  }

  /** `write` for changes to the banks table: the cache is dropped whether the transaction commits or rolls back. */
  private writeBanks<T>(op: SignalChange['op'] | null, work: (collector: BatchCollector) => T): T {
    try {
      return this.write(op, work);
    } finally {
      this.bankCache = undefined;
    }
  }

  updateBank(id: number, patch: BankPatch): Bank {
    return this.writeBanks(null, () => {
      const bank = this.getBank(id);
      const name = patch.name === undefined ? bank.name : requireText(patch.name, 'bank name', MAX_NAME_LENGTH);
      const description = patch.description === undefined ? bank.description : requireTextOrEmpty(patch.description, 'bank description');
      const thresholds =
        patch.thresholds === undefined ? bank.thresholds : patch.thresholds === null ? {} : validThresholds(patch.thresholds);
      try {
        this.statements.updateBank.run(name, description, Object.keys(thresholds).length ? JSON.stringify(thresholds) : null, new Date().toISOString(), id);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('CONFLICT', `a bank named ${JSON.stringify(name)} already exists`);
        throw err;
      }
      return this.getBank(id);
    });
  }

  deleteBank(id: number): void {
    this.writeBanks('remove', (collector) => {
      this.getBank(id);
      this.collectRemoved(this.statements.bankSignals.all(id), 'content', collector);
      this.statements.deleteBank.run(id);
    });
  }

  // Content

  addContent(bankId: number, items: NewContentItem[]): AddedContent {
    // Validate everything before the transaction so bad input never holds the write lock.
    const checked = checkItems(items);
    const now = new Date().toISOString();
    return this.write('add', (collector) => {
      this.getBank(bankId);
      const signalIds: number[] = [];
      const contentIds = this.insertItems(bankId, checked, now, collector, signalIds);
      return { contentIds, signalIds };
    });
  }

  private insertItems(bankId: number, checked: CheckedItem[], now: string, collector: BatchCollector, signalIds: number[]): number[] {
    const contentIds: number[] = [];
    for (const item of checked) {
      const p = item.provenance;
      let contentId: number;
      try {
        contentId = Number(this.statements.insertContent.run(bankId, p.platform, p.channel, p.messageRef, p.capturedAt, item.metadata, item.note, now, now).lastInsertRowid);
      } catch (err) {
        // The one unique key of content: a Telegram message (chat and message id in metadata.telegram) once per bank.
        if (isUniqueViolation(err)) throw new StoreError('CONFLICT', 'this bank already has an item for that Telegram message (metadata.telegram chatId and messageId)');
        throw err;
      }
      contentIds.push(contentId);
      this.insertSignals(contentId, null, item.signals, collector, signalIds);
    }
    return contentIds;
  }

  importTransaction<T>(work: (writer: ImportWriter) => T, options: { more?: boolean } = {}): T {
    if (this.db.inTransaction) throw new Error('store writes cannot run inside another transaction: the indexes would hear of them before the commit');
    const added = new BatchCollector();
    const removed = new BatchCollector();
    const result = this.db
      .transaction(() => {
        try {
          const done = work(this.importWriter(added, removed));
          this.bulk.flush();
          return done;
        } catch (err) {
          this.bulk.discard();
          throw err;
        }
      })
      .immediate();
    const more = options.more === true;
    for (const [op, collector] of [['remove', removed], ['add', added]] as const) {
      const batches = collector.batches();
      if (batches.length > 0) for (const listener of this.listeners) listener(more ? { op, batches, more } : { op, batches });
    }
    return result;
  }

  private importWriter(added: BatchCollector, removed: BatchCollector): ImportWriter {
    const now = new Date().toISOString();
    const statements = this.statements;
    const bulk = this.bulk;
    // Checked once per transaction: nothing else writes while it runs.
    const banksSeen = new Set<number>();
    return {
      addItems: (bankId, items) => {
        const checked = checkItems(items);
        if (!banksSeen.has(bankId)) banksSeen.add(this.getBank(bankId).id);
        // A Telegram message may already be in the bank (a unique index): such items are inserted one by one, to refuse just the one.
        if (checked.some((item) => item.provenance.platform === 'telegram')) {
          bulk.flush();
          return this.insertItems(bankId, checked, now, added, []);
        }
        return checked.map((item) => this.bulkInsertItem(bankId, item, now, added));
      },
      updateMetadata: (contentId, metadata) => {
        bulk.write();
        this.importStatements.updateMetadata.run(validMetadata(metadata), now, contentId);
      },
      deleteItems: (contentIds) => {
        bulk.write();
        for (const id of contentIds) {
          this.collectRemoved(statements.contentSignals.all(id), 'content', removed);
          statements.deleteContent.run(id);
        }
      },
      addCaseSignals: (caseId, signals) => {
        const checked = signals.map(checkSignal);
        this.getCase(caseId);
        bulk.flush();
        const ids: number[] = [];
        this.insertSignals(null, caseId, checked, added, ids);
        return ids;
      },
      deleteSignals: (signalIds) => {
        bulk.write();
        for (const id of signalIds) {
          const row = statements.signalById.get(id);
          if (!row) continue;
          removed.push(findSignalType(row.type)!, row.content_item_id === null ? 'case' : 'content', row.id, row.hash, storedRegion(row.region));
          statements.deleteSignal.run(id);
        }
      },
      getContent: (id) => {
        bulk.write();
        return this.getContent(id);
      },
      listSignals: (owner) => {
        bulk.write();
        return this.listSignals(owner);
      },
    };
  }

  private bulkInsertItem(bankId: number, item: CheckedItem, now: string, collector: BatchCollector): number {
    const signalIds: number[] = [];
    const contentId = this.bulk.add(bankId, item, now, signalIds);
    for (let i = 0; i < signalIds.length; i++) {
      if (signalIds[i] > MAX_SIGNAL_ID) throw new StoreError('CONFLICT', 'signal ids have reached 2^32, which the index cannot hold');
      collector.push(item.signals[i].type, 'content', signalIds[i], item.signals[i].hash, item.signals[i].region);
    }
    return contentId;
  }

  *iterateBankSignals(bankId: number): Generator<[number, string, Uint8Array]> {
    this.getBank(bankId);
    for (const [contentId, type, hash] of this.importStatements.bankSignalRows.iterate(bankId)) yield [contentId, type, new Uint8Array(hash)];
  }

  telegramMessageKeys(bankId: number): Set<string> {
    this.getBank(bankId);
    return new Set(this.importStatements.telegramMessages.all(bankId).map(([chatId, messageId]) => `${chatId}/${messageId}`));
  }

  listContentWithSignals(bankId: number, page: { limit: number; afterId?: number }): ContentWithSignals[] {
    const items = this.listContent(bankId, page).map((item) => ({ ...item, signals: [] as Signal[] }));
    if (items.length === 0) return items;
    const byId = new Map(items.map((item) => [item.id, item]));
    for (const r of this.importStatements.signalsOfContentRange.all(bankId, page.afterId ?? 0, items[items.length - 1].id)) {
      byId.get(r.content_item_id)?.signals.push(signalFromRow(r));
    }
    return items;
  }

  getContent(id: number): ContentItem {
    const row = this.statements.contentById.get(requireId(id, 'content id'));
    if (!row) throw new StoreError('NOT_FOUND', `no content item with id ${id}`);
    return contentFromRow(row);
  }

  listContent(bankId: number, page: { limit: number; afterId?: number }): ContentItem[] {
    const limit = page?.limit;
    if (!Number.isSafeInteger(limit) || limit <= 0) throw invalid('limit must be a positive integer');
    const afterId = page.afterId ?? 0;
    if (!Number.isSafeInteger(afterId) || afterId < 0) throw invalid('afterId must be a non-negative integer');
    this.getBank(bankId);
    return this.statements.contentOfBank.all(bankId, afterId, limit).map(contentFromRow);
  }

  updateContent(id: number, patch: ContentPatch): ContentItem {
    const provenance = patch.provenance === undefined ? undefined : validProvenance(patch.provenance);
    const metadata = patch.metadata === undefined ? undefined : validMetadata(patch.metadata);
    const note = patch.note === undefined ? undefined : optionalText(patch.note, 'note', MAX_TEXT_LENGTH);
    return this.write(null, () => {
      const item = this.getContent(id);
      const p = provenance ?? item.provenance;
      this.statements.updateContent.run(
        p.platform,
        p.channel,
        p.messageRef,
        p.capturedAt,
        metadata ?? JSON.stringify(item.metadata),
        note === undefined ? item.note : note,
        new Date().toISOString(),
        id,
      );
      return this.getContent(id);
    });
  }

  deleteContent(id: number): void {
    this.write('remove', (collector) => {
      this.getContent(id);
      this.collectRemoved(this.statements.contentSignals.all(id), 'content', collector);
      this.statements.deleteContent.run(id);
    });
  }

  // Victim cases

  createCase(victimCase: NewVictimCase): VictimCase {
    const caseNumber = requireText(victimCase?.caseNumber, 'case number', MAX_NAME_LENGTH);
    if (typeof victimCase.pinHash !== 'string' || !isPinHash(victimCase.pinHash)) throw invalid('pinHash must come from hashPin');
    const status = validStatus(victimCase.status ?? 'open');
    const language = languageTag(victimCase.language);
    const signals = (victimCase.signals ?? []).map(checkSignal);
    const now = new Date().toISOString();
    return this.write('add', (collector) => {
      let caseId: number;
      try {
        caseId = Number(this.statements.insertCase.run(caseNumber, victimCase.pinHash, status, language, now, now).lastInsertRowid);
      } catch (err) {
        if (isUniqueViolation(err)) throw new StoreError('CONFLICT', `case number ${JSON.stringify(caseNumber)} is taken`);
        throw err;
      }
      this.insertSignals(null, caseId, signals, collector, []);
      return this.getCase(caseId);
    });
  }

  getCase(id: number): VictimCase {
    const row = this.statements.caseById.get(requireId(id, 'case id'));
    if (!row) throw new StoreError('NOT_FOUND', `no case with id ${id}`);
    return caseFromRow(row);
  }

  findCaseByNumber(caseNumber: string): VictimCase | undefined {
    const row = this.statements.caseByNumber.get(requireText(caseNumber, 'case number', MAX_NAME_LENGTH));
    return row && caseFromRow(row);
  }

  setCaseStatus(id: number, status: CaseStatus): VictimCase {
    validStatus(status);
    return this.write(null, () => {
      this.getCase(id);
      this.statements.setCaseStatus.run(status, new Date().toISOString(), id);
      return this.getCase(id);
    });
  }

  /**
   * Deletes a case and its signals, then empties the write-ahead log, whose
   * older frames still hold the pages as they were before the delete.
   */
  deleteCase(id: number): void {
    this.write('remove', (collector) => {
      this.getCase(id);
      this.collectRemoved(this.statements.caseSignals.all(id), 'case', collector);
      this.statements.deleteCase.run(id);
    });
    truncateWal(this.db);
  }

  // Signals

  addSignals(owner: SignalOwner, signals: NewSignal[]): number[] {
    if (!Array.isArray(signals)) throw invalid('signals must be an array');
    const checked = signals.map(checkSignal);
    return this.write('add', (collector) => {
      const ids: number[] = [];
      if (owner?.kind === 'content') {
        this.getContent(owner.contentId);
        this.insertSignals(owner.contentId, null, checked, collector, ids);
      } else if (owner?.kind === 'case') {
        this.getCase(owner.caseId);
        this.insertSignals(null, owner.caseId, checked, collector, ids);
      } else {
        invalidOwner();
      }
      return ids;
    });
  }

  listSignals(owner: SignalOwner): Signal[] {
    const rows =
      owner?.kind === 'content'
        ? this.statements.signalsOfContent.all(requireId(owner.contentId, 'content id'))
        : owner?.kind === 'case'
          ? this.statements.signalsOfCase.all(requireId(owner.caseId, 'case id'))
          : invalidOwner();
    return rows.map(signalFromRow);
  }

  deleteSignals(ids: number[]): number {
    if (!Array.isArray(ids)) throw invalid('ids must be an array');
    ids.forEach((id) => requireId(id, 'signal id'));
    return this.write('remove', (collector) => {
      let deleted = 0;
      for (const id of ids) {
        const row = this.statements.signalById.get(id);
        if (!row) continue;
        collector.push(findSignalType(row.type)!, row.content_item_id === null ? 'case' : 'content', row.id, row.hash, storedRegion(row.region));
        deleted += this.statements.deleteSignal.run(id).changes;
      }
      return deleted;
    });
  }

  countSignals(type: string, owner: SignalOwnerKind): number {
    signalType(type);
    return owner === 'case' ? this.statements.countCaseSignals.get(type)! : this.statements.countContentSignals.get(type)!;
  }

  *iterateSignalChunks(type: string, options: { owner?: SignalOwnerKind; chunkSize?: number } = {}): Generator<SignalBatch> {
    signalType(type);
    const owner = options.owner ?? 'content';
    const chunkSize = chunkSizeOf(options);
    const { typePage, kinds } = this.signalPages();
    let afterId = 0;
    for (;;) {
      const [count, lastId, idList, kindList, hashes] = typePage.get(type, owner === 'content' ? 1 : 0, afterId, chunkSize)!;
      if (count === 0) return;
      yield* splitByKind(count, parseIdList(idList, count), kindList, hashes, kinds);
      afterId = lastId;
      if (count < chunkSize) return;
    }
  }

  *iterateAllSignalChunks(options: { chunkSize?: number } = {}): Generator<SignalBatch[]> {
    yield* this.signalPagesAfter(0, chunkSizeOf(options));
  }

  *iterateSignalChunksSince(lastSignalId: number, options: { chunkSize?: number } = {}): Generator<SignalBatch[]> {
    const chunkSize = chunkSizeOf(options);
    yield* this.signalPagesAfter(lastSignalId, chunkSize);
    const { casesEnd, casePage, kinds } = this.signalPages();
    // Whole cases a page, through the index on their case: pages of about chunkSize rows, each ending where a case ends.
    for (let afterCase = 0; ; ) {
      const end = casesEnd.get(afterCase, chunkSize - 1) ?? Number.MAX_SAFE_INTEGER;
      const [count, idList, kindList, hashes] = casePage.get(afterCase, end, lastSignalId)!;
      if (count > 0) yield splitByKind(count, parseIdList(idList, count), kindList, hashes, kinds);
      if (end === Number.MAX_SAFE_INTEGER) return;
      afterCase = end;
    }
  }

  beginIndexSnapshot(token: string): IndexSnapshotPosition {
    return this.db.transaction(() => {
      const position = { lastSignalId: this.statements.lastSignalId.get() ?? 0, lastRemoval: this.snapshotStatements.lastContentRemoval.get() ?? 0 };
      this.snapshotStatements.recordSnapshot.run(token, position.lastSignalId, position.lastRemoval, new Date().toISOString());
      return position;
    })();
  }

  indexSnapshotWritten(token: string): void {
    this.db.transaction(() => {
      const recorded = this.recordedIndexSnapshot();
      if (recorded?.token === token) this.snapshotStatements.pruneContentRemovals.run(recorded.lastRemoval);
    })();
  }

  recordedIndexSnapshot(): RecordedIndexSnapshot | undefined {
    const row = this.snapshotStatements.recordedSnapshot.get();
    return row && { token: row.token, lastSignalId: row.last_signal_id, lastRemoval: row.last_removal };
  }

  forgetIndexSnapshot(): void {
    this.db.transaction(() => {
      this.snapshotStatements.forgetSnapshot.run();
      this.snapshotStatements.pruneContentRemovals.run(Number.MAX_SAFE_INTEGER);
    })();
  }

  contentRemovalsSince(lastRemoval: number): SignalBatch[] {
    const collector = new BatchCollector();
    for (const [id, type, hash, region] of this.snapshotStatements.contentRemovalsSince.all(lastRemoval)) {
      const known = findSignalType(type);
      if (known) collector.push(known, 'content', id, hash, storedRegion(region));
    }
    return collector.batches();
  }

  /** Every signal after `afterId`, in id order, a page at a time. */
  private *signalPagesAfter(afterId: number, chunkSize: number): Generator<SignalBatch[]> {
    const { page, kinds } = this.signalPages();
    // Read between statements, pages cannot see another page's writes of this connection; rows past the last at the start can only be another process's.
    const lastAtStart = this.statements.lastSignalId.get() ?? 0;
    for (;;) {
      const [count, lastId, idList, kindList, hashes] = page.get(afterId, chunkSize)!;
      if (count === 0) return;
      if (lastId > lastAtStart) throw new Error('signals were added while all were read: another process is writing to the store');
      yield splitByKind(count, parseIdList(idList, count), kindList, hashes, kinds);
      afterId = lastId;
      if (count < chunkSize) return;
    }
  }

  private signalPages(): ReturnType<typeof signalPageQueries> {
    return (this.allSignalsPage ??= signalPageQueries(this.db));
  }

  contentSignalOwners(signalIds: number[]): ContentSignalOwner[] {
    if (signalIds.length === 0) return [];
    // A hash query usually finds one signal: a plain lookup then, without building and parsing a JSON array.
    if (signalIds.length === 1) {
      const row = this.statements.contentOwner.get(signalIds[0]);
      return row ? [contentOwnerFromRow(row)] : [];
    }
    return this.statements.contentOwners.all(JSON.stringify(signalIds)).map(contentOwnerFromRow);
  }

  caseSignalOwners(signalIds: number[]): CaseSignalOwner[] {
    if (signalIds.length === 0) return [];
    return this.statements.caseOwners.all(JSON.stringify(signalIds)).map(([signalId, caseId, caseNumber, status]) => ({ signalId, caseId, caseNumber, status }));
  }

  close(): void {
    this.listeners.clear();
    this.db.close();
  }

  private insertSignals(
    contentId: number | null,
    caseId: number | null,
    signals: CheckedSignal[],
    collector: BatchCollector,
    ids: number[],
  ): void {
    const insert = this.statements.insertSignal;
    const owner: SignalOwnerKind = contentId === null ? 'case' : 'content';
    for (const s of signals) {
      const id = Number(insert.run(contentId, caseId, s.type.name, s.hash, s.quality, s.region).lastInsertRowid);
      if (id > MAX_SIGNAL_ID) throw new StoreError('CONFLICT', 'signal ids have reached 2^32, which the index cannot hold');
      ids.push(id);
      collector.push(s.type, owner, id, s.hash, s.region);
    }
  }

  private collectRemoved(rows: SignalRow[], owner: SignalOwnerKind, collector: BatchCollector): void {
    for (const [id, type, hash, region] of rows) collector.push(findSignalType(type)!, owner, id, hash, storedRegion(region));
  }
}

/** What a page's rows are told apart by: signal type, owner kind and region kind, one batch each. */
interface PageKind {
  type: KnownSignalType;
  owner: SignalOwnerKind;
  region: RegionKind | null;
}

/**
 * Pages of signals as single rows: the ids as one comma-separated text, each
 * row's kind (PageKind) as one character, and the hashes back to back in one
 * BLOB (group_concat copies a BLOB's bytes as they are; the cast keeps them a
 * BLOB). better-sqlite3 makes a Buffer per BLOB value, so reading row by row
 * costs several microseconds a row; this reads 1M signals in about 0.25 s.
 * The aggregates consume the same rows, so ids[i] always belongs to code i.
 * Pages are keyset pages in id order (resuming by rowid seek), each its own
 * short query: `page` reads every signal, `typePage` those of one type and
 * owner kind; `casePage` reads the victims' signals of a range of cases up to
 * a signal id, through the index on their case, and `casesEnd` finds where
 * such a range of about so many rows ends.
 */
function signalPageQueries(db: Database.Database) {
  const kinds: PageKind[] = (['content', 'case'] as const).flatMap((owner) =>
    SIGNAL_TYPES.flatMap((type): PageKind[] => [{ type, owner, region: null }, ...(type.scope === 'region' ? REGION_KINDS.map((region) => ({ type, owner, region })) : [])]),
  );
  const at = (owner: SignalOwnerKind, type: KnownSignalType, region: RegionKind | null) => kinds.findIndex((k) => k.owner === owner && k.type === type && k.region === region);
  const caseOffset = at('case', SIGNAL_TYPES[0], null);
  // A CASE tries its WHENs in order, a text comparison each, on every row: region hashes, most of the rows (about 28 of 32 a captured image), are tried first.
  const byFrequency = [...SIGNAL_TYPES].sort((a, b) => Number(b.scope === 'region') - Number(a.scope === 'region'));
  const kindOfType = (type: KnownSignalType) =>
    type.scope === 'region'
      ? `CASE region ${REGION_KINDS.map((region) => `WHEN ${sqlString(region)} THEN ${at('content', type, region)}`).join(' ')} ELSE ${at('content', type, null)} END`
      : `${at('content', type, null)}`;
  const letters = byFrequency.map((type) => `WHEN ${sqlString(type.name)} THEN ${kindOfType(type)}`).join(' ');
  const columns = `group_concat(id), group_concat(char(${KIND_LETTER_BASE} + iif(content_item_id IS NULL, ${caseOffset}, 0) + CASE type ${letters} END), ''), CAST(group_concat(hash, '') AS BLOB)`;
  const rows = 'SELECT id, type, region, content_item_id, hash FROM signals';
  const page = db.prepare<[number, number], [number, number, string, string, Buffer]>(`SELECT count(*), max(id), ${columns} FROM (${rows} WHERE id > ? ORDER BY id LIMIT ?)`).raw();
  const typePage = db
    .prepare<[string, number, number, number], [number, number, string, string, Buffer]>(
      `SELECT count(*), max(id), ${columns} FROM (${rows} WHERE type = ? AND (content_item_id IS NOT NULL) = ? AND id > ? ORDER BY id LIMIT ?)`,
    )
    .raw();
  const casePage = db
    .prepare<[number, number, number], [number, string, string, Buffer]>(
      `SELECT count(*), ${columns} FROM (${rows} INDEXED BY signals_by_victim_case WHERE victim_case_id > ? AND victim_case_id <= ? AND id <= ?)`,
    )
    .raw();
  const casesEnd = db
    .prepare<[number, number], number>('SELECT victim_case_id FROM signals INDEXED BY signals_by_victim_case WHERE victim_case_id > ? ORDER BY victim_case_id LIMIT 1 OFFSET ?')
    .pluck();
  return { page, typePage, casePage, casesEnd, kinds };
}

/** A page's kind letters start at '0': 2 owner kinds x (6 types + 8 region kinds) stay printable ASCII, one byte each. */
const KIND_LETTER_BASE = 48;

function chunkSizeOf(options: { chunkSize?: number }): number {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) throw invalid('chunkSize must be a positive integer');
  return chunkSize;
}

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** A page of rows of mixed kinds as one batch per kind present, in the page's order. */
function splitByKind(count: number, ids: Uint32Array, kindList: string, hashes: Buffer, kinds: readonly PageKind[]): SignalBatch[] {
  const kindOf = new Uint8Array(count);
  const counts = new Uint32Array(kinds.length);
  for (let i = 0; i < count; i++) {
    const kind = kindList.charCodeAt(i) - KIND_LETTER_BASE;
    kindOf[i] = kind;
    counts[kind]++;
  }
  const batches = kinds.map(({ type, owner, region }, k) => ({ type: type.name, owner, region, count: 0, ids: new Uint32Array(counts[k]), codes: new Uint8Array(counts[k] * type.bytes) }));
  for (let i = 0, at = 0; i < count; i++) {
    const batch = batches[kindOf[i]];
    const bytes = kinds[kindOf[i]].type.bytes;
    batch.ids[batch.count] = ids[i];
    batch.codes.set(hashes.subarray(at, at + bytes), batch.count * bytes);
    batch.count++;
    at += bytes;
  }
  return batches.filter((batch) => batch.count > 0);
}

/** `count` ids from their comma-separated decimal text. */
function parseIdList(text: string, count: number): Uint32Array {
  const ids = new Uint32Array(count);
  let id = 0;
  let at = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44) {
      ids[at++] = id;
      id = 0;
    } else id = id * 10 + (c - 48);
  }
  ids[at] = id;
  return ids;
}

function requireTextOrEmpty(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(`${field} must be a string`);
  if (value.length > MAX_TEXT_LENGTH) throw invalid(`${field} must be at most ${MAX_TEXT_LENGTH} characters`);
  return value;
}

function validStatus(status: unknown): CaseStatus {
  if (!CASE_STATUSES.includes(status as CaseStatus)) throw invalid(`case status must be one of ${CASE_STATUSES.join(', ')}`);
  return status as CaseStatus;
}

/** A language tag (`sr-Latn`), or null; which languages are offered is the services' choice. */
function languageTag(language: unknown): string | null {
  if (language === undefined || language === null) return null;
  if (typeof language !== 'string' || !/^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(language) || language.length > 35) throw invalid('case language must be a language tag such as sr-Latn');
  return language;
}

function invalidOwner(): never {
  throw invalid("signal owner must be {kind: 'content', contentId} or {kind: 'case', caseId}");
}

/** Frozen: banks are shared from the cache, so no caller may change one in place. */
function bankFromRow(row: BankRow): Bank {
  return Object.freeze({
    id: row.id,
    name: row.name,
    description: row.description,
    thresholds: Object.freeze(row.thresholds === null ? {} : (JSON.parse(row.thresholds) as ThresholdsByType)),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}

function signalFromRow(row: StoredSignalRow): Signal {
  return { id: row.id, type: row.type, hash: new Uint8Array(row.hash), quality: row.quality, region: storedRegion(row.region) };
}

function contentOwnerFromRow([signalId, contentId, bankId, platform, channel, messageRef, capturedAt]: ContentOwnerRow): ContentSignalOwner {
  return { signalId, contentId, bankId, provenance: { platform, channel, messageRef, capturedAt } };
}

function contentFromRow(row: ContentRow): ContentItem {
  return {
    id: row.id,
    bankId: row.bank_id,
    provenance: { platform: row.platform, channel: row.channel, messageRef: row.message_ref, capturedAt: row.captured_at },
    metadata: JSON.parse(row.metadata) as Record<string, unknown>,
    note: row.note,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function caseFromRow(row: CaseRow): VictimCase {
  return {
    id: row.id,
    caseNumber: row.case_number,
    pinHash: row.pin_hash,
    status: row.status,
    language: row.language,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
