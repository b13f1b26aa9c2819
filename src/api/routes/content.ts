/**
 * Captured content (src/services/banks.ts): items seen in abusive groups,
 * stored as their hashes and where they were seen, never as images.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { type AddedItem, type ContentItem, DEFAULT_PLATFORM, MAX_SIGNALS_PER_ITEM, type ProvenanceInput, type SignalText } from '../../services/banks.js';
import type { Services } from '../../services/services.js';
import { badRequest, noBody } from '../errors.js';
import { deleteRoute, errorResponses, HashText, IdParam, SignalOutput, SignalTypeName, StoredRegionKind, Warning } from '../schemas.js';
import { multipartBody, readUploads } from '../uploads.js';

/** Content items in one JSON request. */
const MAX_ITEMS_PER_REQUEST = 1000;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

const Platform = Type.String({ minLength: 1, maxLength: 200, description: `Where it was seen; default ${DEFAULT_PLATFORM}.` });
const Group = Type.String({ minLength: 1, maxLength: 200, description: 'Group or channel name.' });
const MessageUrl = Type.String({ minLength: 1, maxLength: 10_000, description: 'Link to (or id of) the message that carried it.' });
const CapturedAt = Type.String({ format: 'date-time', description: 'When it was seen (ISO-8601).' });
const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'Free JSON object (at most 64 KB).' });
const Note = Type.String({ maxLength: 10_000 });

const ContentSignalInput = Type.Object(
  {
    type: SignalTypeName,
    hash: HashText,
    quality: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'PDQ quality, where known.' })),
    region: Type.Optional(StoredRegionKind),
  },
  { additionalProperties: false, title: 'ContentSignalInput' },
);

const ContentJsonBody = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        {
          signals: Type.Array(ContentSignalInput, { minItems: 1, maxItems: MAX_SIGNALS_PER_ITEM }),
          platform: Type.Optional(Platform),
          group: Type.Optional(Group),
          messageUrl: Type.Optional(MessageUrl),
          capturedAt: Type.Optional(CapturedAt),
          metadata: Type.Optional(Metadata),
          note: Type.Optional(Note),
        },
        { additionalProperties: false, title: 'NewContentItem' },
      ),
      { minItems: 1, maxItems: MAX_ITEMS_PER_REQUEST },
    ),
  },
  { additionalProperties: false, title: 'AddContentRequest' },
);

const MULTIPART_TEXT_FIELDS = ['platform', 'group', 'messageUrl', 'capturedAt', 'metadata', 'note'] as const;

const ContentMultipartBody = multipartBody({
  image: Type.Array(Type.String({ contentEncoding: 'binary' }), { description: 'One or more images, each in a part named `image`.' }),
  platform: Type.Optional(Platform),
  group: Type.Optional(Group),
  messageUrl: Type.Optional(MessageUrl),
  capturedAt: Type.Optional(Type.String({ description: 'When they were seen (ISO-8601).' })),
  metadata: Type.Optional(Type.String({ description: 'A JSON object, as text.' })),
  note: Type.Optional(Note),
});

const AddedItemBody = Type.Object({
  id: Type.Integer(),
  signals: Type.Array(SignalOutput, { description: 'The hashes stored for this item.' }),
  warnings: Type.Optional(Type.Array(Warning, { description: 'Images: LOW_QUALITY when only the exact hashes were stored.' })),
}, { title: 'AddedContentItem' });

const ContentOutput = Type.Object({
  id: Type.Integer(),
  bankId: Type.Integer(),
  platform: Type.String(),
  group: Type.Union([Type.String(), Type.Null()]),
  messageUrl: Type.Union([Type.String(), Type.Null()]),
  capturedAt: Type.Union([Type.String(), Type.Null()]),
  metadata: Metadata,
  note: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  updatedAt: Type.String(),
}, { title: 'ContentItem' });

const ContentWithSignals = Type.Intersect([ContentOutput, Type.Object({ signals: Type.Array(SignalOutput) })], { title: 'ContentItemWithSignals', description: 'The item with its hashes.' });

const ContentPatchBody = Type.Object(
  {
    platform: Type.Optional(Platform),
    group: Type.Optional(Type.Union([Group, Type.Null()])),
    messageUrl: Type.Optional(Type.Union([MessageUrl, Type.Null()])),
    capturedAt: Type.Optional(Type.Union([CapturedAt, Type.Null()])),
    metadata: Type.Optional(Metadata),
    note: Type.Optional(Type.Union([Note, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1, title: 'ContentPatch', description: 'Fields to change; null clears a field.' },
);

const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })),
    after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'The `nextAfter` of the previous page.' })),
  },
  { additionalProperties: false },
);

function contentBody(item: ContentItem) {
  const p = item.provenance;
  const { id, bankId, metadata, note, createdAt, updatedAt } = item;
  return { id, bankId, platform: p.platform, group: p.channel, messageUrl: p.messageRef, capturedAt: p.capturedAt, metadata, note, createdAt, updatedAt };
}

const withSignals = ({ item, signals }: { item: ContentItem; signals: SignalText[] }) => ({ ...contentBody(item), signals });

/**
 * RFC 3339 with real calendar dates and times, checked as the JSON body's
 * `format: date-time` is (ajv-formats); Date.parse alone takes almost any text
 * and rolls 2026-02-30 over to March.
 */
const isDateTime = (fullFormats['date-time'] as { validate: (text: string) => boolean }).validate;

