/**
 * docs/cli.md describes every command and every option the command line
 * takes, and no option it does not: each command's section names exactly
 * the options of its usage text (the text `--help` prints, built beside
 * each command's option parser).
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import t from 'tap';
import { AUDIT_USAGE } from '../src/cli/audit-command.js';
import { BANK_USAGE, EXPORT_USAGE, IMPORT_USAGE } from '../src/cli/exchange-command.js';
import { HASH_USAGE } from '../src/cli/hash-command.js';
import { KEYS_USAGE } from '../src/cli/keys-command.js';
import { main } from '../src/cli/main.js';
import { MATCH_USAGE } from '../src/cli/match-command.js';
import { SERVE_USAGE } from '../src/cli/serve-command.js';
import { MATCHES_USAGE, REPORT_USAGE, SCAN_USAGE } from '../src/cli/takedown-commands.js';
import { TELEGRAM_USAGE } from '../src/cli/telegram-command.js';
import { VERIFY_EVIDENCE_USAGE } from '../src/cli/verify-evidence-command.js';

const DOC = readFileSync('docs/cli.md', 'utf8');

/** The text of the section `## \`name\``, up to the next section. */
function section(name: string): string {
  const start = DOC.indexOf(`## \`${name}\``);
  if (start < 0) return '';
  const next = DOC.indexOf('\n## ', start + 1);
  return DOC.slice(start, next < 0 ? undefined : next);
}

const options = (text: string) => [...new Set([...text.matchAll(/--[a-z][a-z-]*/g)].map((m) => m[0]).filter((o) => o !== '--help'))].sort();

async function mainUsage(): Promise<string> {
  const stdout = new PassThrough();
  await main(['--help'], { stdout, stderr: process.stderr });
  return stdout.read()?.toString() ?? '';
}

t.test('every command has a section in docs/cli.md', async (t) => {
  const commands = [...(await mainUsage()).matchAll(/^ {2}([a-z-]+) {2,}/gm)].map((m) => m[1]);
  t.ok(commands.includes('serve') && commands.includes('verify-evidence'), `the commands are read from the usage: ${commands.join(', ')}`);
  for (const command of commands) t.ok(section(command), `## \`${command}\``);
});

t.test("each command's section names exactly the options of its usage", async (t) => {
  const usages: Record<string, string> = {
    serve: SERVE_USAGE,
    hash: HASH_USAGE,
    match: MATCH_USAGE,
    keys: KEYS_USAGE,
    bank: BANK_USAGE,
    import: IMPORT_USAGE,
    export: EXPORT_USAGE,
    audit: AUDIT_USAGE,
    'verify-evidence': VERIFY_EVIDENCE_USAGE,
    scan: SCAN_USAGE,
    matches: MATCHES_USAGE,
    report: REPORT_USAGE,
    'import-telegram': TELEGRAM_USAGE,
  };
  for (const [command, usage] of Object.entries(usages)) t.same(options(section(command)), options(usage), command);
  t.same(options(section('hash')), ['--dihedral', '--format', '--max-bytes', '--max-pixels', '--reference'], 'the parser finds them');
});
