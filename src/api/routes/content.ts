/**
 * Captured content: items seen in abusive groups, stored as their hashes and
 * where they were seen, never as images. An item is matchable as soon as its
 * POST returns (the store tells the indexes before it does) and stops matching
 * as soon as its DELETE returns.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { toHex } from '../../hashing/hex.js';
import { hashImage } from '../../image/hash-image.js';
import { REGION_SIGNAL_TYPE, regionSignals } from '../../robust/signals.js';
import type { ContentItem, NewContentItem, NewProvenance, NewSignal, Signal } from '../../store/store.js';
import { ApiError, badRequest, toApiError } from '../errors.js';
import type { Services } from '../services.js';
import { errorResponses, IdParam, SignalOutput, Warning } from '../schemas.js';
import { readUploads } from '../uploads.js';
import { decodeSignals, SignalInputItem } from './match.js';

/** Content items in one JSON request. */
const MAX_ITEMS_PER_REQUEST = 1000;
/** Hashes of one item: an image has four; a few more for re-encodings seen elsewhere. */
const MAX_SIGNALS_PER_ITEM = 20;
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
/** The service exists for abusive Telegram groups, so that is what an item's platform is unless the caller says otherwise. */
const DEFAULT_PLATFORM = 'telegram';

const Platform = Type.String({ minLength: 1, maxLength: 200, description: `Where it was seen; default ${DEFAULT_PLATFORM}.` });
const Group = Type.String({ minLength: 1, maxLength: 200, description: 'Group or channel name.' });
const MessageUrl = Type.String({ minLength: 1, maxLength: 10_000, description: 'Link to (or id of) the message that carried it.' });
const CapturedAt = Type.String({ format: 'date-time', description: 'When it was seen (ISO-8601).' });
const Metadata = Type.Record(Type.String(), Type.Unknown(), { description: 'Free JSON object (at most 64 KB).' });
const Note = Type.String({ maxLength: 10_000 });

const ProvenanceFields = {
  platform: Type.Optional(Platform),
  group: Type.Optional(Group),
  messageUrl: Type.Optional(MessageUrl),
  capturedAt: Type.Optional(CapturedAt),
  metadata: Type.Optional(Metadata),
  note: Type.Optional(Note),
};

const ContentJsonBody = Type.Object(
  {
    items: Type.Array(
      Type.Object(
        { signals: Type.Array(SignalInputItem, { minItems: 1, maxItems: MAX_SIGNALS_PER_ITEM }), ...ProvenanceFields },
        { additionalProperties: false },
      ),
      { minItems: 1, maxItems: MAX_ITEMS_PER_REQUEST },
    ),
  },
  { additionalProperties: false },
);

const MULTIPART_TEXT_FIELDS = ['platform', 'group', 'messageUrl', 'capturedAt', 'metadata', 'note'] as const;

const ContentMultipartBody = Type.Object(
  {
    image: Type.Array(Type.String({ contentEncoding: 'binary' }), { description: 'One or more images, each in a part named `image`.' }),
    platform: Type.Optional(Platform),
    group: Type.Optional(Group),
    messageUrl: Type.Optional(MessageUrl),
    capturedAt: Type.Optional(Type.String({ description: 'When they were seen (ISO-8601).' })),
    metadata: Type.Optional(Type.String({ description: 'A JSON object, as text.' })),
    note: Type.Optional(Note),
  },
  // Multipart bodies are read by the handler, so validation sees no body: accept that.
  { nullable: true },
);

const AddedItem = Type.Object({
  id: Type.Integer(),
  signals: Type.Array(SignalOutput, { description: 'The hashes stored for this item.' }),
  warnings: Type.Optional(Type.Array(Warning, { description: 'Images: LOW_QUALITY when only the exact hashes were stored.' })),
});

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
});

const ContentWithSignals = Type.Intersect([ContentOutput, Type.Object({ signals: Type.Array(SignalOutput) })]);

const ContentPatchBody = Type.Object(
  {
    platform: Type.Optional(Platform),
    group: Type.Optional(Type.Union([Group, Type.Null()])),
    messageUrl: Type.Optional(Type.Union([MessageUrl, Type.Null()])),
    capturedAt: Type.Optional(Type.Union([CapturedAt, Type.Null()])),
    metadata: Type.Optional(Metadata),
    note: Type.Optional(Type.Union([Note, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1, description: 'Fields to change; null clears a field.' },
);

const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })),
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'The `nextAfter` of the previous page.' })),
  },
  { additionalProperties: false },
);

type ProvenanceInput = { platform?: string; group?: string; messageUrl?: string; capturedAt?: string; metadata?: Record<string, unknown>; note?: string };

function newItem(fields: ProvenanceInput, signals: NewSignal[]): NewContentItem {
  return {
    provenance: { platform: fields.platform ?? DEFAULT_PLATFORM, channel: fields.group, messageRef: fields.messageUrl, capturedAt: fields.capturedAt },
    metadata: fields.metadata,
    note: fields.note,
    signals,
  };
}

