/**
 * `ncii-match scan create|list|run`, `ncii-match matches list` and
 * `ncii-match report RUN_ID`: the takedown team's commands, talking to a
 * running service over HTTP with a takedown key. Human-readable by default,
 * `--json` for scripts; a run in progress shows a bar on a terminal.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { call, callJson, type Service, serviceOf } from './http.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';

const CONNECTION = `  --url URL            the service (default: $NCII_MATCH_URL or http://127.0.0.1:3000)
  --key KEY            a takedown or admin key (default: $NCII_MATCH_KEY)
  --json               JSON output (one object, or one per line for lists)`;

export const SCAN_USAGE = `Usage:
  ncii-match scan create --name NAME --cron EXPR --tz ZONE [--banks IDS|all] [--cases NUMBERS|all] [--threshold N]
  ncii-match scan list
  ncii-match scan run ID [--detach]

Scheduled scans match newly captured content against victims' cases. "run"
starts a run now and follows it to the end (--detach: print the run and return).

Options:
  --cron EXPR          when to run, e.g. "0 */4 * * *" (every four hours)
  --tz ZONE            the IANA time zone the schedule is read in, e.g. UTC, Europe/Berlin
  --banks IDS          comma-separated bank ids (default: all)
  --cases NUMBERS      comma-separated case numbers (default: all)
  --threshold N        PDQ threshold in bits (whole-image and region hashes)
${CONNECTION}`;

export const MATCHES_USAGE = `Usage: ncii-match matches list [--status S] [--bank ID] [--case NUMBER] [--group NAME] [--scan ID] [--run ID] [--since T] [--until T] [--limit N]

What scans found, newest first (every page, up to --limit matches, default 1000).

Options:
  --status S           new, reported, removed or dismissed
${CONNECTION}`;

export const REPORT_USAGE = `Usage: ncii-match report RUN_ID [--csv]

A run's matches grouped by group or channel, with counts by status. --csv
writes the spreadsheet version (UTF-8 with BOM) to stdout.

Options:
  --csv                CSV instead of JSON
