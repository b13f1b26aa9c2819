/**
 * A Telegram export's files, read where they are: a folder on disk (the CLI)
 * or a zip held in memory (the API; nothing of it is written anywhere). Paths
 * come from result.json and must stay inside the export: an absolute path or
 * one that climbs out with `..` is refused.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, posix, sep } from 'node:path';
import { Readable } from 'node:stream';
import { unzipSync } from 'fflate';
import { ServiceError } from './errors.js';

/** Where an export's files are read from; paths are as result.json gives them. */
export interface TelegramFiles {
  resultJson(): Readable;
  /** A file's bytes, refused past `maxBytes`. */
  read(path: string, maxBytes: number): Promise<Uint8Array>;
  stream(path: string): Readable;
}

class ExportFileError extends Error {
  readonly code = 'EXPORT_FILE';
}

/** A relative path inside the export, or an error naming it. */
function inside(path: string): string {
  const clean = normalize(path);
  if (isAbsolute(path) || clean === '..' || clean.startsWith(`..${sep}`) || clean.startsWith('../')) throw new ExportFileError(`${JSON.stringify(path)} is outside the export`);
  return clean;
}

function tooLarge(path: string, size: number, maxBytes: number): ExportFileError {
  return new ExportFileError(`${JSON.stringify(path)} is ${size} bytes, over the limit of ${maxBytes}`);
}

export function directoryFiles(dir: string): TelegramFiles {
  return {
    resultJson: () => createReadStream(join(dir, 'result.json')),
    read: async (path, maxBytes) => {
      const file = join(dir, inside(path));
      const { size } = await stat(file);
      if (size > maxBytes) throw tooLarge(path, size, maxBytes);
      return new Uint8Array(await readFile(file));
    },
    stream: (path) => createReadStream(join(dir, inside(path))),
  };
}

export interface ZipLimits {
  maxEntries: number;
  /** All entries' uncompressed sizes together, as the zip declares them (each is inflated into no more than its declared size). */
  maxTotalBytes: number;
}

const refuse = (message: string) => new ServiceError('INVALID_REQUEST', message);

/** The zip's table of contents, checked: entry count, declared sizes, names, and where result.json is. */
function scanZip(zip: Uint8Array, limits: ZipLimits): { base: string; sizes: Map<string, number> } {
  const sizes = new Map<string, number>();
  let total = 0;
  try {
    unzipSync(zip, {
      filter: (file) => {
        if (sizes.size >= limits.maxEntries) throw refuse(`The zip has more than ${limits.maxEntries} entries.`);
        const name = posix.normalize(file.name);
        if (name.startsWith('/') || name === '..' || name.startsWith('../') || /^[A-Za-z]:/.test(name)) throw refuse(`The zip entry ${JSON.stringify(file.name)} points outside the export.`);
        total += file.originalSize;
        if (total > limits.maxTotalBytes) throw refuse(`The zip's files add up to more than ${limits.maxTotalBytes} bytes uncompressed.`);
        sizes.set(name, file.originalSize);
        return false;
      },
    });
  } catch (err) {
    if (err instanceof ServiceError) throw err;
    throw refuse(`The body is not a readable zip: ${(err as Error).message}`);
  }
  const results = [...sizes.keys()].filter((name) => name === 'result.json' || name.endsWith('/result.json')).sort((a, b) => a.length - b.length);
  if (results.length === 0) throw refuse('The zip has no result.json: export the chat from Telegram Desktop as "Machine-readable JSON" and zip its folder.');
  return { base: results[0].slice(0, -'result.json'.length), sizes };
}

/** A Telegram export zipped, held in memory: each file is inflated when it is read, into at most its declared size. */
export function zipFiles(zip: Uint8Array, limits: ZipLimits): TelegramFiles {
  const { base, sizes } = scanZip(zip, limits);
  const entry = (path: string, maxBytes: number): Uint8Array => {
    const name = posix.normalize(base + inside(path).split(sep).join('/'));
    const size = sizes.get(name);
    if (size === undefined) throw Object.assign(new ExportFileError(`${JSON.stringify(path)} is not in the zip`), { code: 'ENOENT' });
    if (size > maxBytes) throw tooLarge(path, size, maxBytes);
    return unzipSync(zip, { filter: (file) => posix.normalize(file.name) === name })[name];
  };
  return {
    resultJson: () => Readable.from([entry('result.json', limits.maxTotalBytes)]),
    read: async (path, maxBytes) => entry(path, maxBytes),
    stream: (path) => Readable.from([entry(path, limits.maxTotalBytes)]),
  };
}
