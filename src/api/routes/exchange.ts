/**
 * Hash lists in and out of a bank, or of a victim's case with its PIN, in the
 * formats NGOs and platforms trade (docs/exchange.md): bodies and answers
 * stream, so a list of millions of hashes never sits in memory.
 */
import { Readable, Transform } from 'node:stream';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { CASE_IMPORT_MAX_BYTES } from '../../services/cases.js';
import { EXCHANGE_FORMATS, type ExportStream } from '../../services/exchange.js';
import type { Services } from '../../services/services.js';
import { ApiError } from '../errors.js';
import { errorResponses, IdParam } from '../schemas.js';
import { CaseNumberParam, PinHeader, pinClient } from './cases.js';

const tags = ['exchange'];
const Format = Type.Enum([...EXCHANGE_FORMATS], {
  description: 'hma-json: HMA bank content; te-file: python-threatexchange local file; te-csv: its CSV; stopncii: StopNCII-style hash records; csv: plain CSV with provenance.',
});

const ImportReport = Type.Object(
  {
    format: Format,
    strict: Type.Boolean(),
    added: Type.Integer({ description: 'Records that added an item.' }),
    duplicate: Type.Integer({ description: 'Records already in the bank as they are (a removal: already absent).' }),
    updated: Type.Integer({ description: 'Records that updated a stored item in place (a newer StopNCII record).' }),
    removed: Type.Integer({ description: 'Withdrawn or deleted StopNCII records whose items were removed.' }),
    rejected: Type.Integer({ description: 'Malformed rows, skipped.' }),
    signalsAdded: Type.Integer({ description: 'Hashes stored.' }),
    errors: Type.Array(Type.Object({ line: Type.Integer(), reason: Type.String() }), { description: 'Why rows were rejected (the first 1,000), by line; JSON formats by record number.' }),
    nextPageToken: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'A StopNCII page: the token of the next page, null on the last.' })),
  },
  { $id: 'ImportReport', title: 'ImportReport', description: 'What the import did: records added, duplicate, updated, removed and rejected (with why).' },
);

/** A body read as a stream (never validated as a value), so its schema only documents it: a file, whatever its type. */
const FileBody = (description: string) => Type.Unsafe<unknown>({ contentEncoding: 'binary', description });
const ImportFile = FileBody('The hash list file.');
const IMPORT_TYPES = ['application/json', 'text/csv', 'text/plain', 'application/octet-stream'];
const ImportQuery = Type.Object({ format: Format, strict: Type.Optional(Type.Boolean({ default: false })) }, { additionalProperties: false });
const ImportBody = { content: Object.fromEntries(IMPORT_TYPES.map((type) => [type, { schema: ImportFile }])) };
const READ_AS_IT_ARRIVES =
  'The body is the file itself (text/csv, text/plain, application/json or application/octet-stream), read as it arrives. Malformed rows are skipped and reported by line; ' +
  'with `strict=true` the first one refuses the whole file (400) and nothing is imported.';

const importBank = {
  config: { permission: 'banks' as const },
  schema: {
    tags,
    operationId: 'importBank',
    summary: 'Import a hash list into a bank',
    description:
      `${READ_AS_IT_ARRIVES} Hashes already in the bank are counted as duplicates. ` +
      'StopNCII records whose hashStatus is Withdrawn or Deleted remove the items holding that hash; a newer record updates the stored one in place.',
    params: IdParam,
    querystring: ImportQuery,
    body: ImportBody,
    response: { 200: Type.Ref('ImportReport'), ...errorResponses(400, 401, 403, 404, 413, 415) },
  },
};

const exportBank = {
  config: { permission: 'export' as const },
  schema: {
    tags,
    operationId: 'exportBank',
    summary: "Export a bank's hashes",
    description: 'Streams the bank in `format`. `limit` pages the export (StopNCII pages end with the `nextPageToken` to pass as `pageToken`).',
    params: IdParam,
    querystring: Type.Object(
      { format: Format, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })), pageToken: Type.Optional(Type.String({ maxLength: 20 })) },
      { additionalProperties: false },
    ),
    response: { 200: Type.String({ description: 'The file, streamed.' }), ...errorResponses(400, 401, 403, 404) },
  },
};

