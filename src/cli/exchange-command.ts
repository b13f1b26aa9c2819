/** `ncii-match import`, `export` and `bank`: hash lists in and out of the database under DATA_DIR (docs/exchange.md). */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { pipeline as pipelineWith, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { loadConfig } from '../config.js';
import { EXCHANGE_FORMATS, type ExchangeFormat, type ImportReport } from '../services/exchange.js';
import { withLocalServices } from '../services/local.js';
import type { Services } from '../services/services.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';

const FORMATS = EXCHANGE_FORMATS.join('|');

export const IMPORT_USAGE = `Usage: ncii-match import FILE... (--bank ID | --case NUMBER) --format ${FORMATS} [--strict] [--json]

Reads hash lists into a bank (or a victim's case: its hashes only) in the
database under DATA_DIR. Several files are read in order (StopNCII pages).
Malformed rows are reported by line and skipped; --strict refuses a file at
its first malformed row and imports nothing of it. Refused while a service
runs on DATA_DIR (its index would not learn the hashes until it restarted):
stop it first, or send the file to it (POST /v1/banks/ID/import).`;

export const EXPORT_USAGE = `Usage: ncii-match export (--bank ID | --case NUMBER) --format ${FORMATS} [--out FILE] [--limit N] [--page-token T]

Writes a bank's (or a case's) hashes to FILE or stdout. --limit pages the
export; a StopNCII page ends with the nextPageToken to pass as --page-token.`;

export const BANK_USAGE = `Usage:
  ncii-match bank list [--json]
  ncii-match bank create NAME [--description TEXT] [--json]`;

function help(io: CliIo, usage: string): number {
  io.stdout.write(`${usage}\n`);
  return 0;
}

function config() {
  try {
    return loadConfig();
  } catch (err) {
    throw new UsageError(`bad setting in the environment: ${(err as Error).message}`);
  }
}

function format(value: string | undefined): ExchangeFormat {
  if (!value || !(EXCHANGE_FORMATS as readonly string[]).includes(value)) throw new UsageError(`--format must be one of ${EXCHANGE_FORMATS.join(', ')}`);
  return value as ExchangeFormat;
}

/** The bank id or case number, exactly one of them. */
function target(values: { bank?: string; case?: string }): { bankId: number } | { caseNumber: string } {
  if ((values.bank === undefined) === (values.case === undefined)) throw new UsageError('say --bank ID or --case NUMBER');
  if (values.bank !== undefined) {
    if (!/^\d{1,15}$/.test(values.bank) || Number(values.bank) === 0) throw new UsageError('--bank takes a bank id (see "ncii-match bank list")');
    return { bankId: Number(values.bank) };
  }
  return { caseNumber: values.case! };
}

function caseId(services: Services, caseNumber: string): number {
  const found = services.store.findCaseByNumber(caseNumber);
  if (!found) throw new UsageError(`no case numbered ${JSON.stringify(caseNumber)}`);
  return found.id;
}

/** A file as it is read, moving a progress bar on a terminal. */
function withProgress(bar: cliProgress.SingleBar | null): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bar?.increment(chunk.length);
      done(null, chunk);
    },
  });
}

function summary(file: string, r: ImportReport): string {
  const next = r.nextPageToken === undefined ? '' : `; next page token ${JSON.stringify(r.nextPageToken)}`;
  return `${file}: added ${r.added}, duplicate ${r.duplicate}, updated ${r.updated}, removed ${r.removed}, rejected ${r.rejected} (${r.signalsAdded} hashes stored)${next}\n`;
}

export async function runImportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { bank: { type: 'string' }, case: { type: 'string' }, format: { type: 'string' }, strict: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) return help(io, IMPORT_USAGE);
  const where = target(values);
  const fmt = format(values.format);
  if (positionals.length === 0) throw new UsageError('name the file(s) to import');
  const viaApi = 'bankId' in where ? `POST /v1/banks/${where.bankId}/import` : `POST /v1/cases/{caseNumber}/import with the case's PIN`;
  const reports = await withLocalServices(config(), (services) => importFiles(services, positionals, where, { format: fmt, strict: values.strict }, io), { viaApi });
  if (values.json) io.stdout.write(`${JSON.stringify(reports.length === 1 ? reports[0] : reports)}\n`);
  else {
    for (const r of reports) {
      io.stdout.write(summary(r.file, r));
      for (const e of r.errors) io.stderr.write(`${r.file}:${e.line}: ${e.reason}\n`);
    }
  }
  return 0;
}

async function importFiles(
  services: Services,
  files: string[],
  where: { bankId: number } | { caseNumber: string },
  options: { format: ExchangeFormat; strict: boolean },
  io: CliIo,
): Promise<(ImportReport & { file: string })[]> {
  const reports: (ImportReport & { file: string })[] = [];
  for (const file of files) {
    const bar = io.stderr.isTTY ? new cliProgress.SingleBar({ stream: io.stderr, format: `importing [{bar}] {percentage}% | {eta_formatted} left`, hideCursor: true }, cliProgress.Presets.shades_classic) : null;
    bar?.start(statSync(file).size, 0);
    const source = withProgress(bar);
    // A read error ends the import with that error, as the last stream is destroyed with it.
    pipelineWith(createReadStream(file), source, () => {});
    try {
      const report = 'bankId' in where ? await services.exchange.importToBank(where.bankId, source, options) : await services.exchange.importToCase(caseId(services, where.caseNumber), source, options);
      reports.push({ file, ...report });
    } finally {
      bar?.stop();
    }
  }
  return reports;
}

export async function runExportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { bank: { type: 'string' }, case: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, limit: { type: 'string' }, 'page-token': { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) return help(io, EXPORT_USAGE);
  if (positionals.length > 0) throw new UsageError(`unexpected ${JSON.stringify(positionals.join(' '))}`);
  const where = target(values);
  if ('caseNumber' in where && (values.limit !== undefined || values['page-token'] !== undefined)) throw new UsageError('a case is exported whole: --limit and --page-token go with --bank');
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0)) throw new UsageError('--limit takes a positive whole number');
  const options = { format: format(values.format), limit, pageToken: values['page-token'] };
  return withLocalServices(config(), async (services) => {
    const out = 'bankId' in where ? services.exchange.exportBank(where.bankId, options) : services.exchange.exportCase(caseId(services, where.caseNumber), options);
    const sink: Writable = values.out ? createWriteStream(values.out) : (io.stdout as Writable);
    await pipeline(out.chunks, sink, { end: values.out !== undefined });
    return 0;
  });
}

export async function runBankCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { description: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) return help(io, BANK_USAGE);
  const [action, ...rest] = positionals;
  if (action === 'list' && rest.length > 0) throw new UsageError('list takes no arguments');
  if (action === 'create' && rest.length !== 1) throw new UsageError('create takes one NAME (quote a name with spaces)');
  if (action !== 'list' && action !== 'create') throw new UsageError('say list or create');
  return withLocalServices(config(), (services) => {
    if (action === 'create') {
      const bank = services.banks.create({ name: rest[0], description: values.description });
      io.stdout.write(values.json ? `${JSON.stringify(bank)}\n` : `created bank ${bank.id} (${JSON.stringify(bank.name)})\n`);
      return 0;
    }
    const banks = services.banks.list();
    if (values.json) io.stdout.write(`${JSON.stringify(banks)}\n`);
    else {
      io.stdout.write('id\tname\tdescription\n');
      for (const b of banks) io.stdout.write(`${b.id}\t${b.name.replace(/\s/g, ' ')}\t${b.description.replace(/\s/g, ' ')}\n`);
    }
    return 0;
  });
}
