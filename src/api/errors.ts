/**
 * Every error leaves the API as `{error: {code, message}}` with a stable code
 * and the right status; nothing internal (stack, SQL, paths) reaches clients.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { InvalidHashError } from '../hashing/hex.js';
import { ImageError } from '../image/errors.js';
import { QueryError } from '../match/query.js';
import { ServiceError, type ServiceErrorCode } from '../services/errors.js';
import { StoreError } from '../store/errors.js';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (code: string, message: string) => new ApiError(400, code, message);

/** A POST without a body (so without a Content-Type) runs no schema: refused with what to send. */
export const noBody = (what: string) => badRequest('INVALID_REQUEST', what);

const IMAGE_STATUS: Record<ImageError['code'], number> = {
  EMPTY_IMAGE: 400,
  IMAGE_TOO_LARGE: 413,
  IMAGE_TOO_SMALL: 422,
  UNSUPPORTED_FORMAT: 415,
  CORRUPT_IMAGE: 422,
  IMAGE_TOO_COMPLEX: 422,
};

/** The store's refusals in the API's codes: input the store refuses is INVALID_REQUEST, as the schemas' refusals are. */
const STORE_ERRORS: Record<Exclude<StoreError['code'], 'MIGRATION_MISMATCH'>, [number, string]> = {
  INVALID_HASH: [400, 'INVALID_HASH'],
  INVALID_INPUT: [400, 'INVALID_REQUEST'],
  NOT_FOUND: [404, 'NOT_FOUND'],
  CONFLICT: [409, 'CONFLICT'],
};

const SERVICE_STATUS: Record<ServiceErrorCode, number> = {
  INVALID_REQUEST: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  TOO_MANY_HASHES: 413,
  LOW_QUALITY: 422,
  RATE_LIMITED: 429,
  NOT_READY: 503,
  INDEX_UNAVAILABLE: 503,
};

/** Fastify's and its plugins' own error codes, in words a person understands. */
const FRAMEWORK: Record<string, [number, string, string?]> = {
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'MALFORMED_JSON', 'The request body is not valid JSON.'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'MALFORMED_JSON', 'The request body is empty; send JSON.'],
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE', 'The request body is too large.'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE', 'Send application/json or multipart/form-data.'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'BAD_REQUEST', 'The Content-Length header does not match the body.'],
  FST_REQ_FILE_TOO_LARGE: [413, 'IMAGE_TOO_LARGE', 'An uploaded file is larger than the limit.'],
  FST_FILES_LIMIT: [413, 'TOO_MANY_FILES', 'Too many files in one request.'],
  FST_FIELDS_LIMIT: [413, 'TOO_MANY_FIELDS', 'Too many form fields in one request.'],
  FST_PARTS_LIMIT: [413, 'TOO_MANY_FIELDS', 'Too many parts in one request.'],
  FST_PROTO_VIOLATION: [400, 'BAD_REQUEST', 'A form field has a forbidden name.'],
  FST_INVALID_JSON_FIELD_ERROR: [400, 'INVALID_REQUEST', 'Send form fields as plain text: a field sent as application/json is not valid JSON.'],
  FST_INVALID_MULTIPART_CONTENT_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the images as multipart/form-data.'],
  FST_ERR_VALIDATION: [400, 'INVALID_REQUEST', undefined],
};

export function toApiError(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  if (err instanceof ImageError) return new ApiError(IMAGE_STATUS[err.code], err.code, err.message);
  if (err instanceof InvalidHashError || err instanceof QueryError) return new ApiError(400, err.code, err.message);
  if (err instanceof ServiceError) {
    return new ApiError(SERVICE_STATUS[err.code], err.code, err.message, err.retryAfterSeconds === undefined ? {} : { 'retry-after': String(err.retryAfterSeconds) });
  }
  if (err instanceof StoreError && err.code !== 'MIGRATION_MISMATCH') {
    const [status, code] = STORE_ERRORS[err.code];
    return new ApiError(status, code, err.message);
  }
  const e = err as FastifyError;
  // The client hung up mid-body: nothing is wrong here, and no one is left to answer.
  if (e?.code === 'ECONNRESET' || e?.message === 'aborted') return new ApiError(400, 'REQUEST_ABORTED', 'The request ended before its body was complete.');
  if (e?.validation) return new ApiError(400, 'INVALID_REQUEST', `Invalid request: ${describeValidation(e)}`);
  const known = e?.code ? FRAMEWORK[e.code] : undefined;
  if (known) return new ApiError(known[0], known[1], known[2] ?? e.message);
  // Busboy's own complaints about a broken multipart body.
  if (/multipart|boundary|Unexpected end of form|Malformed part header/i.test(e?.message ?? '')) {
    return new ApiError(400, 'MALFORMED_MULTIPART', 'The multipart body is malformed or incomplete.');
  }
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new ApiError(e.statusCode, e.statusCode === 429 ? 'RATE_LIMITED' : 'BAD_REQUEST', e.message);
  }
  return null;
}

/** "/signals/1/type" as a person reads it: "signals[1].type". */
function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part.replace(/~1/g, '/').replace(/~0/g, '~')}`))
    .join('')
    .replace(/^\./, '');
}

/** Ajv's "must NOT have fewer than 1 items" in plain words, singular or plural. */
const COUNT_LIMITS: Record<string, string> = { minItems: 'at least', maxItems: 'at most' };

/**
 * Fastify's message for a schema refusal, with what a person needs to fix an
 * enum: the field as written in the body, the value given and the values
 * allowed ("signals[1].type "phash" must be one of pdq, blockhash, ..."); and
 * list lengths in plain words ("signals must have at least 1 item").
 */
function describeValidation(e: FastifyError): string {
  const first = e.validation?.[0];
  if (!first || !(first.keyword === 'enum' || first.keyword in COUNT_LIMITS)) return e.message;
  const where = `${e.validationContext ?? 'body'}${first.instancePath ? ` ${fieldPath(first.instancePath)}` : ''}`;
  if (first.keyword !== 'enum') {
    const limit = (first.params as { limit: number }).limit;
    return `${where} must have ${COUNT_LIMITS[first.keyword]} ${limit} ${limit === 1 ? 'item' : 'items'}`;
  }
  const allowed = (first.params as { allowedValues?: unknown[] }).allowedValues ?? [];
  const given = (first as { data?: unknown }).data;
  return `${where}${given === undefined ? '' : ` ${JSON.stringify(given)}`} must be one of ${allowed.join(', ')}`;
}

export function sendError(reply: FastifyReply, err: ApiError) {
  return reply.code(err.statusCode).headers(err.headers).send({ error: { code: err.code, message: err.message } });
}

export const errorHandling = fp(async (app: FastifyInstance) => {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const api = toApiError(err);
    if (api) {
      request.log.info({ code: api.code, status: api.statusCode }, 'request refused');
      return sendError(reply, api);
    }
    request.log.error({ err }, 'unexpected error');
    return sendError(reply, new ApiError(500, 'INTERNAL', 'Something went wrong on our side; nothing you sent was stored.'));
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new ApiError(404, 'NOT_FOUND', `No such endpoint: ${request.method} ${request.url.split('?')[0]}`)),
  );
});
