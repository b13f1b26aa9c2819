/** `ncii-match verify-evidence PACKAGE.zip`: checks an evidence package offline and says plainly what holds. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { verifyEvidencePackage } from '../evidence/verify.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';

export const VERIFY_EVIDENCE_USAGE = `Usage:
  ncii-match verify-evidence PACKAGE.zip --key-id FINGERPRINT [--key-id ...]
  ncii-match verify-evidence PACKAGE.zip --public-key KEY.pem
  Options: --json (the report as JSON)

Checks, without any network or database: the signature, that no file was
changed, that the files agree with each other, and the audit log entries.
The key id (fingerprint) or public key is the one you trust: get it from the
organisation that sent the package (GET /v1/evidence/public-key on its service).
Exits 0 if everything holds, 1 if something does not.`;

export async function runVerifyEvidenceCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'key-id': { type: 'string', multiple: true, default: [] },
      'public-key': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(`${VERIFY_EVIDENCE_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('give one package file');
  const zip = readFileSync(positionals[0]);
  const publicKeyPem = values['public-key'] === undefined ? undefined : readFileSync(values['public-key'], 'utf8');
  const report = verifyEvidencePackage(zip, { keyIds: values['key-id'], publicKeyPem });
  if (values.json) {
    const { document, ...rest } = report;
    io.stdout.write(`${JSON.stringify({ ...rest, matches: document?.matches.length ?? null, cases: document?.cases.map((c) => c.caseNumber) ?? null }, null, 2)}\n`);
  } else {
    for (const line of report.holds) io.stdout.write(`OK    ${line}\n`);
    io.stdout.write(report.ok ? `\nVERIFIED: ${positionals[0]} is intact and was signed by the key you trust.\n` : `FAIL  ${report.problem}\n\nNOT VERIFIED: do not rely on ${positionals[0]}.\n`);
  }
  return report.ok ? 0 : 1;
}
