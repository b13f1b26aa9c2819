/**
 * NGO batches: many images or hashes matched in the background
 * (src/batches/runner.ts) under the same query rules as /v1/match, with
 * results read a page at a time until they expire.
 *
 * - One bad item never fails the batch: an image that cannot be read or a
 *   hash that is not valid for its type is a failed item with its own error.
 * - Image items are hashed at intake (in memory, never stored) and kept as
 *   the hashes their query searches with; an item's hashes are deleted once
 *   it is matched, and emptied from the database's log when the batch is done.
 * - A batch is visible to the key that made it and to admins, and "not
 *   found" for everyone else. Matches are stored as content ids with how they
 *   were found; provenance is read when results are read, so content deleted
 *   since drops out, and message links show only to keys allowed full
 *   provenance. File names are not kept (they can name people).
 */
import type { ContentMatch } from '../match/matcher.js';
import { checkQueryOptions, MAX_QUERY_SIGNALS, type QueryOptions, queryFromHashes, queryFromImage, queryOptionsFromFields, toWireSignals, type WireSignal } from '../match/query.js';
import { inputErrorOf } from '../batches/input-errors.js';
import type { BatchItem, NewBatchItem, StoredBatchMatch } from '../store/batches.js';
import type { ContentItem } from '../store/store.js';
import { ServiceError } from './errors.js';
import { presentMatch, type MatchedItem, type Viewer } from './matching.js';
import type { ServiceContext } from './context.js';

export { BATCH_ID_PATTERN } from '../store/batches.js';

export const BATCH_MAX_IMAGES = 100;
export const BATCH_MAX_HASHES = 10_000;

export interface HashBatchRequest extends QueryOptions {
  /** Each hash is one item. */
  signals?: WireSignal[];
  /** Each item groups hashes of one image (a client's robust query of it, say). */
  items?: { signals: WireSignal[] }[];
}

export interface BatchUpload {
  filename: string;
  bytes: Uint8Array;
  /** Over MAX_IMAGE_BYTES: the item fails, the batch goes on. */
  tooLarge?: boolean;
}

/** Who reads a batch: its own key sees it, an admin sees any. */
export interface BatchReader extends Viewer {
  keyId: number;
  admin: boolean;
}

export interface BatchView {
  batchId: string;
  status: 'queued' | 'running' | 'done' | 'expired';
  progress: { done: number; total: number };
  createdAt: string;
  expiresAt: string;
  items: { index: number; status: BatchItem['state']; matches?: MatchedItem[]; error?: { code: string; message: string }; warnings?: { code: string; message: string }[] }[];
  nextOffset: number | null;
}

/**
 * A match as a batch keeps it: ids and how it was found, and for hash
 * queries which hash matched (as /v1/match reports it); provenance is read
 * with the results.
 */
export function storedMatch({ contentId, bankId, signalType, distance, via, region, variant, signalIndex }: ContentMatch, fromHashes: boolean): StoredBatchMatch {
  return { contentId, bankId, signalType, distance, via, region, variant, ...(fromHashes ? { signalIndex } : {}) };
}

/** The item `make` gives, or the item's own error if it has one (an image that cannot be read, a hash not valid for its type). */
async function itemOrError(make: () => NewBatchItem | Promise<NewBatchItem>): Promise<NewBatchItem> {
  try {
    return await make();
  } catch (err) {
    const error = inputErrorOf(err);
    if (!error) throw err;
    return { error };
  }
}

