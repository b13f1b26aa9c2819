/**
 * The records of an import read but not yet applied (a chunk: up to tens of
 * thousands). A record of one hash and nothing else (every line of a
 * ThreatExchange file) is kept as its line, its type and its bytes in typed
 * arrays rather than as the objects the reader made: those then die young,
 * and the garbage collector does not copy and promote a chunk's worth of
 * objects while the next records are read. Others are kept as they are.
 */
import type { ExchangeRecord, ExchangeSignal } from '../exchange/index.js';

export type Read = { line: number; record: ExchangeRecord };

/** Bytes kept per packed record: the longest hash the store takes. */
const HASH_ROOM = 64;

function isBare(record: ExchangeRecord): boolean {
  if (record.signals.length !== 1 || record.signals[0].quality !== null || record.signals[0].hash.length > HASH_ROOM) return false;
  if (record.provenance !== undefined || record.note !== undefined || record.remove !== undefined || record.modifiedAt !== undefined) return false;
  if (Object.getPrototypeOf(record.metadata) !== Object.prototype) return false;
  for (const key in record.metadata) if (Object.hasOwn(record.metadata, key)) return false;
  return true;
}

export class PendingRecords {
  /** Per record: its type (packed) or the record as read. */
  private readonly held: (ExchangeSignal['type'] | Read)[] = [];
  private readonly lines: Float64Array;
  private readonly hashes: Uint8Array;

  constructor(private readonly capacity: number) {
    this.lines = new Float64Array(capacity);
    this.hashes = new Uint8Array(capacity * HASH_ROOM);
  }

  get length(): number {
    return this.held.length;
  }

  get full(): boolean {
    return this.held.length >= this.capacity;
  }

  push(read: Read): void {
    const at = this.held.length;
    if (at >= this.capacity) throw new RangeError('a chunk of records is full');
    if (!isBare(read.record)) {
      this.held.push(read);
      return;
    }
    const [signal] = read.record.signals;
    this.lines[at] = read.line;
    this.hashes.set(signal.hash, at * HASH_ROOM);
    this.held.push(signal.type);
  }

  /** The records in order, as read (a packed one made again, its hash a view of this chunk's bytes). */
  *reads(): Generator<Read> {
    for (let at = 0; at < this.held.length; at++) {
      const held = this.held[at];
      if ('record' in held) {
        yield held;
        continue;
      }
      const hash = this.hashes.subarray(at * HASH_ROOM, at * HASH_ROOM + held.bytes);
      yield { line: this.lines[at], record: { signals: [{ type: held, hash, quality: null }], metadata: {} } };
    }
  }
}
