/**
 * NGO batches: many queries matched in the background, results read later.
 *
 * - Images are hashed while the request is open, then dropped: their bytes
 *   never leave memory, so a batch can always resume after a restart (only
 *   hashes are stored). An image that cannot be hashed, or whose PDQ quality
 *   is under 50, becomes a failed item with its error; the rest go on.
 * - JSON: `{signals: [...]}` makes each hash its own item; `{items: [{signals:
 *   [...]}]}` groups the hashes of one image (say its PDQ and MD5) into one
 *   item. A hash that is not valid hex of its type's length is a failed item.
 * - A batch id is 128 random bits; a batch is visible to the key that made it
 *   and to admins, and is "not found" for everyone else.
 * - Matches are stored as content ids; provenance is read when results are
 *   read, so content deleted since drops out, and message links show only to
 *   keys allowed full provenance. Filenames are not kept (they can name people).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { fromHex, InvalidHashError, toHex } from '../../hashing/hex.js';
import { PDQ_MIN_QUALITY } from '../../hashing/pdq.js';
import { hashImage } from '../../image/hash-image.js';
import { clientQuerySignals, REGION_SIGNAL_TYPE } from '../../robust/signals.js';
import { BATCH_ID_PATTERN, type BatchMatchOptions, type BatchQuerySignal, type NewBatchItem } from '../../store/batches.js';
import { STORED_SIGNAL_TYPES } from '../../store/signal-types.js';
import type { ContentItem } from '../../store/store.js';
import { ApiError, badRequest, notFound, toApiError } from '../errors.js';
import { can } from '../plugins/auth.js';
import type { Services } from '../services.js';
import { BankFilter, errorResponses, MAX_BANK_FILTER, MAX_SIGNALS_PER_MATCH, SignalInput } from '../schemas.js';
import { bankListField, booleanField, integerField, readUploads } from '../uploads.js';

export const BATCH_MAX_IMAGES = 100;
export const BATCH_MAX_HASHES = 10_000;
const PDQ_BITS = 256;

const BatchOptionsFields = {
  dihedral: Type.Optional(Type.Boolean({ description: 'Images only: also match the 8 rotations and mirror images of each image (always on in robust mode).' })),
  threshold: Type.Optional(Type.Integer({ minimum: 0, maximum: PDQ_BITS, description: 'PDQ match threshold in bits; clamped to the service ceiling.' })),
  banks: Type.Optional(BankFilter),
};

const CreateBatchJson = Type.Object(
  {
    signals: Type.Optional(Type.Array(SignalInput, { minItems: 1, maxItems: BATCH_MAX_HASHES, description: 'Each hash is one item.' })),
    items: Type.Optional(
      Type.Array(Type.Object({ signals: Type.Array(SignalInput, { minItems: 1, maxItems: MAX_SIGNALS_PER_MATCH }) }, { additionalProperties: false }), {
        minItems: 1,
        maxItems: BATCH_MAX_HASHES,
        description: 'Each item groups hashes of one image (with pdq-region hashes a client computed, a robust query of it).',
      }),
    ),
    ...BatchOptionsFields,
  },
  { additionalProperties: false, description: 'Exactly one of `signals` and `items`; at most 10,000 hashes in all.' },
);

const BatchAccepted = Type.Object({
  batchId: Type.String({ description: 'Random; only the key that created the batch (and admins) can read it.' }),
  total: Type.Integer({ description: 'Items in the batch, in request order.' }),
});

const ItemErrorBody = Type.Object({ code: Type.String(), message: Type.String() });

const BatchMatchBody = Type.Object({
  contentId: Type.Integer(),
  bankId: Type.Integer(),
  signalType: Type.String(),
  distance: Type.Number(),
  provenance: Type.Object({
    platform: Type.String(),
    group: Type.Union([Type.String(), Type.Null()]),
    capturedAt: Type.Union([Type.String(), Type.Null()]),
    messageUrl: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Only for keys with full provenance (takedown, admin).' })),
  }),
});

const BatchBody = Type.Object({
  batchId: Type.String(),
  status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('expired')]),
  progress: Type.Object({ done: Type.Integer(), total: Type.Integer() }),
  createdAt: Type.String(),
  expiresAt: Type.String({ description: 'When the results are deleted.' }),
  items: Type.Array(
    Type.Object({
      index: Type.Integer({ description: 'Position in the request (0-based).' }),
      status: Type.Union([Type.Literal('pending'), Type.Literal('done'), Type.Literal('failed')]),
      matches: Type.Optional(Type.Array(BatchMatchBody)),
      error: Type.Optional(ItemErrorBody),
      warnings: Type.Optional(Type.Array(ItemErrorBody, { description: 'e.g. LOW_QUALITY: a featureless image, matched on its exact digests only.' })),
    }),
    { description: 'A page of items; empty once the batch has expired.' },
  ),
  nextOffset: Type.Union([Type.Integer(), Type.Null()], { description: 'Pass as `offset` for the next page; null on the last.' }),
});

const BatchParams = Type.Object({ id: Type.String({ pattern: BATCH_ID_PATTERN }) });
const BatchPage = Type.Object({
  offset: Type.Integer({ minimum: 0, default: 0 }),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
});

function itemErrorOf(err: unknown): { code: string; message: string } | null {
  const api = toApiError(err);
  return api && api.statusCode < 500 ? { code: api.code, message: api.message } : null;
}

/** The stored query of one item, or its error if a hash is not valid for its type. */
function hashItem(signals: Static<typeof SignalInput>[]): NewBatchItem {
  try {
    return {
      query: signals.map(({ type, hash }, i) => ({
        type,
        hash: toHex(fromHex(hash, STORED_SIGNAL_TYPES.get(type)!.bytes * 8, signals.length === 1 ? 'hash' : `signals[${i}].hash`)),
      })),
    };
  } catch (err) {
    if (err instanceof InvalidHashError) return { error: { code: 'INVALID_HASH', message: err.message } };
    throw err;
  }
}

