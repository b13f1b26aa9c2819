/** `ncii-match keys create|list|revoke`: API keys, stored hashed; a new key is shown once. */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { KEY_ROLES, type KeyRole, withKeyStore, withSigningKeys } from '../services/keys.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';

export const KEYS_USAGE = `Usage:
  ncii-match keys create --role ${KEY_ROLES.join('|')} --name NAME
  ncii-match keys list
  ncii-match keys revoke ID
  ncii-match keys signing            the evidence signing keys (current one marked)
  ncii-match keys rotate-signing     a new evidence signing key; old ones still verify

Works on the database under DATA_DIR (default ./data). "create" prints the new
key alone on its last line; it is stored hashed and cannot be shown again.`;

/** A name as one safe cell of the table: tabs, line breaks and terminal control characters become spaces. */
function printable(name: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  return name.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

function environment() {
  try {
    return loadConfig();
  } catch (err) {
    throw new UsageError(`bad setting in the environment: ${(err as Error).message}`);
  }
}

/** The evidence signing keys: listed, or a new one made current (the old private key destroyed, its public key kept). */
async function runSigningKeys(action: 'signing' | 'rotate-signing', io: CliIo): Promise<number> {
  const config = environment();
  if (action === 'rotate-signing' && config.EVIDENCE_SIGNING_KEY_FILE) {
    throw new UsageError('the signing key is given by EVIDENCE_SIGNING_KEY_FILE: put a new key in that file and restart the service instead');
  }
  return withSigningKeys(config, (signing) => {
    if (action === 'rotate-signing') {
      const key = signing.rotate();
      io.stderr.write('a new signing key signs evidence packages from now on; packages signed before still verify with the old key:\n');
      io.stdout.write(`${key.keyId}\n`);
      return 0;
    }
    io.stdout.write('key id\tcreated\tretired\tcurrent\n');
    for (const k of signing.publicKeys()) io.stdout.write(`${k.keyId}\t${k.createdAt}\t${k.retiredAt ?? '-'}\t${k.current ? 'yes' : '-'}\n`);
    return 0;
  });
}

export async function runKeysCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { role: { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
  });
  const [action, ...rest] = positionals;
  if (values.help) {
    io.stdout.write(`${KEYS_USAGE}\n`);
    return 0;
  }
  if (action === 'signing' || action === 'rotate-signing') return runSigningKeys(action, io);
  if (action !== 'create' && action !== 'list' && action !== 'revoke') throw new UsageError('say create, list, revoke, signing or rotate-signing');
  if (action !== 'revoke' && rest.length > 0) throw new UsageError(`unexpected ${JSON.stringify(rest.join(' '))} (quote a name with spaces: --name "Helpline Europe")`);
  if (action === 'create') {
    if (!values.role || !KEY_ROLES.includes(values.role as KeyRole)) throw new UsageError(`--role must be one of ${KEY_ROLES.join(', ')}`);
    if (!values.name?.trim()) throw new UsageError('--name is required (who or what the key is for)');
  }
  if (action === 'revoke' && !(rest.length === 1 && /^\d+$/.test(rest[0]))) throw new UsageError('revoke takes one key id (see keys list)');

  return withKeyStore(environment(), (keys) => {
    if (action === 'create') {
      const { key, secret } = keys.create({ name: values.name!, role: values.role as KeyRole });
      io.stderr.write(`created key ${key.id} (${key.role}) for "${printable(key.name)}"; store it now, it cannot be shown again:\n`);
      io.stdout.write(`${secret}\n`);
    } else if (action === 'list') {
      io.stdout.write('id\trole\tname\tprefix\tcreated\tlast used\trevoked\n');
      for (const k of keys.list()) {
        io.stdout.write(`${k.id}\t${k.role}\t${printable(k.name)}\t${k.keyPrefix}…\t${k.createdAt}\t${k.lastUsedAt ?? '-'}\t${k.revokedAt ?? '-'}\n`);
      }
    } else {
      const key = keys.revoke(Number(rest[0]));
      io.stdout.write(`revoked key ${key.id} (${key.role}, "${printable(key.name)}")\n`);
    }
    return 0;
  });
}