${CONNECTION}`;

const connectionOptions = {
  url: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

interface Run {
  id: number;
  scanId: number;
  status: string;
  progress: { itemsDone: number; itemsTotal: number; casesDone: number; casesTotal: number };
  newMatches: number;
  error: string | null;
}

const idArgument = (text: string | undefined, what: string): number => {
  if (text === undefined || !/^[1-9]\d{0,15}$/.test(text)) throw new UsageError(`${what} must be a number`);
  return Number(text);
};
const list = (text: string | undefined) => (text === undefined || text === 'all' ? undefined : text.split(',').map((s) => s.trim()));

/** Follows a run to its end, a bar on a terminal's stderr showing items and cases done. */
async function follow(service: Service, run: Run, io: CliIo): Promise<Run> {
  const bar = io.stderr.isTTY
    ? new cliProgress.SingleBar({ stream: io.stderr, format: 'run {run} [{bar}] {value}/{total} | {matches} new matches | {eta_formatted} left', hideCursor: true }, cliProgress.Presets.shades_classic)
    : null;
  const done = (r: Run) => r.progress.itemsDone + r.progress.casesDone;
  bar?.start(run.progress.itemsTotal + run.progress.casesTotal, done(run), { run: run.id, matches: run.newMatches });
  while (run.status === 'running') {
    await sleep(250);
    run = await callJson<Run>(service, 'GET', `/v1/scan-runs/${run.id}`);
    bar?.update(done(run), { matches: run.newMatches });
  }
  bar?.stop();
  return run;
}

const runLine = (r: Run) => `run ${r.id} of scan ${r.scanId}: ${r.status}, ${r.newMatches} new matches${r.error ? ` (${r.error})` : ''}`;

export async function runScanCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...connectionOptions, name: { type: 'string' }, cron: { type: 'string' }, tz: { type: 'string' }, banks: { type: 'string' }, cases: { type: 'string' }, threshold: { type: 'string' }, detach: { type: 'boolean', default: false } },
  });
  if (values.help) return void io.stdout.write(`${SCAN_USAGE}\n`), 0;
  const [action, id, ...extra] = positionals;
  if (extra.length > 0) throw new UsageError(`unexpected ${JSON.stringify(extra.join(' '))}`);
  const service = serviceOf(values);
  const print = (json: unknown, text: string) => io.stdout.write(`${values.json ? JSON.stringify(json) : text}\n`);
  if (action === 'create') {
    if (!values.name || !values.cron || !values.tz) throw new UsageError('create needs --name, --cron and --tz');
    const threshold = values.threshold === undefined ? undefined : idArgument(values.threshold, '--threshold');
    const banks = list(values.banks)?.map((b) => idArgument(b, '--banks'));
    const body = { name: values.name, cron: values.cron, timeZone: values.tz, banks: banks ?? 'all', cases: list(values.cases) ?? 'all', ...(threshold !== undefined ? { thresholds: { threshold } } : {}) };
    const scan = await callJson<{ id: number; name: string; nextRunAt: string | null }>(service, 'POST', '/v1/scans', body);
    print(scan, `created scan ${scan.id} "${scan.name}"; next run ${scan.nextRunAt ?? 'never'}`);
  } else if (action === 'list') {
    const { scans } = await callJson<{ scans: { id: number; name: string; cron: string; timeZone: string; enabled: boolean; nextRunAt: string | null; lastSuccessAt: string | null }[] }>(service, 'GET', '/v1/scans');
    if (values.json) for (const scan of scans) print(scan, '');
    else for (const s of scans) io.stdout.write(`${s.id}\t${s.name}\t${s.cron} (${s.timeZone})${s.enabled ? '' : ' disabled'}\tnext ${s.nextRunAt ?? '-'}\tlast ok ${s.lastSuccessAt ?? '-'}\n`);
  } else if (action === 'run') {
    const started = await callJson<Run>(service, 'POST', `/v1/scans/${idArgument(id, 'the scan id')}/run`);
    const run = values.detach ? started : await follow(service, started, io);
    print(run, runLine(run));
    return run.status === 'failed' ? 1 : 0;
  } else {
    throw new UsageError('say create, list or run');
  }
  return 0;
}

export async function runMatchesCommand(argv: string[], io: CliIo): Promise<number> {
  const filters = ['status', 'bank', 'case', 'group', 'scan', 'run', 'since', 'until'] as const;
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...connectionOptions,
      status: { type: 'string' },
      bank: { type: 'string' },
      case: { type: 'string' },
      group: { type: 'string' },
      scan: { type: 'string' },
      run: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string', default: '1000' },
    },
  });
  if (values.help) return void io.stdout.write(`${MATCHES_USAGE}\n`), 0;
  if (positionals.join(' ') !== 'list') throw new UsageError('say list');
  const limit = idArgument(values.limit, '--limit');
  const service = serviceOf(values);
  const query = new URLSearchParams();
  for (const f of filters) if (values[f] !== undefined) query.set(f, values[f]);
  let printed = 0;
  for (let cursor: string | null = null; printed < limit; ) {
    const page = new URLSearchParams(query);
    page.set('limit', String(Math.min(1000, limit - printed)));
    if (cursor) page.set('cursor', cursor);
    const body: { matches: Record<string, unknown>[]; nextCursor: string | null } = await callJson(service, 'GET', `/v1/matches?${page}`);
    for (const m of body.matches) {
      io.stdout.write(values.json ? `${JSON.stringify(m)}\n` : `${m.id}\t${m.status}\t${m.caseNumber}\t${m.platform}\t${m.group ?? '-'}\t${m.messageUrl ?? '-'}\t${m.via} ${m.signalType} d=${m.distance}\t${m.foundAt}\n`);
    }
    printed += body.matches.length;
    cursor = body.nextCursor;
    if (!cursor) break;
  }
  return 0;
}

export async function runReportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { ...connectionOptions, csv: { type: 'boolean', default: false } } });
  if (values.help) return void io.stdout.write(`${REPORT_USAGE}\n`), 0;
  if (positionals.length !== 1) throw new UsageError('give one run id');
  const runId = idArgument(positionals[0], 'the run id');
  const res = await call(serviceOf(values), 'GET', `/v1/scan-runs/${runId}/report?format=${values.csv ? 'csv' : 'json'}`);
  if (values.csv) io.stdout.write(Buffer.from(await res.arrayBuffer()));
  else io.stdout.write(`${JSON.stringify(await res.json(), null, values.json ? undefined : 2)}\n`);
  return 0;
}