function signalBody(s: NewSignal | Signal) {
  return { type: s.type, hash: toHex(s.hash), quality: s.quality ?? null };
}

function contentBody(item: ContentItem) {
  const p = item.provenance;
  return {
    id: item.id,
    bankId: item.bankId,
    platform: p.platform,
    group: p.channel,
    messageUrl: p.messageRef,
    capturedAt: p.capturedAt,
    metadata: item.metadata,
    note: item.note,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
}

/** A form field that must hold a JSON object. */
function metadataField(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest('INVALID_REQUEST', 'The form field "metadata" must be a JSON object; it is not valid JSON.');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('INVALID_REQUEST', 'The form field "metadata" must be a JSON object.');
  return value as Record<string, unknown>;
}

/**
 * RFC 3339 with real calendar dates and times, checked as the JSON body's
 * `format: date-time` is (ajv-formats); Date.parse alone takes almost any text
 * and rolls 2026-02-30 over to March.
 */
const isDateTime = (fullFormats['date-time'] as { validate: (text: string) => boolean }).validate;

function dateTimeField(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (!isDateTime(text) || Number.isNaN(Date.parse(text))) {
    throw badRequest('INVALID_REQUEST', 'The form field "capturedAt" must be an ISO-8601 date-time with a time zone, e.g. 2026-01-31T12:00:00Z.');
  }
  return text;
}

interface PreparedItem {
  item: NewContentItem;
  warnings?: Static<typeof Warning>[];
}

export async function contentRoutes(untyped: FastifyInstance, { services }: { services: Services }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  const { config, store } = services;

  /**
   * Every image is hashed before anything is stored, and one that cannot be
   * read fails the whole request (naming it) with nothing stored: the caller
   * resends the good ones, rather than working out which items exist.
   */
  async function imageItems(request: FastifyRequest): Promise<PreparedItem[]> {
    const { files, fields } = await readUploads(request, {
      fileField: 'image',
      maxFiles: config.MAX_FILES_PER_REQUEST,
      maxTotalBytes: config.MAX_REQUEST_BYTES,
      textFields: MULTIPART_TEXT_FIELDS,
    });
    const provenance: ProvenanceInput = { ...fields, capturedAt: dateTimeField(fields.capturedAt), metadata: metadataField(fields.metadata) };
    const prepared: PreparedItem[] = [];
    for (const [i, file] of files.entries()) {
      let signals;
      try {
        // Region hashes too, so that robust queries find crops, screenshots and the like of this image.
        signals = await hashImage(file.bytes, {
          decodePath: config.DECODE_PATH,
          limits: { maxBytes: config.MAX_IMAGE_BYTES, maxPixels: config.MAX_IMAGE_PIXELS },
          regions: 'content',
        });
      } catch (err) {
        const api = toApiError(err);
        if (!api) throw err;
        throw new ApiError(api.statusCode, api.code, `images[${i}] (${JSON.stringify(file.filename.slice(0, 200))}): ${api.message} Nothing was stored.`);
      }
      for (const type of ['pdq', 'blockhash', 'md5', 'sha256']) app.metrics.hashesComputed.inc({ signal_type: type });
      app.metrics.hashesComputed.inc({ signal_type: REGION_SIGNAL_TYPE }, signals.regions!.length);
      const pdq = signals.pdq!;
      const exact: NewSignal[] = [
        { type: 'md5', hash: signals.md5! },
        { type: 'sha256', hash: signals.sha256! },
      ];
      // Same rule as matching: the perceptual hashes of a featureless image would
      // match strangers' featureless images, so only its exact hashes are kept.
      if (pdq.lowQuality) {
        prepared.push({
          item: newItem(provenance, exact),
          warnings: [
            {
              code: 'LOW_QUALITY',
              message: `PDQ quality ${pdq.quality} is under 50: too little detail for perceptual matching, so only exact copies of this image will match.`,
            },
          ],
        });
      } else {
        const perceptual: NewSignal[] = [
          { type: 'pdq', hash: pdq.hash, quality: pdq.quality },
          { type: 'blockhash', hash: signals.blockhash! },
        ];
        prepared.push({ item: newItem(provenance, [...perceptual, ...exact, ...regionSignals(signals)]), warnings: [] });
      }
    }
    return prepared;
  }

  function hashItems(body: Static<typeof ContentJsonBody>): PreparedItem[] {
    return body.items.map(({ signals, ...fields }, i) => ({
      item: newItem(
        fields,
        decodeSignals(signals, `items[${i}].signals`).map(({ type, hash }) => ({ type, hash })),
      ),
    }));
  }

  const common = { config: { permission: 'content' as const } };

  app.post(
    '/v1/banks/:id/content',
    {
      ...common,
      schema: {
        tags: ['content'],
        summary: 'Add captured content to a bank; it is matchable when this returns',
        description:
          'Either multipart/form-data with one or more images in `image` parts ' +
          `(at most ${config.MAX_FILES_PER_REQUEST} files and ${Math.round(config.MAX_REQUEST_BYTES / 1048576)} MB together) and provenance fields for all of them ` +
          '(`platform`, `group`, `messageUrl`, `capturedAt`, `metadata` as a JSON object in text, `note`); or JSON ' +
          `\`{items: [{signals: [{type, hash}], platform?, group?, messageUrl?, capturedAt?, metadata?, note?}]}\` with 1 to ${MAX_ITEMS_PER_REQUEST} items.\n\n` +
          `\`platform\` defaults to ${DEFAULT_PLATFORM}. Items come back in request order with the hashes stored for each.\n\n` +
          'Images are hashed in memory and never stored. Each is stored as PDQ (with its quality), blockhash, MD5 and SHA-256; ' +
          'an image with PDQ quality under 50 is stored as MD5 and SHA-256 only, with a LOW_QUALITY warning.\n\n' +
          'All or nothing: every image is hashed (and every hash checked) before anything is stored; if one fails, the request ' +
          'fails with that error, the message names the image (`images[i]` and its file name) or item (`items[i]`), and nothing is stored.',
        params: IdParam,
        body: { content: { 'application/json': { schema: ContentJsonBody }, 'multipart/form-data': { schema: ContentMultipartBody } } },
        response: { 201: Type.Object({ items: Type.Array(AddedItem) }), ...errorResponses(400, 401, 403, 404, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const bankId = request.params.id;
      // Refuse an unknown bank before reading and hashing up to a hundred images for nothing.
      store.getBank(bankId);
      let prepared: PreparedItem[];
      if (request.isMultipart()) prepared = await imageItems(request);
      else if (request.body) prepared = hashItems(request.body as Static<typeof ContentJsonBody>);
      else throw badRequest('INVALID_REQUEST', 'Send JSON {"items": [{"signals": [...]}]} or images as multipart/form-data in "image" parts.');

      const { contentIds } = store.addContent(bankId, prepared.map((p) => p.item));
      return reply.code(201).send({
        items: prepared.map((p, i) => ({
          id: contentIds[i],
          signals: p.item.signals!.map(signalBody),
          ...(p.warnings ? { warnings: p.warnings } : {}),
        })),
      });
    },
  );

  app.get(
    '/v1/banks/:id/content',
    {
      ...common,
      schema: {
        tags: ['content'],
        summary: "A bank's content, oldest first, a page at a time",
        description: 'Pass the `nextAfter` of one page as `after` to get the next; it is null on the last page.',
        params: IdParam,
        querystring: PageQuery,
        response: {
          200: Type.Object({ items: Type.Array(ContentOutput), nextAfter: Type.Union([Type.Integer(), Type.Null()]) }),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? DEFAULT_PAGE;
      // One more than asked tells whether another page exists.
      const items = store.listContent(request.params.id, { limit: limit + 1, afterId: request.query.after ?? 0 });
      const page = items.slice(0, limit);
      return { items: page.map(contentBody), nextAfter: items.length > limit ? page[page.length - 1].id : null };
    },
  );

  const withSignals = (item: ContentItem) => ({
    ...contentBody(item),
    signals: store.listSignals({ kind: 'content', contentId: item.id }).map(signalBody),
  });

  app.get(
    '/v1/content/:id',
    {
      ...common,
      schema: {
        tags: ['content'],
        summary: 'One content item with its hashes',
        params: IdParam,
        response: { 200: ContentWithSignals, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => withSignals(store.getContent(request.params.id)),
  );

  app.patch(
    '/v1/content/:id',
    {
      ...common,
      schema: {
        tags: ['content'],
        summary: "Correct a content item's provenance, metadata or note (its hashes stay)",
        params: IdParam,
        body: ContentPatchBody,
        response: { 200: ContentWithSignals, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { platform, group, messageUrl, capturedAt, metadata, note } = request.body;
      const changesProvenance = [platform, group, messageUrl, capturedAt].some((v) => v !== undefined);
      let provenance: NewProvenance | undefined;
      if (changesProvenance) {
        const current = store.getContent(id).provenance;
        provenance = {
          platform: platform ?? current.platform,
          channel: group === undefined ? current.channel : group,
          messageRef: messageUrl === undefined ? current.messageRef : messageUrl,
          capturedAt: capturedAt === undefined ? current.capturedAt : capturedAt,
        };
      }
      return withSignals(store.updateContent(id, { provenance, metadata, note }));
    },
  );

  app.delete(
    '/v1/content/:id',
    {
      ...common,
      schema: {
        tags: ['content'],
        summary: 'Delete a content item; its hashes stop matching at once',
        params: IdParam,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      store.deleteContent(request.params.id);
      return reply.code(204).send(null);
    },
  );
}
