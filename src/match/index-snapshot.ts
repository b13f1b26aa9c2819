/**
 * A snapshot of the captured content's indexes on disk, so that a large
 * index loads by reading its shards back instead of every signal of the
 * store (docs/index.md, "Loading"). Victims' indexes are never in it: their
 * hashes stay in the database alone, where a withdrawal deletes them.
 *
 * The file: the blocks (each shard's memory ranges in use, each exact type's
 * hashes and owners) back to back, then a JSON footer saying where each block
 * goes and its CRC-32, then the footer's length and CRC-32 and a magic string.
 * It is written beside its final name and renamed into place, so a reader
 * sees a whole snapshot or none. It holds the store up to a position (the
 * last signal id, the last content removal logged) and carries a random
 * token that the store records: a file the store did not record last (from
 * another database, or from before the database was restored from a backup)
 * is not used.
 */
import { closeSync, fsyncSync, openSync, readSync, renameSync, rmSync, fstatSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import type { SharedMemory } from '../index/shard.js';
import type { IndexSnapshotPosition } from '../store/store.js';
import type { ExactHashIndex } from './exact-index.js';
import type { MultiIndexHashing } from '../index/multi-index-hashing.js';

const MAGIC = 'NCIIIDX1';
/** 2: region types' indexes are in parts by region kind (region-groups.ts), each saved by its part's name. */
const FORMAT = 2;
/** Bytes per read or write call (and per CRC update). */
const IO_CHUNK = 64 << 20;
/** Trailer: footer length (u32), footer CRC-32 (u32), magic. */
const TRAILER_BYTES = 8 + MAGIC.length;

/** A range of memory (or an exact index's arrays) as stored in the file. */
interface Block {
  /** Where it goes in its shard's memory (0 for an exact index's arrays). */
  at: number;
  length: number;
  /** Where it is in the file. */
  offset: number;
  crc: number;
}

type SavedIndex =
  | { part: string; kind: 'hamming'; maxOwner: number; shards: { memoryBytes: number; blocks: Block[] }[] }
  | { part: string; kind: 'exact'; bytes: number; entries: number; codes: Block; owners: Block };

interface SnapshotFooter extends IndexSnapshotPosition {
  format: number;
  token: string;
  indexes: SavedIndex[];
}

/** One content index of the set (a type's, or a part of a region type's), as a snapshot saves and restores it. */
export type ContentIndex = { part: string; kind: 'hamming'; index: MultiIndexHashing } | { part: string; kind: 'exact'; index: ExactHashIndex };

/** Why a snapshot was not used: the load then reads the whole store. */
export class UnusableSnapshot extends Error {}

/**
 * Writes the content indexes to `path` (through `path.partial`, renamed when
 * whole and synced). The caller makes sure no write reaches the indexes
 * meanwhile (the writer thread does it between messages) and that they hold
 * the store exactly up to `position`. Returns the file's size.
 */
export function writeIndexSnapshot(path: string, indexes: readonly ContentIndex[], header: IndexSnapshotPosition & { token: string }): number {
  const partial = partialPath(path);
  const fd = openSync(partial, 'w', 0o600);
  let offset = 0;
  const put = (bytes: Uint8Array): Block => {
    const block: Block = { at: 0, length: bytes.length, offset, crc: 0 };
    for (let from = 0; from < bytes.length; from += IO_CHUNK) {
      const chunk = bytes.subarray(from, Math.min(bytes.length, from + IO_CHUNK));
      block.crc = crc32(chunk, block.crc);
      for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done, chunk.length - done, offset + from + done);
    }
    offset += bytes.length;
    return block;
  };
  try {
    const saved: SavedIndex[] = indexes.map((entry): SavedIndex => {
      if (entry.kind === 'exact') {
        const { codes, owners } = entry.index.entries();
        return { part: entry.part, kind: 'exact', bytes: entry.index.bytes, entries: owners.length, codes: put(codes), owners: put(new Uint8Array(owners.buffer)) };
      }
      const { maxOwner, shards } = entry.index.saved();
      return {
        part: entry.part,
        kind: 'hamming',
        maxOwner,
        shards: shards.map(({ memory, memoryBytes, ranges }) => ({
          memoryBytes,
          blocks: ranges.map(([at, length]) => ({ ...put(new Uint8Array(memory.buffer, at, length)), at })),
        })),
      };
    });
    const footer: SnapshotFooter = { format: FORMAT, ...header, indexes: saved };
    const json = Buffer.from(JSON.stringify(footer));
    const trailer = Buffer.alloc(TRAILER_BYTES);
    trailer.writeUInt32LE(json.length, 0);
    trailer.writeUInt32LE(crc32(json), 4);
    trailer.write(MAGIC, 8, 'latin1');
    put(json);
    put(trailer);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(partial, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(partial, path);
  syncDirectory(dirname(path));
  return offset;
}

/** Removes the snapshot at `path`, and what a write of one cut short left beside it. */
export function removeIndexSnapshot(path: string): void {
  rmSync(path, { force: true });
  removePartialIndexSnapshot(path);
}

/** Removes what a write of a snapshot to `path` cut short (a stop, a crash) left beside it. */
export function removePartialIndexSnapshot(path: string): void {
  rmSync(partialPath(path), { force: true });
}

/**
 * Restores the content indexes from the snapshot at `path` into `indexes`
 * (empty, freshly made), if its token is `token`: every block is read and
 * checked before any index is changed, so a damaged file leaves them empty
 * and throws UnusableSnapshot.
 */
export function restoreIndexSnapshot(path: string, indexes: readonly ContentIndex[], token: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new UnusableSnapshot(`no snapshot could be opened (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const footer = footerOf(fd);
    if (footer.token !== token) throw new UnusableSnapshot('the snapshot is not the one this database recorded');
    const read = (block: Block, into: Uint8Array) => {
      if (into.length !== block.length) throw new UnusableSnapshot('a block of the snapshot does not fit where it goes');
      let crc = 0;
      for (let from = 0; from < block.length; from += IO_CHUNK) {
        const chunk = into.subarray(from, Math.min(block.length, from + IO_CHUNK));
        for (let done = 0; done < chunk.length; ) {
          const got = readSync(fd, chunk, done, chunk.length - done, block.offset + from + done);
          if (got === 0) throw new UnusableSnapshot('the snapshot is cut short');
          done += got;
        }
        crc = crc32(chunk, crc);
      }
      if (crc !== block.crc) throw new UnusableSnapshot('a block of the snapshot is damaged (CRC-32 mismatch)');
    };
    const apply: (() => void)[] = [];
    for (const entry of indexes) {
      const saved = footer.indexes.find((index) => index.part === entry.part);
      if (!saved || saved.kind !== entry.kind) throw new UnusableSnapshot(`the snapshot holds no ${entry.kind} index of ${entry.part}`);
      if (saved.kind === 'exact' && entry.kind === 'exact') {
        if (saved.bytes !== entry.index.bytes || saved.codes.length !== saved.entries * saved.bytes || saved.owners.length !== saved.entries * 4) {
          throw new UnusableSnapshot(`the snapshot's ${entry.part} hashes have another length`);
        }
        const codes = new Uint8Array(saved.codes.length);
        const owners = new Uint32Array(saved.entries);
        read(saved.codes, codes);
        read(saved.owners, new Uint8Array(owners.buffer));
        apply.push(() => entry.index.addMany(codes, owners));
      } else if (saved.kind === 'hamming' && entry.kind === 'hamming') {
        const memories: SharedMemory[] = [];
        for (const shard of saved.shards) {
          try {
            memories.push(entry.index.restoredShardMemory(shard.memoryBytes, (bytes) => {
              for (const block of shard.blocks) {
                if (block.at < 0 || block.at + block.length > bytes.length) throw new UnusableSnapshot('a block of the snapshot lies outside its shard');
                read(block, bytes.subarray(block.at, block.at + block.length));
              }
            }));
          } catch (err) {
            throw err instanceof UnusableSnapshot ? err : new UnusableSnapshot(`a shard of the snapshot cannot be restored: ${(err as Error).message}`);
          }
        }
        apply.push(() => entry.index.restore(memories, saved.maxOwner));
      }
    }
    for (const step of apply) step();
  } finally {
    closeSync(fd);
  }
}

function footerOf(fd: number): SnapshotFooter {
  const size = fstatSync(fd).size;
  if (size < TRAILER_BYTES) throw new UnusableSnapshot('the snapshot is cut short');
  const trailer = Buffer.alloc(TRAILER_BYTES);
  readSync(fd, trailer, 0, TRAILER_BYTES, size - TRAILER_BYTES);
  if (trailer.toString('latin1', 8) !== MAGIC) throw new UnusableSnapshot('the file is not an index snapshot of this version');
  const length = trailer.readUInt32LE(0);
  if (length > size - TRAILER_BYTES) throw new UnusableSnapshot('the snapshot is cut short');
  const json = Buffer.alloc(length);
  readSync(fd, json, 0, length, size - TRAILER_BYTES - length);
  if (crc32(json) !== trailer.readUInt32LE(4)) throw new UnusableSnapshot('the snapshot footer is damaged (CRC-32 mismatch)');
  const footer = JSON.parse(json.toString('utf8')) as SnapshotFooter;
  if (footer.format !== FORMAT) throw new UnusableSnapshot(`the snapshot has format ${footer.format}, not ${FORMAT}`);
  return footer;
}

function partialPath(path: string): string {
  return `${path}.partial`;
}

/** A rename is durable once its directory is synced. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
