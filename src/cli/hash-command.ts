/** `ncii-match hash`: hash image files and directories, one output row per file. */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { type DecodeLimits, DEFAULT_DECODE_LIMITS } from '../image/decode.js';
import { ImageError } from '../image/errors.js';
import { DEFAULT_DECODE_PATH, hashImage } from '../image/hash-image.js';
import { PDQ_MIN_QUALITY } from '../hashing/pdq.js';
import { type HashRow, type OutputFormat, formatRow, header, signalsRow } from './hash-output.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';
import { expandPaths } from './walk.js';

export const HASH_USAGE = `Usage: ncii-match hash [--dihedral] [--reference] [--format tsv|jsonl] FILE|DIR...

Hash image files (directories are walked) and print one row per file:
file, pdq, pdqQuality, blockhash, md5, sha256 (and pdqDihedral with --dihedral).

Options:
  --format jsonl|tsv   output format (default jsonl; tsv has a header line)
  --dihedral           also print PDQ's 8 dihedral variants (orig, rot90, rot180,
                       rot270, flipx, flipy, flipplus1, flipminus1)
  --reference          decode exactly as the PDQ/blockhash reference tools do
                       (full decode; slower). Default: ${DEFAULT_DECODE_PATH} path.
  --max-bytes N        refuse files larger than N bytes (default ${DEFAULT_DECODE_LIMITS.maxBytes})
  --max-pixels N       refuse images with more than N pixels (default ${DEFAULT_DECODE_LIMITS.maxPixels})
  -h, --help           show this help

Exit status: 0 when every file was hashed, 1 when any file failed, 2 on a usage error.
Images never leave this machine and nothing is written to disk.`;

/** Two images in flight keep both cores busy (sharp decodes off the main thread). */
const IN_FLIGHT = 2;

function positiveInteger(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  // Digits only: Number() also reads "", " ", "0x10" and "1e3".
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value <= 0) throw new UsageError(`${name} must be a positive whole number, got "${text}"`);
  return value;
}

/** Not an image file: a device (/dev/zero never ends), a pipe (may never open), a socket. */
export class NotAFileError extends Error {}

export async function readLimited(path: string, limits: DecodeLimits): Promise<Uint8Array> {
  // Non-blocking, so opening a FIFO does not wait for a writer; refused below before any read.
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new NotAFileError('Not a regular file.');
    // Refuse before reading: a huge file never has to fit in memory.
    const tooLarge = (bytes: number) =>
      new ImageError('IMAGE_TOO_LARGE', `The file is ${(bytes / 1048576).toFixed(1)} MB; the limit is ${(limits.maxBytes / 1048576).toFixed(1)} MB.`);
    if (stats.size > limits.maxBytes) throw tooLarge(stats.size);
    const bytes = await handle.readFile();
    // Grown since the stat.
    if (bytes.length > limits.maxBytes) throw tooLarge(bytes.length);
    return new Uint8Array(bytes);
  } finally {
    await handle.close();
  }
}

export function errorRow(file: string, err: unknown): HashRow {
  if (err instanceof ImageError) return { file, error: { code: err.code, message: err.message } };
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return { file, error: { code: 'NOT_FOUND', message: 'No such file.' } };
  if (code === 'EACCES' || code === 'EPERM') return { file, error: { code: 'UNREADABLE', message: 'Permission denied.' } };
  if (code === 'EISDIR') return { file, error: { code: 'UNREADABLE', message: 'Is a directory that cannot be listed.' } };
  if (err instanceof NotAFileError) return { file, error: { code: 'UNREADABLE', message: err.message } };
  return { file, error: { code: 'UNREADABLE', message: err instanceof Error ? err.message : String(err) } };
}

export async function runHashCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string', default: 'jsonl' },
      dihedral: { type: 'boolean', default: false },
      reference: { type: 'boolean', default: false },
      'max-bytes': { type: 'string' },
      'max-pixels': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(`${HASH_USAGE}\n`);
    return 0;
  }
  const format = values.format as OutputFormat;
  if (format !== 'jsonl' && format !== 'tsv') throw new UsageError(`--format must be jsonl or tsv, got "${values.format}"`);
  if (positionals.length === 0) throw new UsageError('give at least one image file or directory');
  const limits: DecodeLimits = {
    maxBytes: positiveInteger(values['max-bytes'], '--max-bytes', DEFAULT_DECODE_LIMITS.maxBytes),
    maxPixels: positiveInteger(values['max-pixels'], '--max-pixels', DEFAULT_DECODE_LIMITS.maxPixels),
  };
  const dihedral = values.dihedral;
  const decodePath = values.reference ? 'reference' : DEFAULT_DECODE_PATH;

  const files = await expandPaths(positionals);
  const head = header(format, dihedral);
  if (head) io.stdout.write(`${head}\n`);
  let failed = 0;
  const emit = (row: HashRow) => {
    if ('error' in row) failed++;
    io.stdout.write(`${formatRow(row, format, dihedral)}\n`);
  };

  const bar = io.stderr.isTTY
    ? new cliProgress.SingleBar({ stream: io.stderr, format: 'hashing [{bar}] {value}/{total} files | {eta_formatted} left', hideCursor: true }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(files.length, 0);

  const hashOne = async (file: string): Promise<HashRow> => {
    try {
      const signals = await hashImage(await readLimited(file, limits), { decodePath, limits, dihedral });
      if (signals.pdq!.quality < PDQ_MIN_QUALITY) {
        io.stderr.write(`warning: ${file}: PDQ quality ${signals.pdq!.quality} is under ${PDQ_MIN_QUALITY}; the image is too featureless to match reliably\n`);
      }
      return signalsRow(file, signals);
    } catch (err) {
      return errorRow(file, err);
    }
  };

  // Bounded concurrency, rows printed in input order.
  const pending: Promise<HashRow>[] = [];
  let next = 0;
  while (next < files.length || pending.length > 0) {
    while (next < files.length && pending.length < IN_FLIGHT) pending.push(hashOne(files[next++]));
    emit(await pending.shift()!);
    bar?.increment();
  }
  bar?.stop();
  return failed > 0 ? 1 : 0;
}