const caseTags = ['cases', 'exchange'];
const CASE_PIN = 'Needs the PIN in the header `X-Case-Pin`: an unknown case number and a wrong PIN get the same 404, and wrong PINs count toward the same limits as reading the case (429 with Retry-After).';

const importCase = {
  config: { permission: 'cases' as const },
  schema: {
    tags: caseTags,
    operationId: 'importCase',
    summary: 'Import a hash list into your case, with its PIN',
    description:
      `${CASE_PIN} ${READ_AS_IT_ARRIVES} At most ${CASE_IMPORT_MAX_BYTES / 1048576} MiB (or MAX_IMPORT_BYTES if lower). ` +
      'Only the hashes are kept, under the rules of a case: a PDQ hash of known quality under 50 and any past the hashes a case may hold are rejected by line. ' +
      'StopNCII records whose hashStatus is Withdrawn or Deleted take that hash out of the case. Withdrawing the case deletes everything imported.',
    params: CaseNumberParam,
    headers: PinHeader,
    querystring: ImportQuery,
    body: ImportBody,
    response: { 200: Type.Ref('ImportReport'), ...errorResponses(400, 401, 404, 413, 415, 429) },
  },
};

const exportCase = {
  config: { permission: 'cases' as const },
  schema: {
    tags: caseTags,
    operationId: 'exportCase',
    summary: "Export your case's hashes, with its PIN",
    description:
      `${CASE_PIN} Streams the case's hashes in \`format\`, one record a hash, and nothing that names the case (no case number; StopNCII's lastModtimestamp is the day it last changed). ` +
      'StopNCII carries its PDQ and MD5 hashes only; csv carries quality, with empty provenance columns.',
    params: CaseNumberParam,
    headers: PinHeader,
    querystring: Type.Object({ format: Format }, { additionalProperties: false }),
    response: { 200: Type.String({ description: 'The file, streamed.' }), ...errorResponses(400, 401, 404, 429) },
  },
};

const TelegramReport = Type.Object(
  {
    chats: Type.Integer(),
    messages: Type.Integer({ description: 'Messages with a photo, image file, video or animation.' }),
    added: Type.Integer(),
    existing: Type.Integer({ description: 'Messages the bank already has (an earlier import of the same chat).' }),
    notIncluded: Type.Integer({ description: 'Messages whose file the export left out ("File not included").' }),
    images: Type.Integer(),
    videos: Type.Integer(),
    signalsAdded: Type.Integer(),
    failed: Type.Array(Type.Object({ chatId: Type.Union([Type.Integer(), Type.Null()]), messageId: Type.Integer(), reason: Type.String() })),
  },
  { $id: 'TelegramReport', title: 'TelegramReport', description: 'What the import did: messages added, already in the bank, left out of the export or failed (with why).' },
);

