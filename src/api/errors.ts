/**
 * Every error leaves the API as `{error: {code, message}}` with a stable code
 * and the right status; nothing internal (stack, SQL, paths) reaches clients.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { InvalidHashError } from '../hashing/hex.js';
import { ImageError } from '../image/errors.js';
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
export const notFound = (message: string) => new ApiError(404, 'NOT_FOUND', message);

const IMAGE_STATUS: Record<ImageError['code'], number> = {
  EMPTY_IMAGE: 400,
  IMAGE_TOO_LARGE: 413,
  IMAGE_TOO_SMALL: 422,
  UNSUPPORTED_FORMAT: 415,
  CORRUPT_IMAGE: 422,
  IMAGE_TOO_COMPLEX: 422,
};

const STORE_STATUS: Record<StoreError['code'], number> = {
  INVALID_HASH: 400,
  INVALID_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  MIGRATION_MISMATCH: 500,
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
  if (err instanceof InvalidHashError) return new ApiError(400, 'INVALID_HASH', err.message);
  if (err instanceof StoreError && err.code !== 'MIGRATION_MISMATCH') return new ApiError(STORE_STATUS[err.code], err.code, err.message);
  const e = err as FastifyError;
  // The client hung up mid-body: nothing is wrong here, and no one is left to answer.
  if (e?.code === 'ECONNRESET' || e?.message === 'aborted') return new ApiError(400, 'REQUEST_ABORTED', 'The request ended before its body was complete.');
  if (e?.validation) return new ApiError(400, 'INVALID_REQUEST', `Invalid request: ${e.message}`);
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
