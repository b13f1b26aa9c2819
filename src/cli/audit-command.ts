/** `ncii-match audit verify|list`: checks the audit log's hash chain, and reads the log. */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import type { AuditEntry, AuditFilter } from '../services/audit-trail.js';
import { withAuditTrail } from '../services/offline.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';

export const AUDIT_USAGE = `Usage:
  ncii-match audit verify
  ncii-match audit list [--since TIME] [--until TIME] [--actor ACTOR] [--action ACTION] [--limit N] [--json]

Works on the database under DATA_DIR (default ./data).
"verify" checks every entry's hash and its link to the entry before; it names
the first entry that does not hold and exits 1 if one does not.
"list" prints entries oldest first (the newest --limit, default 1000);
TIME is ISO-8601 (2026-12-01 or 2026-12-01T10:00:00Z).`;

const PAGE = 500;

function isoTime(value: string | undefined, option: string): string | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`${option} must be a date or time (ISO-8601), not ${JSON.stringify(value)}`);
  return new Date(ms).toISOString();
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      since: { type: 'string' },
      until: { type: 'string' },
      actor: { type: 'string' },
      action: { type: 'string' },
      limit: { type: 'string', default: '1000' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [action, ...rest] = positionals;
  if (values.help) return { help: true as const };
  if (action !== 'verify' && action !== 'list') throw new UsageError('say verify or list');
  if (rest.length > 0) throw new UsageError(`unexpected ${JSON.stringify(rest.join(' '))}`);
  if (!/^[1-9]\d{0,6}$/.test(values.limit)) throw new UsageError('--limit must be a whole number from 1 to 9999999');
  const filter: AuditFilter = { since: isoTime(values.since, '--since'), until: isoTime(values.until, '--until'), actor: values.actor, action: values.action };
  return { help: false as const, action, filter, limit: Number(values.limit), json: values.json };
}

const line = (e: AuditEntry) => [e.id, e.at, e.actor, e.action, e.target ?? '-', e.status, e.matchCount ?? '-', e.redacted ? 'redacted' : '-', e.hash].join('\t');

export async function runAuditCommand(argv: string[], io: CliIo): Promise<number> {
  const args = parse(argv);
  if (args.help) {
    io.stdout.write(`${AUDIT_USAGE}\n`);
    return 0;
  }
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    throw new UsageError(`bad setting in the environment: ${(err as Error).message}`);
  }
  return withAuditTrail(config, (trail) => {
    if (args.action === 'verify') {
      const report = trail.verify();
      const head = report.head ? `entry ${report.head.id}, hash ${report.head.hash}` : 'none';
      if (report.ok) {
        io.stdout.write(`The audit log holds: ${report.entries} entries checked, each linked to the one before; ${report.redacted} of them had a withdrawn case's details erased (allowed). Newest entry: ${head}.\n`);
        return 0;
      }
      const broken = report.firstBroken!;
      io.stdout.write(`The audit log is BROKEN at entry ${broken.id} (the ${broken.position}th checked): ${broken.reason}. The entries before it hold (last good: ${head}).\n`);
      return 1;
    }
    const entries: AuditEntry[] = [];
    let before: number | undefined;
    while (entries.length < args.limit) {
      const page = trail.page(Math.min(PAGE, args.limit - entries.length), before, args.filter);
      entries.push(...page.entries);
      if (page.nextBefore === null) break;
      before = page.nextBefore;
    }
    entries.reverse();
    if (args.json) io.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    else io.stdout.write(`id\tat\tactor\taction\ttarget\tstatus\tmatches\tcase details\thash\n${entries.map((e) => `${line(e)}\n`).join('')}`);
    return 0;
  });
}
