/**
 * What every exchange format reads into and writes from: a record is one
 * item's hashes with where it was seen; the formats differ only in how much
 * of that they carry (docs/exchange.md has the table).
 */
import { findSignalType, type KnownSignalType } from '../hashing/registry.js';

export const EXCHANGE_FORMATS = ['hma-json', 'te-file', 'te-csv', 'stopncii', 'csv'] as const;
export type ExchangeFormat = (typeof EXCHANGE_FORMATS)[number];

export function isExchangeFormat(name: unknown): name is ExchangeFormat {
  return typeof name === 'string' && (EXCHANGE_FORMATS as readonly string[]).includes(name);
}

export interface ExchangeSignal {
  type: KnownSignalType;
  hash: Uint8Array;
  quality: number | null;
}

export interface ExchangeProvenance {
  platform: string;
  channel: string | null;
  messageRef: string | null;
  capturedAt: string | null;
}

/** One item read from a file, or to be written to one. */
export interface ExchangeRecord {
  signals: ExchangeSignal[];
  provenance?: ExchangeProvenance;
  metadata: Record<string, unknown>;
  note?: string | null;
  /** A StopNCII record whose status is Withdrawn or Deleted: its hashes must go. */
  remove?: boolean;
  /** When the source last changed the record (StopNCII lastModtimestamp, ms): a newer copy updates the stored one in place. */
  modifiedAt?: number;
}

/** A record read, or why a row was skipped; `line` is the row's line (JSON: the record's number from 1). */
export type ReadItem = { line: number; record: ExchangeRecord } | { line: number; error: string };

/** An item as exported: its record and when it was stored (StopNCII needs a modification time). */
export interface ExportItem extends ExchangeRecord {
  provenance: ExchangeProvenance;
  updatedAt: string;
}

/**
 * ThreatExchange and HMA name the types they share with us their own way
 * (python-threatexchange's `video_md5` is the MD5 of a file's bytes, which is
 * ours); every other type keeps its registry name.
 */
const TE_NAMES: Readonly<Record<string, string>> = { md5: 'video_md5' };
const FROM_TE: Readonly<Record<string, string>> = { video_md5: 'md5', pdq: 'pdq', md5: 'md5' };

export function teName(type: KnownSignalType): string {
  return TE_NAMES[type.name] ?? type.name;
}

export function fromTeName(name: string): KnownSignalType | undefined {
  return findSignalType(FROM_TE[name] ?? name);
}

/** StopNCII exchanges image PDQ and video MD5 only. */
const STOPNCII_NAMES: Readonly<Record<string, string>> = { pdq: 'ImagePDQ', md5: 'VideoMD5' };

export function stopnciiName(type: KnownSignalType): string | undefined {
  return STOPNCII_NAMES[type.name];
}

export function fromStopnciiName(name: unknown): KnownSignalType | undefined {
  const entry = Object.entries(STOPNCII_NAMES).find(([, external]) => external === name);
  return entry && findSignalType(entry[0]);
}

/** A hash in its text form, as a signal of `type`; throws with a reason a person can act on. */
export function parsedSignal(type: KnownSignalType | undefined, typeName: unknown, hash: unknown, quality: number | null = null): ExchangeSignal {
  if (!type) throw new Error(`unknown signal type ${JSON.stringify(typeName)}`);
  return { type, hash: type.parse(typeof hash === 'string' ? hash.trim() : hash, `${type.name} hash`), quality };
}

/** The type a bare hash has by its length: 64 hex digits PDQ, 32 MD5. */
export function typeOfBareHash(hash: string): KnownSignalType | undefined {
  return hash.length === 64 ? findSignalType('pdq') : hash.length === 32 ? findSignalType('md5') : undefined;
}

/** The message of anything thrown while reading one row. */
export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A StopNCII lastModtimestamp as milliseconds (numbers are taken as they are, date-times parsed); throws on anything else. */
export function modifiedAtOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value))) return Date.parse(value);
  if (value === undefined || value === null) return undefined;
  throw new Error(`lastModtimestamp must be a number or a date-time, got ${JSON.stringify(value)}`);
}

/** A stored signal's type (the store only holds registered types). */
export function findExchangeType(name: string): KnownSignalType {
  const type = findSignalType(name);
  if (!type) throw new Error(`unknown signal type ${JSON.stringify(name)}`);
  return type;
}
