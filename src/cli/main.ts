#!/usr/bin/env node
/** The `ncii-match` command line. */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { AUDIT_USAGE, runAuditCommand } from './audit-command.js';
import { HASH_USAGE, runHashCommand } from './hash-command.js';
import { ServiceError, StoreError } from '../services/errors.js';
import { type CliIo, UsageError } from './io.js';
import { BANK_USAGE, EXPORT_USAGE, IMPORT_USAGE, runBankCommand, runExportCommand, runImportCommand } from './exchange-command.js';
import { KEYS_USAGE, runKeysCommand } from './keys-command.js';
import { MATCH_USAGE, runMatchCommand } from './match-command.js';
import { SERVE_USAGE, runServeCommand } from './serve-command.js';
import { runVerifyEvidenceCommand, VERIFY_EVIDENCE_USAGE } from './verify-evidence-command.js';
import { ServiceCallError } from './http.js';
import { MATCHES_USAGE, REPORT_USAGE, runMatchesCommand, runReportCommand, runScanCommand, SCAN_USAGE } from './takedown-commands.js';
import { runTelegramCommand, TELEGRAM_USAGE } from './telegram-command.js';

const USAGE = `Usage: ncii-match <command> [options]

Commands:
  serve    run the HTTP API (settings from the environment)
  hash     hash image files and directories (PDQ, blockhash, MD5, SHA-256)
  match    look images up in a running service, sending only their hashes
  keys     create, list and revoke API keys
  bank     list and create banks
  import   read hash lists (HMA, ThreatExchange, StopNCII, CSV) into a bank or case
  export   write a bank's or case's hashes in those formats
  audit    check the audit log's hash chain (verify) and read it (list)
  verify-evidence  check an evidence package offline
  scan     create, list and run scheduled scans (takedown teams)
  matches  list what scans found
  report   a scan run's report by group, as JSON or CSV
  import-telegram  read a Telegram Desktop chat export into a bank

Run "ncii-match <command> --help" for a command's options.`;

const COMMANDS: Record<string, { run: (argv: string[], io: CliIo) => Promise<number>; usage: string }> = {
  serve: { run: runServeCommand, usage: SERVE_USAGE },
  hash: { run: runHashCommand, usage: HASH_USAGE },
  match: { run: runMatchCommand, usage: MATCH_USAGE },
  keys: { run: runKeysCommand, usage: KEYS_USAGE },
  bank: { run: runBankCommand, usage: BANK_USAGE },
  import: { run: runImportCommand, usage: IMPORT_USAGE },
  export: { run: runExportCommand, usage: EXPORT_USAGE },
  audit: { run: runAuditCommand, usage: AUDIT_USAGE },
  'verify-evidence': { run: runVerifyEvidenceCommand, usage: VERIFY_EVIDENCE_USAGE },
  scan: { run: runScanCommand, usage: SCAN_USAGE },
  matches: { run: runMatchesCommand, usage: MATCHES_USAGE },
  report: { run: runReportCommand, usage: REPORT_USAGE },
  'import-telegram': { run: runTelegramCommand, usage: TELEGRAM_USAGE },
};

export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command || !Object.hasOwn(COMMANDS, name)) {
    io.stderr.write(`ncii-match: unknown command "${name}"\n\n${USAGE}\n`);
    return 2;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    // parseArgs reports unknown or malformed options with this code.
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`ncii-match ${name}: ${(err as Error).message}\n\n${command.usage}\n`);
      return 2;
    }
    // The service refusing what was asked, or not reachable: its own words, no stack.
    if (err instanceof ServiceCallError) {
      io.stderr.write(`ncii-match ${name}: ${err.message}\n`);
      return 1;
    }
    // The store refusing what was asked (an unknown key id, a name too long, a newer schema): said plainly, no stack.
    if (err instanceof StoreError || err instanceof ServiceError) {
      io.stderr.write(`ncii-match ${name}: ${err.message}\n`);
      return err.code === 'INVALID_INPUT' ? 2 : 1;
    }
    // The machine, not a bug: DATA_DIR not a directory or not writable, a file that is not a database, a full disk.
    if (isEnvironmentError(err)) {
      io.stderr.write(`ncii-match ${name}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function isEnvironmentError(err: unknown): err is Error {
  if (!(err instanceof Error)) return false;
  const code = (err as NodeJS.ErrnoException).code;
  return err.name === 'SqliteError' || (typeof code === 'string' && /^E[A-Z]+$/.test(code));
}

/** Run as a program, also through npm's bin symlink (import.meta.url is the resolved file, argv[1] the link). */
function invokedDirectly(): boolean {
  if (!process.argv[1]) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // A closed pipe (`ncii-match hash dir | head`) ends the output, not in a crash.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') {
      process.stderr.write(`ncii-match: cannot write the output: ${err.message}\n`);
      process.exit(1);
    }
    process.exit(process.exitCode ?? 0);
  });
  // A closed stderr (warnings piped to `head`) must not end the run and cut its output off.
  process.stderr.on('error', () => {});
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`ncii-match: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
