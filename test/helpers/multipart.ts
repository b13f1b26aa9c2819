/** multipart/form-data bodies for `app.inject`, built by hand so tests control every byte. */

export type FormPart =
  | { name: string; value: string }
  | { name: string; filename: string; bytes: Uint8Array; contentType?: string };

export interface MultipartRequest {
  payload: Buffer;
  headers: { 'content-type': string };
}

export function multipart(parts: FormPart[], boundary = '----ncii-test-boundary'): MultipartRequest {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    if ('bytes' in part) {
      chunks.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\n` +
            `Content-Type: ${part.contentType ?? 'application/octet-stream'}\r\n\r\n`,
        ),
        Buffer.from(part.bytes),
        Buffer.from('\r\n'),
      );
    } else {
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`));
    }
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { payload: Buffer.concat(chunks), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}