/** Runs `work` on every input with at most `limit` at once; results in input order. */
async function mapBounded<T, R>(inputs: readonly T[], limit: number, work: (input: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(inputs.length);
  let next = 0;
  const worker = async () => {
    while (next < inputs.length) {
      const i = next++;
      results[i] = await work(inputs[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, inputs.length) }, worker));
  return results;
}

export class BatchService {
  constructor(private readonly services: ServiceContext) {}

  /** Images with the options of their form fields; each hashed now into the hashes its query searches with. */
  async createFromImages(keyId: number, files: readonly BatchUpload[], fields: Readonly<Record<string, string | undefined>>): Promise<{ batchId: string; total: number }> {
    const options = queryOptionsFromFields(fields);
    checkQueryOptions(options, false);
    this.requireBanks(options.banks);
    const maxMb = Math.round(this.services.config.MAX_IMAGE_BYTES / 1048576);
    const items = await mapBounded(files, this.services.config.BATCH_CONCURRENCY, async (file): Promise<NewBatchItem> => {
      if (file.tooLarge) return { error: { code: 'IMAGE_TOO_LARGE', message: `The image is larger than the limit of ${maxMb} MB.` } };
      return itemOrError(async () => {
        const query = queryFromImage(await this.services.hashing.hashForQuery(file.bytes, options.mode), options);
        // Kept as hashes: rotations and mirrors go in as hashes of their own, so the stored query needs no image.
        return { query: toWireSignals(query, Infinity), warnings: query.warnings.filter((w) => w.code === 'LOW_QUALITY') };
      });
    });
    return this.create(keyId, options, items, true);
  }

  /** Hashes, one item each (`signals`) or grouped per image (`items`); an item whose hash is not valid for its type fails alone. */
  async createFromHashes(keyId: number, { signals, items, ...options }: HashBatchRequest): Promise<{ batchId: string; total: number }> {
    if ((signals === undefined) === (items === undefined)) throw new ServiceError('INVALID_REQUEST', 'Send exactly one of "signals" and "items".');
    checkQueryOptions(options, true);
    this.requireBanks(options.banks);
    const groups = signals ? signals.map((s) => [s]) : items!.map((item) => item.signals);
    const hashes = groups.reduce((n, g) => n + g.length, 0);
    if (hashes > BATCH_MAX_HASHES) throw new ServiceError('TOO_MANY_HASHES', `At most ${BATCH_MAX_HASHES} hashes per batch; this one has ${hashes}.`);
    const newItems = await Promise.all(
      groups.map((group) => itemOrError(() => ({ query: toWireSignals(queryFromHashes(group, options, group.length === 1 && signals ? 'signal' : 'signals'), MAX_QUERY_SIGNALS) }))),
    );
    return this.create(keyId, options, newItems);
  }

  /** A batch's status and a page of its items, for its own key or an admin; "not found" for anyone else. */
  read(id: string, reader: BatchReader, offset: number, limit: number): BatchView {
    const batch = this.services.batchStore.get(id);
    if (!batch || (batch.keyId !== reader.keyId && !reader.admin)) throw new ServiceError('NOT_FOUND', 'No batch with this id.');
    const expired = batch.status === 'expired' || batch.expiresAt <= new Date().toISOString();
    const page = expired ? [] : this.services.batchStore.listItems(batch.id, offset, limit);
    const contentOf = this.contentReader();
    const items = page.map((item) => ({
      index: item.position,
      status: item.state,
      ...(item.error ? { error: item.error } : {}),
      ...(item.warnings ? { warnings: item.warnings } : {}),
      ...(item.matches
        ? {
            // Content deleted since the item was matched is no longer a match.
            matches: item.matches.flatMap((m) => {
              const content = contentOf(m.contentId);
              return content ? [presentMatch(m, content.provenance, reader, m.signalIndex !== undefined)] : [];
            }),
          }
        : {}),
    }));
    const last = page.at(-1);
    return {
      batchId: batch.id,
      status: expired ? 'expired' : batch.status,
      progress: { done: batch.done, total: batch.total },
      createdAt: batch.createdAt,
      expiresAt: batch.expiresAt,
      items,
      nextOffset: last !== undefined && last.position + 1 < batch.total ? last.position + 1 : null,
    };
  }

  /** `fromImages`: the items are images' queries kept as hashes, their rotations and mirrors among them (so no `dihedral` is kept). */
  private create(keyId: number, options: QueryOptions, items: NewBatchItem[], fromImages = false): { batchId: string; total: number } {
    const { config, batchStore, batchRunner } = this.services;
    const { dihedral: _expandedAlready, banks, ...rest } = options;
    const stored = { ...rest, ...(banks ? { banks: [...banks] } : {}), ...(fromImages ? { fromImages } : {}) };
    const batch = batchStore.create({ keyId, options: stored, items, ttlHours: config.BATCH_RESULT_TTL_HOURS });
    batchRunner.enqueue(batch.id);
    return { batchId: batch.id, total: batch.total };
  }

  /** A bank that does not exist is the request's mistake, not one item's. */
  private requireBanks(banks: readonly number[] | undefined): void {
    for (const id of banks ?? []) this.services.store.getBank(id);
  }

  /** Content items by id, each read once per page; null for one deleted since. */
  private contentReader(): (id: number) => ContentItem | null {
    const contents = new Map<number, ContentItem | null>();
    return (id) => {
      if (!contents.has(id)) {
        try {
          contents.set(id, this.services.store.getContent(id));
        } catch {
          contents.set(id, null);
        }
      }
      return contents.get(id)!;
    };
  }
}
