/**
 * The key that signs evidence packages: Ed25519, created at first start in
 * DATA_DIR (readable by the service's user alone), or given by the
 * configuration (EVIDENCE_SIGNING_KEY_FILE). Every public key that ever
 * signed stays in the database, so a package signed before a rotation still
 * verifies after it. A key's id is the SHA-256 of its DER encoding, which
 * anyone can recompute from the PEM with openssl.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { type SigningPublicKey, SqliteSigningKeyStore } from '../store/signing-keys.js';
import type { AuditTrail } from './audit-trail.js';
import { ServiceError } from './errors.js';

export const SIGNING_KEY_FILE = 'evidence-signing-key.pem';

export interface PublicKeyInfo extends SigningPublicKey {
  current: boolean;
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex');
}

interface LoadedKey {
  keyId: string;
  privateKey: KeyObject;
  publicKey: string;
}

function loadKey(path: string): LoadedKey {
  const privateKey = createPrivateKey(readFileSync(path));
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new ServiceError('INVALID_REQUEST', `${path} is not an Ed25519 private key`);
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** A new key written where `path` says, readable by this user alone, replacing any there in one step. */
function writeNewKey(path: string): LoadedKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const temporary = `${path}.new`;
  writeFileSync(temporary, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  renameSync(temporary, path);
  return loadKey(path);
}

export class SigningKeys {
  private readonly keys: SqliteSigningKeyStore;
  private readonly path: string;
  private loaded: LoadedKey;

  constructor(
    private readonly config: Config,
    db: ConstructorParameters<typeof SqliteSigningKeyStore>[0],
    private readonly trail: AuditTrail,
  ) {
    this.keys = new SqliteSigningKeyStore(db);
    this.path = config.EVIDENCE_SIGNING_KEY_FILE || join(config.DATA_DIR, SIGNING_KEY_FILE);
    if (!existsSync(this.path) && !config.EVIDENCE_SIGNING_KEY_FILE) {
      this.loaded = writeNewKey(this.path);
    } else {
      // A key file others can read is a key others may have: tightened rather than used as it is.
      if ((statSync(this.path).mode & 0o077) !== 0) chmodSync(this.path, 0o600);
      this.loaded = loadKey(this.path);
    }
    this.register(this.loaded, 'signing-key.created');
  }

  private register(key: LoadedKey, action: string): void {
    if (this.keys.current()?.keyId === key.keyId) return;
    this.keys.makeCurrent(key, new Date().toISOString());
    this.trail.record(action, { target: `signing-key:${key.keyId}` });
  }

  /** The current key (another process may have rotated it since this one loaded). */
  private current(): LoadedKey {
    const current = this.keys.current();
    if (current && current.keyId !== this.loaded.keyId) this.loaded = loadKey(this.path);
    return this.loaded;
  }

  /** The current key, to sign one package with. */
  signer(): { keyId: string; publicKeyPem: string; sign(data: Uint8Array): Uint8Array } {
    const key = this.current();
    return { keyId: key.keyId, publicKeyPem: key.publicKey, sign: (data) => sign(null, data, key.privateKey) };
  }

  /** Every key that has signed, oldest first; `current` marks the one signing now. */
  publicKeys(): PublicKeyInfo[] {
    const currentId = this.current().keyId;
    return this.keys.list().map((k) => ({ ...k, current: k.keyId === currentId }));
  }

  /** A new key takes over; the old private key is destroyed, its public key kept for checking what it signed. */
  rotate(): PublicKeyInfo {
    if (this.config.EVIDENCE_SIGNING_KEY_FILE) {
      throw new ServiceError('INVALID_REQUEST', 'The signing key is given by EVIDENCE_SIGNING_KEY_FILE: put a new key in that file and restart the service instead.');
    }
    this.loaded = writeNewKey(this.path);
    this.register(this.loaded, 'signing-key.rotated');
    return this.publicKeys().find((k) => k.current)!;
  }
}
