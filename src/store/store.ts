/**
 * The persistence boundary: banks of captured content, victim cases, and the
 * hashes (signals) of both. Implementations (SQLite now, PostgreSQL later)
 * validate every input here and raise `StoreError`s with stable codes.
 *
 * The store is the truth for the in-memory indexes: they are loaded with
 * `iterateSignalChunks` and follow every committed change through `subscribe`.
 * No image bytes ever reach this interface.
 */
import type { RegionKind } from '../hashing/pdq-region.js';

/** Thresholds by signal type name, e.g. `{ pdq: 24 }`. */
export type ThresholdsByType = Readonly<Record<string, number>>;

export interface Bank {
  id: number;
  name: string;
  description: string;
  /** Overrides of the signal types' default thresholds for matches in this bank. */
  thresholds: ThresholdsByType;
  createdAt: string;
  updatedAt: string;
}

export interface NewBank {
  name: string;
  description?: string;
  thresholds?: ThresholdsByType;
}

export interface BankPatch {
  name?: string;
  description?: string;
  /** `null` clears every override. */
  thresholds?: ThresholdsByType | null;
}

/** Where a captured item was seen. */
export interface Provenance {
  /** e.g. 'telegram'. */
  platform: string;
  /** Group or channel name. */
  channel: string | null;
  /** Message URL or message id. */
  messageRef: string | null;
  /** ISO-8601 UTC. */
  capturedAt: string | null;
}

export interface ContentItem {
  id: number;
  bankId: number;
  provenance: Provenance;
  /** Free JSON object given by whoever captured the item. */
  metadata: Record<string, unknown>;
  note: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewSignal {
  /** A name from the signal-type registry (src/hashing/registry.ts). */
  type: string;
  hash: Uint8Array;
  /** 0-100 where the algorithm defines one (PDQ). */
  quality?: number | null;
  /** Region hashes: which region of the image it is of (REGION_KINDS), when known. */
  region?: RegionKind | null;
}

export interface Signal {
  id: number;
  type: string;
  hash: Uint8Array;
  quality: number | null;
  region: RegionKind | null;
}

export interface NewProvenance {
  platform: string;
  channel?: string | null;
  messageRef?: string | null;
  /** Any string `Date` parses; stored as ISO-8601 UTC. */
  capturedAt?: string | null;
}

export interface NewContentItem {
  provenance: NewProvenance;
  metadata?: Record<string, unknown>;
  note?: string | null;
  signals?: NewSignal[];
}

export interface ContentPatch {
  provenance?: NewProvenance;
  metadata?: Record<string, unknown>;
  note?: string | null;
}

export type CaseStatus = 'open' | 'closed';

export interface VictimCase {
  id: number;
  caseNumber: string;
  /** scrypt string from `hashPin`; never the PIN itself. */
  pinHash: string;
  status: CaseStatus;
  /** The language she registered it in (her evidence summary's); null if none was given. */
  language: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewVictimCase {
  caseNumber: string;
  pinHash: string;
  status?: CaseStatus;
  language?: string | null;
  signals?: NewSignal[];
}

/** Whose hash a signal is: captured content or a victim's own photo. */
export type SignalOwnerKind = 'content' | 'case';

export type SignalOwner = { kind: 'content'; contentId: number } | { kind: 'case'; caseId: number };

/**
 * Signals of one type, region kind and owner kind as typed arrays: `ids[i]` is the signal id
 * of the code at `codes[i * bytes .. (i + 1) * bytes)`, where `bytes` is the
 * type's hash length. Used both to load indexes and to report changes.
 */
export interface SignalBatch {
  type: string;
  owner: SignalOwnerKind;
  /** The region kind of every signal in the batch (null: whole-image hashes, or regions of unknown kind). */
  region: RegionKind | null;
  count: number;
  ids: Uint32Array;
  codes: Uint8Array;
}

export interface IndexSnapshotPosition {
  lastSignalId: number;
  lastRemoval: number;
}

export interface RecordedIndexSnapshot extends IndexSnapshotPosition {
  /** Random, written in the snapshot file too. */
  token: string;
}

/** One committed write, as the signals it added or removed. */
export interface SignalChange {
  op: 'add' | 'remove';
  batches: SignalBatch[];
  /** A chunk of an import with more chunks to follow: an index may put off rebuilding its tables until the last. */
  more?: boolean;
}

export type SignalChangeListener = (change: SignalChange) => void;

export interface AddedContent {
  /** Ids of the new items, in input order. */
  contentIds: number[];
  /** Ids of the new signals, in input order (items in order, each item's signals in order). */
  signalIds: number[];
}

/** A signal with the content item it belongs to, for turning index hits into matches. */
export interface ContentSignalOwner {
  signalId: number;
  contentId: number;
  bankId: number;
  provenance: Provenance;
}

export interface CaseSignalOwner {
  signalId: number;
  caseId: number;
  caseNumber: string;
  status: CaseStatus;
}

/** A content item with its signals, as an export reads them. */
export interface ContentWithSignals extends ContentItem {
  signals: Signal[];
}

/** What an import may do inside its one transaction (see `Store.importTransaction`). */
export interface ImportWriter {
  /** Adds items to the bank; returns their ids in order. */
  addItems(bankId: number, items: NewContentItem[]): number[];
  /** Replaces an item's metadata. */
  updateMetadata(contentId: number, metadata: Record<string, unknown>): void;
  deleteItems(contentIds: number[]): void;
  addCaseSignals(caseId: number, signals: NewSignal[]): number[];
  deleteSignals(signalIds: number[]): void;
  /** Reads that see this transaction's writes so far. */
  getContent(id: number): ContentItem;
  listSignals(owner: SignalOwner): Signal[];
}

export interface Store {
  createBank(bank: NewBank): Bank;
  getBank(id: number): Bank;
  findBankByName(name: string): Bank | undefined;
  listBanks(): readonly Bank[];
  updateBank(id: number, patch: BankPatch): Bank;
  /** Deletes the bank, its content items and their signals. */
  deleteBank(id: number): void;

