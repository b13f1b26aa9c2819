/**
 * Checks an evidence package offline, and says plainly what holds: the zip
 * holds exactly the package's files, in the form its writer stores them; the
 * signature over the manifest is valid for the key in the package, and that
 * key is the one the reader trusts; every file has the digest the manifest
 * gives; the CSV and the summary say what evidence.json says; and every audit
 * entry's hash (and case-detail commitment) holds, linked where entries
 * follow each other, up to the log's head.
 */
import { createPublicKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import { strFromU8, unzipSync } from 'fflate';
import { type ChainedEntry, entryProblem } from '../store/audit-chain.js';
import { type AuditExtract, EVIDENCE_FORMAT, type EvidenceDocument, evidenceCsv } from './document.js';
import { MANIFEST, manifestOf, MEMBERS, PUBLIC_KEY, sha256Hex, SIGNATURE, zipMembers } from './package.js';
import { summaryDisagreement } from './summary.js';

export interface TrustedKeys {
  /** Key ids (fingerprints) the reader trusts. */
  keyIds?: readonly string[];
  /** A public key (PEM) the reader trusts. */
  publicKeyPem?: string;
}

export interface VerifyReport {
  ok: boolean;
  /** What was checked and holds, one plain sentence each. */
  holds: string[];
  /** The first thing that does not hold, or null. */
  problem: string | null;
  keyId: string | null;
  document: EvidenceDocument | null;
}

class Failed extends Error {}
const fail = (message: string): never => {
  throw new Failed(message);
};

export function keyIdOfPem(pem: string | Uint8Array): { key: KeyObject; keyId: string } {
  let key: KeyObject;
  try {
    key = createPublicKey(typeof pem === 'string' ? pem : Buffer.from(pem));
  } catch {
    return fail('public-key.pem is not a readable public key');
  }
  if (key.asymmetricKeyType !== 'ed25519') fail(`the public key is ${key.asymmetricKeyType}, not Ed25519`);
  return { key, keyId: sha256Hex(key.export({ type: 'spki', format: 'der' })) };
}

function readMembers(zip: Uint8Array): Map<string, Uint8Array> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(zip);
  } catch (err) {
    return fail(`the file is not a readable zip archive (${(err as Error).message}): it is damaged, or not an evidence package`);
  }
  const names = Object.keys(files);
  const expected: readonly string[] = MEMBERS;
  if (names.length !== expected.length || !expected.every((n) => Object.hasOwn(files, n))) {
    fail(`the package must hold exactly ${expected.join(', ')}; this one holds ${names.join(', ') || 'nothing'}`);
  }
  return new Map(Object.entries(files));
}

function checkSignature(files: Map<string, Uint8Array>, holds: string[]): string {
  const { key, keyId } = keyIdOfPem(files.get(PUBLIC_KEY)!);
  if (!verifySignature(null, files.get(MANIFEST)!, key, files.get(SIGNATURE)!)) {
    fail(`the signature (${SIGNATURE}) does not match ${MANIFEST} for the public key in the package: the manifest or the signature was changed`);
  }
  holds.push(`The signature over ${MANIFEST} is valid for the package's public key, key id ${keyId}.`);
  return keyId;
}

function checkManifest(files: Map<string, Uint8Array>, holds: string[]): void {
  const manifest = strFromU8(files.get(MANIFEST)!);
  const expected = manifestOf(files);
  if (manifest === expected) {
    holds.push(`Every file has the SHA-256 digest the signed manifest gives (${manifest.trimEnd().split('\n').length} files): none was changed after signing.`);
    return;
  }
  const given = new Map(manifest.split('\n').filter(Boolean).map((line) => [line.slice(66), line.slice(0, 64)]));
  for (const line of expected.trimEnd().split('\n')) {
    const name = line.slice(66);
    if (given.get(name) !== line.slice(0, 64)) fail(`${name} was changed after signing: its SHA-256 is ${line.slice(0, 64)}, the signed manifest says ${given.get(name) ?? '(not listed)'}`);
  }
  fail(`${MANIFEST} is not in the form this program writes (extra lines or spacing)`);
}