/** Runs `work` on every input with at most `limit` at once; results in input order. */
async function mapBounded<T, R>(inputs: T[], limit: number, work: (input: T) => Promise<R>): Promise<R[]> {
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

export async function batchRoutes(instance: FastifyInstance, { services }: { services: Services }) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { config, store, batches, batchRunner } = services;
  const maxImages = Math.min(BATCH_MAX_IMAGES, config.MAX_FILES_PER_REQUEST);

  function matchOptions(threshold: number | undefined, bankIds: number[] | undefined, regions = false): BatchMatchOptions {
    // A bank that does not exist is the request's mistake, not one item's.
    for (const id of bankIds ?? []) store.getBank(id);
    const thresholds: Record<string, number> | undefined = threshold === undefined ? undefined : { pdq: threshold };
    if (thresholds && regions) thresholds[REGION_SIGNAL_TYPE] = threshold!;
    return { ...(thresholds ? { thresholds } : {}), ...(bankIds ? { bankIds } : {}) };
  }

  async function imageItems(request: FastifyRequest): Promise<{ items: NewBatchItem[]; options: BatchMatchOptions }> {
    const { files, fields } = await readUploads(request, {
      fileField: 'image',
      maxFiles: maxImages,
      maxTotalBytes: config.MAX_REQUEST_BYTES,
      textFields: ['mode', 'dihedral', 'threshold', 'banks'],
      oversizeFilesAreItems: true,
    });
    if (fields.mode !== undefined && fields.mode !== 'robust' && fields.mode !== 'pdq') throw badRequest('INVALID_REQUEST', 'The form field "mode" must be robust or pdq.');
    const robust = fields.mode !== 'pdq';
    const dihedral = (booleanField(fields, 'dihedral') ?? false) || robust;
    const threshold = integerField(fields, 'threshold', 0, PDQ_BITS);
    const bankIds = bankListField(fields, 'banks', MAX_BANK_FILTER);
    const options = matchOptions(threshold, bankIds, robust);
    const items = await mapBounded(files, config.BATCH_CONCURRENCY, async (file): Promise<NewBatchItem> => {
      if (file.tooLarge) {
        return { error: { code: 'IMAGE_TOO_LARGE', message: `The image is larger than the limit of ${Math.round(config.MAX_IMAGE_BYTES / 1048576)} MB.` } };
      }
      try {
        const hashed = await hashImage(file.bytes, {
          decodePath: config.DECODE_PATH,
          limits: { maxBytes: config.MAX_IMAGE_BYTES, maxPixels: config.MAX_IMAGE_PIXELS },
          dihedral,
          ...(robust ? { regions: 'query' as const, pause: yieldToEventLoop } : {}),
        });
        for (const type of ['pdq', 'blockhash', 'md5', 'sha256']) app.metrics.hashesComputed.inc({ signal_type: type });
        const pdq = hashed.pdq!;
        if (robust && !pdq.lowQuality) app.metrics.hashesComputed.inc({ signal_type: REGION_SIGNAL_TYPE }, hashed.regions!.length);
        // Stored with the item as a client would send them: a stored query has no DCT, so rotations and flips go in as hashes.
        // A featureless image is matched on its exact digests only, as /v1/match does, and the item says so.
        const query: BatchQuerySignal[] = clientQuerySignals(hashed).map(({ type, hash }) => ({ type, hash }));
        if (!pdq.lowQuality) return { query };
        return {
          query,
          warnings: [
            {
              code: 'LOW_QUALITY',
              message: `PDQ quality ${pdq.quality} is under ${PDQ_MIN_QUALITY}: the image has too little detail for perceptual matching, so only exact copies (MD5, SHA-256) were looked for.`,
            },
          ],
        };
      } catch (err) {
        const error = itemErrorOf(err);
        if (!error) throw err;
        return { error };
      }
    });
    return { items, options };
  }

  function hashItems(body: Static<typeof CreateBatchJson> | undefined): { items: NewBatchItem[]; options: BatchMatchOptions } {
    // No body (so no Content-Type) runs no schema: refused here, as POST /v1/match refuses it.
    if (!body) throw badRequest('INVALID_REQUEST', 'Send JSON {"signals": [...]} or {"items": [...]}, or the images as multipart/form-data in the field "image".');
    if ((body.signals === undefined) === (body.items === undefined)) throw badRequest('INVALID_REQUEST', 'Send exactly one of "signals" and "items".');
    if (body.dihedral) {
      throw badRequest('INVALID_REQUEST', 'dihedral needs images: the rotations of a bare PDQ hash cannot be derived from its bits. Send the images, or hashes of each variant.');
    }
    const groups = body.signals ? body.signals.map((s) => [s]) : body.items!.map((item) => item.signals);
    const hashes = groups.reduce((n, g) => n + g.length, 0);
    if (hashes > BATCH_MAX_HASHES) throw new ApiError(413, 'TOO_MANY_HASHES', `At most ${BATCH_MAX_HASHES} hashes per batch; this one has ${hashes}.`);
    return { items: groups.map(hashItem), options: matchOptions(body.threshold, body.banks) };
  }

  app.post(
    '/v1/batches',
    {
      config: { permission: 'batches' },
      schema: {
        tags: ['batches'],
        summary: 'Start a batch: up to 100 images or 10,000 hashes, matched in the background',
        description:
          `multipart/form-data with up to ${BATCH_MAX_IMAGES} images in the field \`image\` (hashed now, never stored) and optional fields ` +
          '`mode` (`robust`, the default, also matches region hashes as POST /v1/match does; `pdq` whole-image hashes only), ' +
          '`dihedral`, `threshold` and `banks` (comma-separated ids); or JSON. Read the results with GET /v1/batches/{id} until they expire ' +
          `(${config.BATCH_RESULT_TTL_HOURS} hours).`,
        consumes: ['application/json', 'multipart/form-data'],
        // Validated only for JSON; multipart bodies are read by the handler.
        body: { content: { 'application/json': { schema: CreateBatchJson } } },
        response: { 202: BatchAccepted, ...errorResponses(400, 401, 403, 404, 413, 415) },
      },
    },
    async (request, reply) => {
      const { items, options } = request.isMultipart() ? await imageItems(request) : hashItems(request.body as Static<typeof CreateBatchJson> | undefined);
      const batch = batches.create({ keyId: request.principal.keyId!, options, items, ttlHours: config.BATCH_RESULT_TTL_HOURS });
      batchRunner.enqueue(batch.id);
      return reply.code(202).send({ batchId: batch.id, total: batch.total });
    },
  );

  app.get(
    '/v1/batches/:id',
    {
      config: { permission: 'batches' },
      schema: {
        tags: ['batches'],
        summary: "A batch's status, progress and a page of per-item results",
        params: BatchParams,
        querystring: BatchPage,
        response: { 200: BatchBody, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const batch = batches.get(request.params.id);
      if (!batch || (batch.keyId !== request.principal.keyId && request.principal.role !== 'admin')) throw notFound('No batch with this id.');
      const expired = batch.status === 'expired' || batch.expiresAt <= new Date().toISOString();
      const { offset, limit } = request.query;
      const page = expired ? [] : batches.listItems(batch.id, offset, limit);
      const fullProvenance = can(request.principal, 'provenance:full');
      const contents = new Map<number, ContentItem | null>();
      const contentOf = (id: number) => {
        if (!contents.has(id)) {
          try {
            contents.set(id, store.getContent(id));
          } catch {
            // Deleted since the item was matched: no longer a match.
            contents.set(id, null);
          }
        }
        return contents.get(id)!;
      };
      const items = page.map((item) => ({
        index: item.position,
        status: item.state,
        ...(item.error ? { error: item.error } : {}),
        ...(item.warnings ? { warnings: item.warnings } : {}),
        ...(item.matches
          ? {
              matches: item.matches.flatMap(({ contentId, bankId, signalType, distance }) => {
                const content = contentOf(contentId);
                if (!content) return [];
                const { platform, channel, messageRef, capturedAt } = content.provenance;
                return [
                  {
                    contentId,
                    bankId,
                    signalType,
                    distance,
                    provenance: { platform, group: channel, capturedAt, ...(fullProvenance ? { messageUrl: messageRef } : {}) },
                  },
                ];
              }),
            }
          : {}),
      }));
      const last = page.at(-1);
      return {
        batchId: batch.id,
        status: expired ? ('expired' as const) : batch.status,
        progress: { done: batch.done, total: batch.total },
        createdAt: batch.createdAt,
        expiresAt: batch.expiresAt,
        items,
        nextOffset: last !== undefined && last.position + 1 < batch.total ? last.position + 1 : null,
      };
    },
  );
}
