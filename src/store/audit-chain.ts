/**
 * The audit log's hash chain, in one place for the writer, `audit verify` and
 * the offline check of an evidence package.
 *
 * An entry's hash is SHA-256 of the JSON array
 * `[id, prevHash, at, actor, action, target, status, matchCount, commitment]`
 * (JSON.stringify: no spaces), as lowercase hex; the first entry's prevHash is
 * 64 zeros. The commitment is SHA-256 of `[salt, caseId, details]` the same
 * way, or null for an entry with neither: it lets a withdrawn case's fields
 * and salt be erased while every hash stays what it was.
 */
import { createHash, randomBytes } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

/** An entry as the chain sees it: every stored field. */
export interface ChainedEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  status: number;
  matchCount: number | null;
  /** Private: the victim's case the entry concerns; erased when she withdraws it. */
  caseId: number | null;
  /** Private: JSON text of further facts; erased with the case. */
  details: string | null;
  /** Hex; null when there is nothing private, or once it was erased. */
  salt: string | null;
  commitment: string | null;
  prevHash: string;
  hash: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function commitmentOf(salt: string, caseId: number | null, details: string | null): string {
  return sha256(JSON.stringify([salt, caseId, details]));
}

export function entryHash(e: Omit<ChainedEntry, 'hash' | 'caseId' | 'details' | 'salt'>): string {
  return sha256(JSON.stringify([e.id, e.prevHash, e.at, e.actor, e.action, e.target, e.status, e.matchCount, e.commitment]));
}

/** Salt and commitment for an entry's private fields (none when it has none). */
export function commit(caseId: number | null, details: string | null): { salt: string | null; commitment: string | null } {
  if (caseId === null && details === null) return { salt: null, commitment: null };
  const salt = randomBytes(16).toString('hex');
  return { salt, commitment: commitmentOf(salt, caseId, details) };
}

/** Why one entry does not hold, or null if it does (given the hash of the entry before it). */
export function entryProblem(e: ChainedEntry, prevHash: string): string | null {
  if (e.prevHash !== prevHash) return `its previous-entry hash ${short(e.prevHash)} is not the hash of the entry before it (${short(prevHash)}): an entry was deleted, inserted or moved here`;
  if (e.salt !== null) {
    if (e.commitment !== commitmentOf(e.salt, e.caseId, e.details)) return 'its case fields do not match their commitment: they were altered';
  } else if (e.caseId !== null || e.details !== null) {
    return 'it has case fields but no salt to check them with: they were added or altered';
  }
  if (e.hash !== entryHash(e)) return 'its contents do not match its hash: the entry was altered';
  return null;
}

export interface ChainReport {
  ok: boolean;
  /** Entries checked. */
  entries: number;
  /** The last entry that holds (with every one before it). */
  head: { id: number; hash: string } | null;
  /** Entries whose case fields were erased (withdrawn cases); they still hold. */
  redacted: number;
  firstBroken: { id: number; position: number; reason: string } | null;
}

/**
 * Checks entries in id order, each against the one before: stops at the
 * first that does not hold. `startHash` is the hash before the first given
 * entry (the genesis for a whole log).
 */
export function verifyChain(entries: Iterable<ChainedEntry>, startHash = GENESIS_HASH): ChainReport {
  let prev = startHash;
  let head: ChainReport['head'] = null;
  let count = 0;
  let redacted = 0;
  let lastId = -Infinity;
  for (const e of entries) {
    count++;
    const problem = e.id <= lastId ? `its id is not after the id of the entry before it (${lastId})` : entryProblem(e, prev);
    if (problem) return { ok: false, entries: count, head, redacted, firstBroken: { id: e.id, position: count, reason: problem } };
    if (e.commitment !== null && e.salt === null) redacted++;
    prev = e.hash;
    lastId = e.id;
    head = { id: e.id, hash: e.hash };
  }
  return { ok: true, entries: count, head, redacted, firstBroken: null };
}

const short = (hash: string) => (hash.length > 12 ? `${hash.slice(0, 12)}…` : JSON.stringify(hash));