const importTelegram = {
  config: { permission: 'banks' as const },
  schema: {
    tags,
    operationId: 'importTelegram',
    summary: 'Import a zipped Telegram Desktop chat export into a bank',
    description:
      'The body is a zip (application/zip) of the export folder (Telegram Desktop, "Machine-readable JSON"), held in memory while it is read (MAX_TELEGRAM_ZIP_BYTES) and never written. ' +
      'Photos and image files are hashed as captured images are, videos and animations by MD5 and SHA-256; each message becomes one item with its provenance. Messages the bank has are skipped.',
    params: IdParam,
    querystring: Type.Object({ username: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_]{4,32}$', description: "The chat's public username, for t.me/<username>/<id> links." })) }, { additionalProperties: false }),
    body: { content: { 'application/zip': { schema: FileBody('The zipped export folder.') } } },
    response: { 200: Type.Ref('TelegramReport'), ...errorResponses(400, 401, 403, 404, 413, 415, 422) },
  },
};

/** The whole body in memory, refused past `limit` bytes. */
async function bodyBytes(body: Readable, limit: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `The zip is larger than ${limit} bytes (MAX_TELEGRAM_ZIP_BYTES).`);
    chunks.push(chunk as Buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

const notAFile = () => new ApiError(400, 'INVALID_REQUEST', 'Send the file as the body (text/csv, text/plain, application/json, application/zip or application/octet-stream).');

/** The body as it arrives, refused past `limit` bytes (413) whether or not it says its length; `setting` names where the limit comes from. */
function limitedBody(request: FastifyRequest, payload: NodeJS.ReadableStream, limit: number, setting: string): Readable {
  const tooLarge = () => new ApiError(413, 'PAYLOAD_TOO_LARGE', `The body is larger than ${limit} bytes (${setting}).`);
  if (Number(request.headers['content-length'] ?? 0) > limit) throw tooLarge();
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > limit ? tooLarge() : null, chunk);
    },
  });
  (payload as Readable).on('error', (err) => counter.destroy(err)).pipe(counter);
  // Until its reader starts (a case route checks the PIN first) an error is kept for the reader, not thrown at the process.
  counter.on('error', () => {});
  return counter;
}

/** The largest body a route reads: a case's hash list is a case's worth of hashes, a bank's any size up to MAX_IMPORT_BYTES. */
function bodyLimit(request: FastifyRequest, maxImportBytes: number): [limit: number, setting: string] {
  if (!request.routeOptions.url?.startsWith('/v1/cases/') || maxImportBytes <= CASE_IMPORT_MAX_BYTES) return [maxImportBytes, 'MAX_IMPORT_BYTES'];
  return [CASE_IMPORT_MAX_BYTES, "a case's hash list"];
}

/** An export as a download; the 200 schema documents the text, and a stream is sent as it is, never serialized. */
function sendFile(reply: FastifyReply, out: ExportStream) {
  const file = Readable.from(out.chunks);
  return reply.type(out.contentType).header('content-disposition', `attachment; filename="${out.filename}"`).send(file as unknown as string);
}

export async function exchangeRoutes(untyped: FastifyInstance, { services }: { services: Services }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(ImportReport);
  app.addSchema(TelegramReport);
  // In this plugin only: bodies reach the route as streams, whatever their type.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser([...IMPORT_TYPES, 'application/zip'], (request, payload, done) => {
    try {
      done(null, limitedBody(request, payload, ...bodyLimit(request, services.config.MAX_IMPORT_BYTES)));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.post('/v1/banks/:id/import', importBank, async (request) => {
    if (!(request.body instanceof Readable)) throw notAFile();
    return services.exchange.importToBank(request.params.id, request.body, { format: request.query.format, strict: request.query.strict });
  });
  app.post('/v1/banks/:id/telegram', importTelegram, async (request) => {
    if (!(request.body instanceof Readable)) throw notAFile();
    const zip = await bodyBytes(request.body, services.config.MAX_TELEGRAM_ZIP_BYTES);
    return services.telegram.importZip(request.params.id, zip, { username: request.query.username });
  });
  app.get('/v1/banks/:id/export', exportBank, async (request, reply) => sendFile(reply, services.exchange.exportBank(request.params.id, request.query)));
  app.post('/v1/cases/:caseNumber/import', importCase, async (request) => {
    if (!(request.body instanceof Readable)) throw notAFile();
    return services.exchange.importToVictimCase(request.params.caseNumber, request.headers['x-case-pin'], pinClient(request), request.body, request.query);
  });
  app.get('/v1/cases/:caseNumber/export', exportCase, async (request, reply) =>
    sendFile(reply, await services.exchange.exportVictimCase(request.params.caseNumber, request.headers['x-case-pin'], pinClient(request), request.query)),
  );
}
