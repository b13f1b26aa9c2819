/** multipart/form-data bodies built by hand, so tests control every byte (including broken ones). */
import { randomBytes } from 'node:crypto';

export interface FormPart {
  name: string;
  /** Text fields have no filename; file parts have one. */
  filename?: string;
  type?: string;
  data: string | Uint8Array;
}

export function multipartBody(parts: FormPart[], headers: Record<string, string> = {}): { payload: Buffer; headers: Record<string, string> } {
  const boundary = `----ncii${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename === undefined ? '' : `; filename="${part.filename}"`}`;
    const type = part.type ? `\r\nContent-Type: ${part.type}` : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}${type}\r\n\r\n`), Buffer.from(part.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