function checkTrust(keyId: string, trusted: TrustedKeys, holds: string[]): void {
  const ids = (trusted.keyIds ?? []).map((id) => id.toLowerCase().replace(/[^0-9a-f]/g, ''));
  if (trusted.publicKeyPem !== undefined) ids.push(keyIdOfPem(trusted.publicKeyPem).keyId);
  if (ids.length === 0) fail(`the package is signed by key ${keyId}, but no trusted key was given to compare it with: ask the sender for their key id (fingerprint) and pass it with --key-id, or pass their public key with --public-key`);
  if (!ids.includes(keyId)) fail(`the package was signed by key ${keyId}, which is not the key you trust (${ids.join(', ')}): it was not made by that service, or made with another of its keys`);
  holds.push('That key is the one you trust.');
}

function parseJson<T>(files: Map<string, Uint8Array>, name: string): T {
  try {
    return JSON.parse(strFromU8(files.get(name)!)) as T;
  } catch {
    return fail(`${name} is not valid JSON`);
  }
}

function checkDocument(files: Map<string, Uint8Array>, keyId: string, holds: string[]): { doc: EvidenceDocument; audit: AuditExtract } {
  const doc = parseJson<EvidenceDocument>(files, 'evidence.json');
  const audit = parseJson<AuditExtract>(files, 'audit-entries.json');
  if (doc?.format !== EVIDENCE_FORMAT || !Array.isArray(doc.matches) || !Array.isArray(audit?.entries)) fail(`evidence.json is not a ${EVIDENCE_FORMAT} document`);
  if (doc.signingKeyId !== keyId) fail(`evidence.json names signing key ${doc.signingKeyId}, but the package is signed by ${keyId}`);
  if (strFromU8(files.get('matches.csv')!) !== evidenceCsv(doc)) fail('matches.csv does not say what evidence.json says');
  const summary = summaryDisagreement(strFromU8(files.get('summary.html')!), doc, audit);
  if (summary) fail(`summary.html does not say what evidence.json says: ${summary}`);
  holds.push(`matches.csv and summary.html say what evidence.json says (${doc.matches.length} matches, case ${doc.cases.map((c) => c.caseNumber).join(', ') || '-'}).`);
  return { doc, audit };
}

function checkAudit({ doc, audit }: { doc: EvidenceDocument; audit: AuditExtract }, holds: string[]): void {
  let prev: ChainedEntry | null = null;
  for (const e of audit.entries) {
    if (prev && e.id <= prev.id) fail(`audit entry ${e.id} comes after entry ${prev.id}: the entries are out of order`);
    // An entry's own hash holds whatever came before it; the link is checked where the entry before it is in the package.
    const problem = entryProblem(e, prev && e.id === prev.id + 1 ? prev.hash : e.prevHash);
    if (problem) fail(`audit entry ${e.id} does not hold: ${problem}`);
    prev = e;
  }
  const head = audit.chainHead;
  if (prev && (!head || head.id < prev.id || (head.id === prev.id && head.hash !== prev.hash))) fail(`the audit log head ${JSON.stringify(head)} is not at or after the last entry included (${prev.id})`);
  const recorded = new Set(audit.entries.filter((e) => e.action === 'match.recorded').map((e) => e.target));
  const covered = doc.matches.filter((m) => recorded.has(`match:${m.id}`)).length;
  holds.push(
    `The ${audit.entries.length} audit entries hold (each entry's hash, its case-detail commitment, and its link to the entry before where both are included); ` +
      `the log's newest entry then was ${head ? `#${head.id} ${head.hash}` : 'none'}. ${covered} of ${doc.matches.length} matches have the audit entry that recorded them.`,
  );
}

/** Checks the package's bytes; `trusted` names the key(s) the reader expects it to be signed with. */
export function verifyEvidencePackage(zip: Uint8Array, trusted: TrustedKeys): VerifyReport {
  const holds: string[] = [];
  let keyId: string | null = null;
  let document: EvidenceDocument | null = null;
  try {
    const files = readMembers(zip);
    keyId = checkSignature(files, holds);
    checkManifest(files, holds);
    const parsed = checkDocument(files, keyId, holds);
    document = parsed.doc;
    checkAudit(parsed, holds);
    const canonical = zipMembers(files);
    if (canonical.length !== zip.length || !canonical.every((b, i) => b === zip[i])) {
      fail('the files inside are intact, but the zip container around them was changed (dates, names, flags or checksums in its headers differ from how the package was written)');
    }
    holds.push('The zip container is exactly as written.');
    checkTrust(keyId, trusted, holds);
    return { ok: true, holds, problem: null, keyId, document };
  } catch (err) {
    if (!(err instanceof Failed)) throw err;
    return { ok: false, holds, problem: err.message, keyId, document };
  }
}
