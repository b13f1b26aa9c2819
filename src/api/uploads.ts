/**
 * Multipart uploads, kept in memory with per-file, per-request, file-count and
 * all-requests-together limits; never a temp file. Text fields come back as
 * strings.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type TProperties, Type } from 'typebox';
import { describeFile } from '../services/hashing.js';
import { ApiError, badRequest } from './errors.js';

declare module 'fastify' {
  interface FastifyInstance {
    uploadMemory: UploadMemory;
  }
}

/**
 * The bytes of uploads that all requests together hold in memory, bounded:
 * each request may hold up to MAX_REQUEST_BYTES until it is answered, so
 * without a bound a few parallel uploads could exhaust the process's memory.
 * A file's largest possible size is reserved before it is read and the rest
 * given back once its size is known.
 */
export class UploadMemory {
  private held = 0;
  private readonly byRequest = new Map<FastifyRequest, number>();

  /** `maxFileBytes`: the most one file can hold (the multipart plugin's fileSize limit). */
  constructor(
    readonly limit: number,
    readonly maxFileBytes: number,
  ) {}

  /** Reserves `bytes` for `request`; false, reserving nothing, if that would pass the limit. */
  reserve(request: FastifyRequest, bytes: number): boolean {
    if (this.held + bytes > this.limit) return false;
    this.held += bytes;
    this.byRequest.set(request, (this.byRequest.get(request) ?? 0) + bytes);
    return true;
  }

  /** Gives back `bytes` of what `request` reserved. */
  giveBack(request: FastifyRequest, bytes: number): void {
    const reserved = this.byRequest.get(request) ?? 0;
    const returned = Math.min(bytes, reserved);
    this.held -= returned;
    this.byRequest.set(request, reserved - returned);
  }

  /** Gives back everything `request` holds (once it is answered or gone). */
  release(request: FastifyRequest): void {
    if (this.byRequest.size === 0) return;
    this.held -= this.byRequest.get(request) ?? 0;
    this.byRequest.delete(request);
  }

  get heldBytes(): number {
    return this.held;
  }
}

/** Decorates the app with its UploadMemory and gives each request's share back when it is answered or aborted. */
export const uploadMemory = fp(async (app: FastifyInstance, { limit, maxFileBytes }: { limit: number; maxFileBytes: number }) => {
  const memory = new UploadMemory(limit, maxFileBytes);
  app.decorate('uploadMemory', memory);
  // Every request passes here: plain callbacks, not async functions, to cost next to nothing.
  const release = (request: FastifyRequest, done: () => void) => {
    memory.release(request);
    done();
  };
  app.addHook('onResponse', (request, _reply, done) => release(request, done));
  app.addHook('onRequestAbort', (request, done) => release(request, done));
});

export interface UploadedFile {
  filename: string;
  /** Empty for a file over the size limit (see `tooLarge`). */
  bytes: Uint8Array;
  /** Larger than MAX_IMAGE_BYTES: only with `oversizeFilesAreItems`, otherwise the request is refused. */
  tooLarge?: boolean;
}

export interface Uploads {
  files: UploadedFile[];
  fields: Record<string, string>;
}

export interface UploadRules {
  /** Name of the file field ("image"). */
  fileField: string;
  maxFiles: number;
  maxTotalBytes: number;
  /**
   * A file over the size limit comes back marked `tooLarge` instead of
   * refusing the request (batches: one bad item never fails the batch).
   */
  oversizeFilesAreItems?: boolean;
  /** Text fields the route understands; any other field is refused. */
  textFields: readonly string[];
}

export function requireMultipart(request: FastifyRequest, fileField: string): void {
  if (!request.isMultipart()) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `Send the image as multipart/form-data in the field "${fileField}".`);
  }
}

const tooManyFiles = (max: number) => new ApiError(413, 'TOO_MANY_FILES', max === 1 ? 'Send one image per request.' : `At most ${max} images per request.`);

/**
 * The files and text fields of a multipart request, under `rules`. A route's
 * `maxFiles` is at most the multipart plugin's file limit
 * (MAX_FILES_PER_REQUEST), so when the plugin refuses a file first, the
 * route's limit is the one reached.
 */
export async function readUploads(request: FastifyRequest, rules: UploadRules): Promise<Uploads> {
  try {
    return await readParts(request, rules);
  } catch (err) {
    if ((err as { code?: string }).code === 'FST_FILES_LIMIT') throw tooManyFiles(rules.maxFiles);
    throw err;
  }
}

async function readParts(request: FastifyRequest, rules: UploadRules): Promise<Uploads> {
  const files: UploadedFile[] = [];
  const fields: Record<string, string> = Object.create(null);
  let total = 0;
  // Files over the size limit come cut off (the plugin does not throw): checked below, per file.
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== rules.fileField) {
        part.file.resume();
        const which = part.fieldname ? `Unexpected file field "${part.fieldname}"` : 'A file part has no field name';
        throw badRequest('UNEXPECTED_FIELD', `${which}; send images in the "${rules.fileField}" field.`);
      }
      if (files.length >= rules.maxFiles) {
        part.file.resume();
        throw tooManyFiles(rules.maxFiles);
      }
      const memory = request.server.uploadMemory;
      if (!memory.reserve(request, memory.maxFileBytes)) {
        part.file.resume();
        throw new ApiError(503, 'OVERLOADED', 'The service is receiving too many uploads at once; try again shortly.', { 'retry-after': '10' });
      }
      const read = await part.toBuffer();
      const tooLarge = part.file.truncated;
      // A file cut off at the limit is useless: its bytes are let go at once.
      const bytes = tooLarge ? Buffer.alloc(0) : read;
      memory.giveBack(request, memory.maxFileBytes - bytes.length);
      if (tooLarge && !rules.oversizeFilesAreItems) {
        throw new ApiError(413, 'IMAGE_TOO_LARGE', `${describeFile(files.length, part.filename)} is larger than the limit of ${formatBytes(memory.maxFileBytes)}.`);
      }
      total += bytes.length;
      if (total > rules.maxTotalBytes) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `The images together exceed ${formatBytes(rules.maxTotalBytes)}.`);
      files.push({ filename: part.filename, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), ...(tooLarge ? { tooLarge } : {}) });
    } else {
      if (part.fieldname === rules.fileField) {
        throw badRequest('UNEXPECTED_FIELD', `The "${rules.fileField}" part has no filename, so it was read as text; send the image as a file (with a filename).`);
      }
      if (!rules.textFields.includes(part.fieldname)) throw badRequest('UNEXPECTED_FIELD', `Unexpected form field "${part.fieldname}".`);
      if (part.fieldname in fields) throw badRequest('DUPLICATE_FIELD', `The form field "${part.fieldname}" is given twice.`);
      // A part sent as application/json arrives parsed: this API takes form fields as text only.
      if (typeof part.value !== 'string') throw badRequest('INVALID_REQUEST', `Send the form field "${part.fieldname}" as plain text, not as application/json.`);
      fields[part.fieldname] = part.value;
    }
  }
  if (files.length === 0) throw badRequest('NO_IMAGE', `Send at least one image in the "${rules.fileField}" field.`);
  return { files, fields };
}

function formatBytes(bytes: number): string {
  return bytes >= 1048576 ? `${Math.round((bytes / 1048576) * 10) / 10} MB` : `${Math.round(bytes / 1024)} KB`;
}

/**
 * The schema of a multipart body, for the OpenAPI description. Multipart
 * bodies are read by the handler (readUploads), so validation sees no body
 * at all: the schema accepts that.
 */
export function multipartBody<P extends TProperties>(properties: P) {
  return Type.Object(properties, { nullable: true });
}
