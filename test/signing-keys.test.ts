/**
 * The evidence signing key: created once with mode 0600 and kept across
 * restarts, a key file readable by others tightened, a key given by
 * configuration used as it is (and not rotated by the command), each key
 * creation and rotation an audit entry; and the command line's key and audit
 * commands record and read the log.
 */
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { AuditTrail } from '../src/services/audit-trail.js';
import { DATABASE_FILE } from '../src/services/services.js';
import { SIGNING_KEY_FILE, SigningKeys } from '../src/services/signing.js';
import { SqliteAuditLog } from '../src/store/audit-log.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { runCli } from './helpers/cli-run.js';

const root = mkdtempSync(join(tmpdir(), 'ncii-signing-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

function open(dir: string, settings: Record<string, string> = {}) {
  mkdirSync(dir, { recursive: true });
  const store = new SqliteStore(join(dir, DATABASE_FILE));
  const log = new SqliteAuditLog(store.db);
  const config = loadConfig({ DATA_DIR: dir, ...settings });
  const signing = new SigningKeys(config, store.db, new AuditTrail(log));
  return { store, log, signing, close: () => (log.flush(), store.close()) };
}

const cli = (env: Record<string, string>, argv: string[]) => runCli(argv, { env });

t.test('created once, kept across restarts, tightened if others can read it', async (t) => {
  const dir = join(root, 'generated');
  const first = open(dir);
  const keyId = first.signing.signer().keyId;
  first.close();
  t.equal(statSync(join(dir, SIGNING_KEY_FILE)).mode & 0o777, 0o600);
  chmodSync(join(dir, SIGNING_KEY_FILE), 0o644);
  const again = open(dir);
  t.equal(again.signing.signer().keyId, keyId, 'the same key after a restart');
  t.equal(statSync(join(dir, SIGNING_KEY_FILE)).mode & 0o777, 0o600, 'a key others could read is tightened');
  t.same(again.log.list({ limit: 10 }).map((e) => e.action), ['signing-key.created'], 'its creation is audited once');
  again.close();
});

t.test('a key given by configuration is used, and not rotated by the command', async (t) => {
  const dir = join(root, 'configured');
  mkdirSync(dir);
  const file = join(dir, 'my-key.pem');
  writeFileSync(file, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const opened = open(dir, { EVIDENCE_SIGNING_KEY_FILE: file });
  t.equal(opened.signing.publicKeys().length, 1);
  t.throws(() => opened.signing.rotate(), { code: 'INVALID_REQUEST' });
  opened.close();
  const refused = await cli({ DATA_DIR: dir, EVIDENCE_SIGNING_KEY_FILE: file }, ['keys', 'rotate-signing']);
  t.equal(refused.code, 2);
  t.match(refused.stderr, /EVIDENCE_SIGNING_KEY_FILE/);
  const rsa = join(dir, 'rsa.pem');
  writeFileSync(rsa, generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  t.throws(() => open(join(root, 'rsa'), { EVIDENCE_SIGNING_KEY_FILE: rsa }), /not an Ed25519 private key/);
});

t.test('keys and audit on the command line', async (t) => {
  const dir = join(root, 'cli');
  const created = await cli({ DATA_DIR: dir }, ['keys', 'create', '--role', 'ngo', '--name', 'helpline']);
  t.equal(created.code, 0);
  t.equal((await cli({ DATA_DIR: dir }, ['keys', 'revoke', '1'])).code, 0);
  const json = await cli({ DATA_DIR: dir }, ['audit', 'list', '--since', '2000-01-01', '--json']);
  t.equal(json.code, 0);
  t.same(JSON.parse(json.stdout).map((e: { actor: string; action: string; target: string }) => [e.actor, e.action, e.target]), [
    ['cli', 'key.created', 'key:1'],
    ['cli', 'key.revoked', 'key:1'],
  ]);
  const text = await cli({ DATA_DIR: dir }, ['audit', 'list', '--action', 'key.revoked', '--limit', '1']);
  t.match(text.stdout, /^id\tat\tactor/);
  t.equal(text.stdout.trimEnd().split('\n').length, 2, 'a header and one entry');
  t.equal((await cli({ DATA_DIR: dir }, ['audit', 'list', '--until', '2000-01-01', '--json'])).stdout.trim(), '[]');
  t.equal((await cli({ DATA_DIR: dir }, ['audit', 'list', '--since', 'last week'])).code, 2);
  t.equal((await cli({ DATA_DIR: dir }, ['audit', 'frobnicate'])).code, 2);
  t.equal((await cli({ DATA_DIR: dir }, ['audit', 'list', '--limit', '0'])).code, 2);
  t.match((await cli({ DATA_DIR: dir }, ['audit', '--help'])).stdout, /audit verify/);
  t.equal((await cli({ DATA_DIR: dir, PORT: 'nope' }, ['audit', 'verify'])).code, 2, 'a bad setting is a usage error');
  t.match((await cli({ DATA_DIR: dir }, ['verify-evidence', '--help'])).stdout, /--key-id/);
  t.equal((await cli({ DATA_DIR: dir }, ['verify-evidence'])).code, 2);
});