  /** Adds items with their signals to a bank in one transaction: all or nothing. */
  addContent(bankId: number, items: NewContentItem[]): AddedContent;
  getContent(id: number): ContentItem;
  updateContent(id: number, patch: ContentPatch): ContentItem;
  /** Deletes the item and its signals. */
  deleteContent(id: number): void;
  /** A bank's items in id order, `limit` at a time after `afterId` (keyset pages: stable while items come and go). */
  listContent(bankId: number, page: { limit: number; afterId?: number }): ContentItem[];

  createCase(victimCase: NewVictimCase): VictimCase;
  getCase(id: number): VictimCase;
  findCaseByNumber(caseNumber: string): VictimCase | undefined;
  setCaseStatus(id: number, status: CaseStatus): VictimCase;
  /** A victim's withdrawal: deletes the case and its signals. */
  deleteCase(id: number): void;

  /** Adds signals to one content item or case in one transaction; returns their ids in order. */
  addSignals(owner: SignalOwner, signals: NewSignal[]): number[];
  listSignals(owner: SignalOwner): Signal[];
  /** Deletes the given signals; ids that do not exist are ignored. Returns how many went. */
  deleteSignals(ids: number[]): number;
  countSignals(type: string, owner: SignalOwnerKind): number;

  /**
   * Every signal of one type and owner kind, ordered by id, `chunkSize` at a
   * time. Each chunk is read by its own query, so other store calls may run
   * between chunks (their changes reach listeners, not necessarily the chunks).
   */
  iterateSignalChunks(type: string, options?: { owner?: SignalOwnerKind; chunkSize?: number }): Iterable<SignalBatch>;
  /**
   * Every signal of every type and owner kind in one pass, in id order,
   * about `chunkSize` signals at a time, each chunk as one batch per (type,
   * owner kind) it holds: loading the indexes so reads the signals once,
   * rather than once per type and owner kind. The batches' arrays are made for
   * the caller, who may keep or hand them over.
   */
  iterateAllSignalChunks(options?: { chunkSize?: number }): Iterable<SignalBatch[]>;
  /**
   * For loading from an index snapshot that holds the store up to `lastSignalId`:
   * every signal added after it, then every victim's signal (a snapshot holds
   * captured content only), as iterateAllSignalChunks gives them.
   */
  iterateSignalChunksSince(lastSignalId: number, options?: { chunkSize?: number }): Iterable<SignalBatch[]>;
  /**
   * Starts an index snapshot: records its token (replacing the last one, whose
   * file is then not used) and returns the store's position, in one
   * transaction; content removed from then on is logged for it.
   */
  beginIndexSnapshot(token: string): IndexSnapshotPosition;
  /** The snapshot's file is written: prunes the removal log up to its position (if it is still the one recorded). */
  indexSnapshotWritten(token: string): void;
  /** The index snapshot recorded last, or undefined. */
  recordedIndexSnapshot(): RecordedIndexSnapshot | undefined;
  /** Forgets the recorded snapshot (its file is gone or unusable) and empties the removal log. */
  forgetIndexSnapshot(): void;
  /** Content signals removed after `lastRemoval` while a snapshot was recorded, as batches by type. */
  contentRemovalsSince(lastRemoval: number): SignalBatch[];
  /** Owners of the given content signals; ids that are not content signals are left out. */
  contentSignalOwners(signalIds: number[]): ContentSignalOwner[];
  caseSignalOwners(signalIds: number[]): CaseSignalOwner[];

  /**
   * Runs an import's writes in one transaction: all of them commit or none.
   * Listeners hear of what it removed, then of what it added, after the commit;
   * `more` tells them more chunks of the same import follow.
   */
  importTransaction<T>(work: (writer: ImportWriter) => T, options?: { more?: boolean }): T;
  /** Every signal of a bank's content as [content id, type, hash], in no particular order. */
  iterateBankSignals(bankId: number): Iterable<[contentId: number, type: string, hash: Uint8Array]>;
  /** The Telegram messages a bank holds, as "chatId/messageId" (metadata.telegram). */
  telegramMessageKeys(bankId: number): Set<string>;
  /** A bank's items with their signals in id order, `limit` at a time after `afterId`. */
  listContentWithSignals(bankId: number, page: { limit: number; afterId?: number }): ContentWithSignals[];

  /** Called after every committed write that added or removed signals. Returns an unsubscribe function. */
  subscribe(listener: SignalChangeListener): () => void;
  close(): void;
}
