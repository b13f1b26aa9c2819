/**
 * An evidence package as one zip: the document (evidence.json), the same as
 * CSV, a printable summary, the audit entries that cover it with the log's
 * head, the public key, a manifest of every file's SHA-256 (the format
 * `sha256sum -c` reads) and a detached Ed25519 signature over the manifest.
 * Files are stored uncompressed with fixed dates, so the zip is the same bytes
 * whoever writes it again from its files: a check can then tell a change to
 * the container itself from a change to a file (verify.ts).
 */
import { createHash } from 'node:crypto';
import { strToU8, zipSync } from 'fflate';
import { type AuditExtract, type EvidenceDocument, evidenceCsv } from './document.js';
import { evidenceSummary } from './summary.js';

export const MANIFEST = 'MANIFEST.sha256';
export const SIGNATURE = 'MANIFEST.sha256.sig';
export const PUBLIC_KEY = 'public-key.pem';
/** Every file of a package, in the order they are stored; the manifest lists all but the last two. */
export const MEMBERS = ['README.txt', 'evidence.json', 'matches.csv', 'summary.html', 'audit-entries.json', PUBLIC_KEY, MANIFEST, SIGNATURE] as const;

const README = `Evidence package (format ncii-match-evidence/1)

evidence.json       what was found: each match, where and when the item was seen, who brought it in, the scan that found it, its takedown history
matches.csv         the same, one row per match
summary.html        a one-page summary to read or print
audit-entries.json  the audit log entries about these matches, with the newest entry of the log when this was made
public-key.pem      the Ed25519 public key the package was signed with
MANIFEST.sha256     the SHA-256 of each file above
MANIFEST.sha256.sig the signature over MANIFEST.sha256

To check it: ncii-match verify-evidence THIS.zip --key-id <fingerprint>, or with
openssl and sha256sum as docs/evidence.md explains.
`;

/** DOS dates are local time: a date built from local fields is stored the same in every time zone. */
const FIXED_DATE = new Date(1980, 0, 1, 0, 0, 0);

export const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export function manifestOf(files: ReadonlyMap<string, Uint8Array>): string {
  return MEMBERS.filter((name) => name !== MANIFEST && name !== SIGNATURE)
    .map((name) => `${sha256Hex(files.get(name)!)}  ${name}\n`)
    .join('');
}

/** The zip of the given files, stored in the package's order. */
export function zipMembers(files: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const entries: Record<string, [Uint8Array, { level: 0; mtime: Date }]> = {};
  for (const name of MEMBERS) entries[name] = [files.get(name)!, { level: 0, mtime: FIXED_DATE }];
  return zipSync(entries);
}

export interface Signer {
  publicKeyPem: string;
  sign(data: Uint8Array): Uint8Array;
}

export function buildEvidencePackage(doc: EvidenceDocument, audit: AuditExtract, signer: Signer): Uint8Array {
  const files = new Map<string, Uint8Array>([
    ['README.txt', strToU8(README)],
    ['evidence.json', strToU8(`${JSON.stringify(doc, null, 2)}\n`)],
    ['matches.csv', strToU8(evidenceCsv(doc))],
    ['summary.html', strToU8(evidenceSummary(doc, audit))],
    ['audit-entries.json', strToU8(`${JSON.stringify(audit, null, 2)}\n`)],
    [PUBLIC_KEY, strToU8(signer.publicKeyPem)],
  ]);
  const manifest = strToU8(manifestOf(files));
  files.set(MANIFEST, manifest);
  files.set(SIGNATURE, signer.sign(manifest));
  return zipMembers(files);
}