/** Multipart provenance fields, read as the JSON body's are checked. */
function provenanceFields(fields: Record<string, string>): ProvenanceInput {
  const { capturedAt, metadata } = fields;
  if (capturedAt !== undefined && (!isDateTime(capturedAt) || Number.isNaN(Date.parse(capturedAt)))) {
    throw badRequest('INVALID_REQUEST', 'The form field "capturedAt" must be an ISO-8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z.');
  }
  let parsed: unknown;
  if (metadata !== undefined) {
    try {
      parsed = JSON.parse(metadata);
    } catch {
      throw badRequest('INVALID_REQUEST', 'The form field "metadata" must be a JSON object; it is not valid JSON.');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest('INVALID_REQUEST', 'The form field "metadata" must be a JSON object.');
  }
  return { ...fields, metadata: parsed as Record<string, unknown> | undefined };
}

async function addContent(services: Services, request: FastifyRequest, bankId: number): Promise<AddedItem[]> {
  if (request.isMultipart()) {
    // Refuse an unknown bank before reading up to a hundred images for nothing.
    services.banks.get(bankId);
    const { config } = services;
    const { files, fields } = await readUploads(request, { fileField: 'image', maxFiles: config.MAX_FILES_PER_REQUEST, maxTotalBytes: config.MAX_REQUEST_BYTES, textFields: MULTIPART_TEXT_FIELDS });
    return services.banks.addImages(bankId, files, provenanceFields(fields));
  }
  if (!request.body) throw noBody('Send JSON {"items": [{"signals": [...]}]} or images as multipart/form-data in "image" parts.');
  return services.banks.addHashes(bankId, (request.body as Static<typeof ContentJsonBody>).items);
}

const common = { config: { permission: 'content' as const } };
const tags = ['content'];

const addContentRoute = (services: Services) => ({
  ...common,
  schema: {
    tags,
    operationId: 'addContent',
    summary: 'Add captured content to a bank; it is matchable when this returns',
    description:
      `Either multipart/form-data with one or more images in \`image\` parts (at most ${services.config.MAX_FILES_PER_REQUEST} files and ` +
      `${Math.round(services.config.MAX_REQUEST_BYTES / 1048576)} MB together) and provenance fields for all of them (\`platform\`, \`group\`, ` +
      '`messageUrl`, `capturedAt`, `metadata` as a JSON object in text, `note`); or JSON `{items: [{signals: [{type, hash, quality?, region?}], platform?, group?, ' +
      `messageUrl?, capturedAt?, metadata?, note?}]}\` with 1 to ${MAX_ITEMS_PER_REQUEST} items of up to ${MAX_SIGNALS_PER_ITEM} hashes each ` +
      '(what an image is stored as always fits, so an item can be sent back as it was stored).\n\n' +
      `\`platform\` defaults to ${DEFAULT_PLATFORM}. Items come back in request order with the hashes stored for each. Images are hashed in ` +
      'memory and never stored: each is stored as PDQ (with its quality), blockhash, MD5, SHA-256 and its region hashes; an image with PDQ ' +
      'quality under 50 as MD5 and SHA-256 only, with a LOW_QUALITY warning.\n\n' +
      'All or nothing: every image is hashed (and every hash checked) before anything is stored; if one fails, the request fails with that ' +
      'error, the message names the image (`images[i]` and its file name) or item (`items[i]`), and nothing is stored.',
    params: IdParam,
    body: { content: { 'application/json': { schema: ContentJsonBody }, 'multipart/form-data': { schema: ContentMultipartBody } } },
    response: {
      201: Type.Object({ items: Type.Array(AddedItemBody) }, { description: 'The items added, in request order.' }),
      ...errorResponses(400, 401, 403, 404, 413, 415, 422),
    },
  },
});

const listContentRoute = {
  ...common,
  schema: {
    tags,
    operationId: 'listContent',
    summary: "A bank's content, oldest first, a page at a time",
    description: 'Pass the `nextAfter` of one page as `after` to get the next; it is null on the last page.',
    params: IdParam,
    querystring: PageQuery,
    response: {
      200: Type.Object({ items: Type.Array(ContentOutput), nextAfter: Type.Union([Type.Integer(), Type.Null()]) }, { description: 'A page of items.' }),
      ...errorResponses(400, 401, 403, 404),
    },
  },
};

const getContentRoute = {
  ...common,
  schema: { tags, operationId: 'getContent', summary: 'One content item with its hashes', params: IdParam, response: { 200: ContentWithSignals, ...errorResponses(400, 401, 403, 404) } },
};

const updateContentRoute = {
  ...common,
  schema: {
    tags,
    operationId: 'updateContent',
    summary: "Correct a content item's provenance, metadata or note (its hashes stay)",
    params: IdParam,
    body: ContentPatchBody,
    response: { 200: ContentWithSignals, ...errorResponses(400, 401, 403, 404) },
  },
};

const deleteContentRoute = deleteRoute('content', 'content', 'deleteContent', 'Delete a content item; its hashes stop matching at once');

export async function contentRoutes(untyped: FastifyInstance, { services }: { services: Services }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.post('/v1/banks/:id/content', addContentRoute(services), async (request, reply) => {
    const added = await addContent(services, request, request.params.id);
    return reply.code(201).send({ items: added.map(({ id, signals, warnings }) => ({ id, signals, ...(warnings ? { warnings } : {}) })) });
  });
  app.get('/v1/banks/:id/content', listContentRoute, async (request) => {
    const { items, nextAfter } = services.banks.listContent(request.params.id, request.query.limit ?? DEFAULT_PAGE, request.query.after ?? 0);
    return { items: items.map(contentBody), nextAfter };
  });
  app.get('/v1/content/:id', getContentRoute, async (request) => withSignals(services.banks.getContent(request.params.id)));
  app.patch('/v1/content/:id', updateContentRoute, async (request) => withSignals(services.banks.updateContent(request.params.id, request.body)));
  app.delete('/v1/content/:id', deleteContentRoute, async (request, reply) => {
    services.banks.deleteContent(request.params.id);
    return reply.code(204).send(null);
  });
}
