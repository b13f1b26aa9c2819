/**
 * Multipart uploads, kept in memory with per-file, per-request and file-count
 * limits; never a temp file. Text fields come back as strings.
 */
import type { FastifyRequest } from 'fastify';
import { ApiError, badRequest } from './errors.js';

export interface UploadedFile {
  filename: string;
  bytes: Uint8Array;
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
  /** Text fields the route understands; any other field is refused. */
  textFields: readonly string[];
}

export function requireMultipart(request: FastifyRequest, fileField: string): void {
  if (!request.isMultipart()) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `Send the image as multipart/form-data in the field "${fileField}".`);
  }
}

export async function readUploads(request: FastifyRequest, rules: UploadRules): Promise<Uploads> {
  const files: UploadedFile[] = [];
  const fields: Record<string, string> = Object.create(null);
  let total = 0;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== rules.fileField) {
        part.file.resume();
        throw badRequest('UNEXPECTED_FIELD', `Unexpected file field "${part.fieldname}"; send images in the "${rules.fileField}" field.`);
      }
      if (files.length >= rules.maxFiles) {
        part.file.resume();
        throw new ApiError(413, 'TOO_MANY_FILES', `At most ${rules.maxFiles} images per request.`);
      }
      const bytes = await part.toBuffer();
      total += bytes.length;
      if (total > rules.maxTotalBytes) throw new ApiError(413, 'PAYLOAD_TOO_LARGE', `The images together exceed ${Math.round(rules.maxTotalBytes / 1048576)} MB.`);
      files.push({ filename: part.filename, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) });
    } else {
      if (!rules.textFields.includes(part.fieldname)) throw badRequest('UNEXPECTED_FIELD', `Unexpected form field "${part.fieldname}".`);
      if (part.fieldname in fields) throw badRequest('DUPLICATE_FIELD', `The form field "${part.fieldname}" is given twice.`);
      fields[part.fieldname] = String(part.value);
    }
  }
  if (files.length === 0) throw badRequest('NO_IMAGE', `Send at least one image in the "${rules.fileField}" field.`);
  return { files, fields };
}

/** A form field read as a boolean ("true"/"false"/"1"/"0"). */
export function booleanField(fields: Record<string, string>, name: string): boolean | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw badRequest('INVALID_REQUEST', `The form field "${name}" must be true or false.`);
}

/** A form field read as a whole number in a range. */
export function integerField(fields: Record<string, string>, name: string, min: number, max: number): number | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw badRequest('INVALID_REQUEST', `The form field "${name}" must be a whole number from ${min} to ${max}.`);
  return n;
}
