/** The public keys evidence packages are signed with, current and retired (see migration 011). */
import type Database from 'better-sqlite3';

export interface SigningPublicKey {
  /** SHA-256 of the key's DER (SPKI) encoding, hex. */
  keyId: string;
  /** SPKI PEM. */
  publicKey: string;
  createdAt: string;
  retiredAt: string | null;
}

type Row = { key_id: string; public_key: string; created_at: string; retired_at: string | null };
const fromRow = (r: Row): SigningPublicKey => ({ keyId: r.key_id, publicKey: r.public_key, createdAt: r.created_at, retiredAt: r.retired_at });

export class SqliteSigningKeyStore {
  private readonly statements;
  /** Makes `key` the current one, retiring whichever was. */
  readonly makeCurrent: (key: { keyId: string; publicKey: string }, at: string) => void;

  constructor(db: Database.Database) {
    this.statements = {
      list: db.prepare<[], Row>('SELECT * FROM signing_keys ORDER BY created_at, key_id'),
      current: db.prepare<[], Row>('SELECT * FROM signing_keys WHERE retired_at IS NULL'),
      retireAll: db.prepare('UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL AND key_id <> ?'),
      upsert: db.prepare('INSERT INTO signing_keys (key_id, public_key, created_at) VALUES (?, ?, ?) ON CONFLICT (key_id) DO UPDATE SET retired_at = NULL'),
    };
    this.makeCurrent = db.transaction((key: { keyId: string; publicKey: string }, at: string) => {
      this.statements.retireAll.run(at, key.keyId);
      this.statements.upsert.run(key.keyId, key.publicKey, at);
    });
  }

  list(): SigningPublicKey[] {
    return this.statements.list.all().map(fromRow);
  }

  current(): SigningPublicKey | undefined {
    const row = this.statements.current.get();
    return row && fromRow(row);
  }
}
