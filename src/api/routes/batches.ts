/**
 * NGO batches (src/services/batches.ts): up to 100 images or 10,000 hashes
 * matched in the background under the same rules as /v1/match, results read
 * a page at a time until they expire.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { BATCH_ID_PATTERN, BATCH_MAX_HASHES, BATCH_MAX_IMAGES } from '../../services/batches.js';
import type { Services } from '../../services/services.js';
import { noBody } from '../errors.js';
import { can } from '../plugins/auth.js';
import { errorResponses, MatchedItem, QueryOptionFields, QueryOptionFormFields, SignalInput, SignalList } from '../schemas.js';
import { multipartBody, readUploads } from '../uploads.js';

const CreateBatchJson = Type.Object(
  {
    signals: Type.Optional(Type.Array(SignalInput, { minItems: 1, maxItems: BATCH_MAX_HASHES, description: 'Each hash is one item.' })),
    items: Type.Optional(
      Type.Array(Type.Object({ signals: SignalList }, { additionalProperties: false }), {
        minItems: 1,
        maxItems: BATCH_MAX_HASHES,
        description: 'Each item groups hashes of one image (with the region hashes a client computed, a robust query of it).',
      }),
    ),
    ...QueryOptionFields,
    dihedral: Type.Optional(Type.Boolean({ description: 'Only `false` for hashes: send the rotations and mirrors as hashes, or send images.' })),
  },
  { additionalProperties: false, title: 'CreateBatchRequest', description: `Exactly one of \`signals\` and \`items\`; at most ${BATCH_MAX_HASHES} hashes in all.` },
);

const CreateBatchMultipart = multipartBody({
  image: Type.Array(Type.String({ contentEncoding: 'binary' }), { maxItems: BATCH_MAX_IMAGES, description: `1 to ${BATCH_MAX_IMAGES} images, each in a part named \`image\`.` }),
  ...QueryOptionFormFields,
});

const BatchAccepted = Type.Object(
  {
    batchId: Type.String({ description: 'Random; only the key that created the batch (and admins) can read it.' }),
    total: Type.Integer({ description: 'Items in the batch, in request order.' }),
  },
  { title: 'BatchAccepted', description: 'Accepted: matching runs in the background.' },
);

const ItemMessage = Type.Object({ code: Type.String(), message: Type.String() }, { title: 'BatchItemMessage' });

const BatchBody = Type.Object(
  {
    batchId: Type.String(),
    status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('expired')]),
    progress: Type.Object({ done: Type.Integer(), total: Type.Integer() }),
    createdAt: Type.String(),
    expiresAt: Type.String({ description: 'When the results are deleted.' }),
    items: Type.Array(
      Type.Object({
        index: Type.Integer({ description: 'Position in the request (0-based).' }),
        status: Type.Union([Type.Literal('pending'), Type.Literal('done'), Type.Literal('failed')]),
        matches: Type.Optional(Type.Array(MatchedItem, { description: 'As /v1/match answers: one per captured item, its closest match.' })),
        error: Type.Optional(ItemMessage),
        warnings: Type.Optional(Type.Array(ItemMessage, { description: 'e.g. LOW_QUALITY: a featureless image, matched on its exact digests only.' })),
      }),
      { description: 'A page of items; empty once the batch has expired.' },
    ),
    nextOffset: Type.Union([Type.Integer(), Type.Null()], { description: 'Pass as `offset` for the next page; null on the last.' }),
  },
  { title: 'Batch', description: "The batch's status, progress and a page of per-item results." },
);

const BatchParams = Type.Object({ id: Type.String({ pattern: BATCH_ID_PATTERN }) });
const BatchPage = Type.Object({
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});

const createBatchRoute = (services: Services) => ({
  config: { permission: 'batches' as const },
  schema: {
    tags: ['batches'],
    operationId: 'createBatch',
    summary: 'Start a batch: up to 100 images or 10,000 hashes, matched in the background',
    description:
      `multipart/form-data with up to ${BATCH_MAX_IMAGES} images in \`image\` parts (hashed now, never stored) and optional fields ` +
      '`mode`, `dihedral`, `threshold` and `banks`, or JSON with hashes; every item is matched as POST /v1/match matches it. Read the ' +
      `results with GET /v1/batches/{id} until they expire (${services.config.BATCH_RESULT_TTL_HOURS} hours).`,
    body: { content: { 'application/json': { schema: CreateBatchJson }, 'multipart/form-data': { schema: CreateBatchMultipart } } },
    response: { 202: BatchAccepted, ...errorResponses(400, 401, 403, 404, 413, 415) },
  },
});

const getBatchRoute = {
  config: { permission: 'batches' as const },
  schema: {
    tags: ['batches'],
    operationId: 'getBatch',
    summary: "A batch's status, progress and a page of per-item results",
    params: BatchParams,
    querystring: BatchPage,
    response: { 200: BatchBody, ...errorResponses(400, 401, 403, 404) },
  },
};

async function createBatch(services: Services, request: FastifyRequest): Promise<{ batchId: string; total: number }> {
  const keyId = request.principal.keyId!;
  if (request.isMultipart()) {
    const { config } = services;
    const { files, fields } = await readUploads(request, {
      fileField: 'image',
      maxFiles: Math.min(BATCH_MAX_IMAGES, config.MAX_FILES_PER_REQUEST),
      maxTotalBytes: config.MAX_REQUEST_BYTES,
      textFields: Object.keys(QueryOptionFormFields),
      oversizeFilesAreItems: true,
    });
    return services.batches.createFromImages(keyId, files, fields);
  }
  if (!request.body) throw noBody('Send JSON {"signals": [...]} or {"items": [...]}, or the images as multipart/form-data in the field "image".');
  return services.batches.createFromHashes(keyId, request.body as Static<typeof CreateBatchJson>);
}

export async function batchRoutes(instance: FastifyInstance, { services }: { services: Services }) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  app.post('/v1/batches', createBatchRoute(services), async (request, reply) => reply.code(202).send(await createBatch(services, request)));
  app.get('/v1/batches/:id', getBatchRoute, async (request) => {
    const { principal } = request;
    const reader = { keyId: principal.keyId!, admin: principal.role === 'admin', fullProvenance: can(principal, 'provenance:full') };
    return services.batches.read(request.params.id, reader, request.query.offset ?? 0, request.query.limit ?? 100);
  });
}
