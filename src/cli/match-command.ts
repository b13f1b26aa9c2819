/**
 * `ncii-match match`: look images up in a running service without sending
 * them. Each image is hashed here (PDQ with its rotations and flips,
 * blockhash, MD5, SHA-256 and, in robust mode, region hashes) and only the
 * hashes go to POST /v1/match; one JSON line per file comes back out.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { DEFAULT_DECODE_LIMITS } from '../image/decode.js';
import { hashImage } from '../image/hash-image.js';
import { bankList, imageHashingFor, type QueryOptions, queryFromImage, toWireSignals } from '../match/query.js';
import { errorRow, readLimited } from './hash-command.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';
import { expandPaths } from './walk.js';

export const MATCH_USAGE = `Usage: ncii-match match [--mode robust|pdq] [--dihedral] [--url URL] [--key KEY] [--threshold N] [--banks IDS] FILE|DIR...

Hash each image on this machine and look the hashes up in a running service
(POST /v1/match). The images themselves are never sent. Prints one JSON line
per file: {file, matches, warnings} or {file, error: {code, message}}.

Options:
  --mode robust|pdq    robust (default): also match region hashes, which find
                       crops, borders, captions, screenshots, collage cells,
                       stickers and small rotations, and always the 8
                       rotations and mirrors; pdq: whole-image hashes only,
                       as other PDQ systems match
  --dihedral           pdq mode: also match the 8 rotations and mirrors
  --url URL            the service (default: $NCII_MATCH_URL or http://127.0.0.1:3000)
  --key KEY            API key (default: $NCII_MATCH_KEY; none is needed for hash lookups)
  --threshold N        PDQ threshold in bits (whole-image and region hashes)
  --banks IDS          comma-separated bank ids to search (default: all)
  -h, --help           show this help

Exit status: 0 when every file was looked up, 1 when any failed, 2 on a usage error.`;

/** How long one lookup may take (a robust query is hundreds of searches); without it a stalled server held the run for good. */
const REQUEST_TIMEOUT_MS = 60_000;

type MatchRow = { file: string; matches: unknown[]; warnings: unknown[] } | { file: string; error: { code: string; message: string } };

interface Lookup {
  options: QueryOptions;
  endpoint: URL;
  key: string | undefined;
}

/** The command line as the lookup it asks for; usage errors for anything malformed. */
function parseLookup(values: { mode: string; url?: string; key?: string; threshold?: string; banks?: string; dihedral: boolean }): Lookup {
  const mode = values.mode;
  if (mode !== 'robust' && mode !== 'pdq') throw new UsageError(`--mode must be robust or pdq, got "${mode}"`);
  const options: QueryOptions = { mode, ...(values.dihedral ? { dihedral: true } : {}) };
  if (values.threshold !== undefined) {
    // Digits only: Number() reads "" and " " as 0, "0x1f" as 31.
    const threshold = /^\d{1,3}$/.test(values.threshold) ? Number(values.threshold) : NaN;
    if (!Number.isInteger(threshold) || threshold < 0 || threshold > 256) throw new UsageError(`--threshold must be a whole number from 0 to 256, got "${values.threshold}"`);
    options.threshold = threshold;
  }
  if (values.banks !== undefined) {
    try {
      options.banks = bankList(values.banks, '--banks');
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const base = values.url ?? process.env.NCII_MATCH_URL ?? 'http://127.0.0.1:3000';
  try {
    return { options, endpoint: new URL('/v1/match', base), key: values.key ?? process.env.NCII_MATCH_KEY };
  } catch {
    throw new UsageError(`--url is not a URL: "${base}"`);
  }
}

export async function runMatchCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      mode: { type: 'string', default: 'robust' },
      url: { type: 'string' },
      key: { type: 'string' },
      threshold: { type: 'string' },
      banks: { type: 'string' },
      dihedral: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(`${MATCH_USAGE}\n`);
    return 0;
  }
  const lookup = parseLookup(values);
  if (positionals.length === 0) throw new UsageError('give at least one image file or directory');
  const files = await expandPaths(positionals);
  const bar = io.stderr.isTTY
    ? new cliProgress.SingleBar({ stream: io.stderr, format: 'matching [{bar}] {value}/{total} files | {eta_formatted} left', hideCursor: true }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(files.length, 0);
  let failed = 0;
  for (const file of files) {
    const row = await matchOne(file, lookup);
    if ('error' in row) failed++;
    io.stdout.write(`${JSON.stringify(row)}\n`);
    bar?.increment();
  }
  bar?.stop();
  return failed > 0 ? 1 : 0;
}

/** One file: hashed here exactly as the service hashes an upload, and sent as the hashes its query searches with. */
async function matchOne(file: string, { options, endpoint, key }: Lookup): Promise<MatchRow> {
  const limits = DEFAULT_DECODE_LIMITS;
  let query;
  try {
    query = queryFromImage(await hashImage(await readLimited(file, limits), { limits, ...imageHashingFor(options.mode) }), options);
  } catch (err) {
    return errorRow(file, err) as MatchRow;
  }
  // The thresholds as the query resolved them (for the hashes it has), so the service applies exactly these.
  const thresholds = Object.keys(query.thresholds).length > 0 ? { thresholds: query.thresholds } : {};
  const body = { signals: toWireSignals(query), mode: query.mode, ...thresholds, ...(query.banks ? { banks: query.banks } : {}) };
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const reply = (await res.json().catch(() => null)) as { matches?: unknown[]; warnings?: unknown[]; error?: { code: string; message: string } } | null;
    if (!res.ok || !reply?.matches) return { file, error: reply?.error ?? { code: 'SERVICE_ERROR', message: `The service answered ${res.status}.` } };
    // What the query itself knows (a featureless photo's LOW_QUALITY), then what the service says.
    return { file, matches: reply.matches, warnings: [...query.warnings, ...(reply.warnings ?? [])] };
  } catch (err) {
    return { file, error: { code: 'UNREACHABLE', message: `Could not reach ${endpoint.origin}: ${unreachableReason(err)}` } };
  }
}

/** Why fetch failed, in words: its own message is only "fetch failed", the cause (ECONNREFUSED, ...) is beneath. */
function unreachableReason(err: unknown): string {
  const { name, message, cause } = err as Error & { cause?: { code?: string; message?: string } };
  if (name === 'TimeoutError') return `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  return cause?.code ?? cause?.message ?? message;
}
