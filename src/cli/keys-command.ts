/** `ncii-match keys create|list|revoke`: API keys, stored hashed; a new key is shown once. */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { KEY_ROLES, type KeyRole, withKeyStore } from '../services/keys.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';

export const KEYS_USAGE = `Usage:
  ncii-match keys create --role ${KEY_ROLES.join('|')} --name NAME
  ncii-match keys list
  ncii-match keys revoke ID

Works on the database under DATA_DIR (default ./data). "create" prints the new
key alone on its last line; it is stored hashed and cannot be shown again.`;

/** A name as one safe cell of the table: tabs, line breaks and terminal control characters become spaces. */
function printable(name: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must go
  return name.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
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
  if (action !== 'create' && action !== 'list' && action !== 'revoke') throw new UsageError('say create, list or revoke');
  if (action !== 'revoke' && rest.length > 0) throw new UsageError(`unexpected ${JSON.stringify(rest.join(' '))} (quote a name with spaces: --name "Helpline Europe")`);
  if (action === 'create') {
    if (!values.role || !KEY_ROLES.includes(values.role as KeyRole)) throw new UsageError(`--role must be one of ${KEY_ROLES.join(', ')}`);
    if (!values.name?.trim()) throw new UsageError('--name is required (who or what the key is for)');
  }
  if (action === 'revoke' && !(rest.length === 1 && /^\d+$/.test(rest[0]))) throw new UsageError('revoke takes one key id (see keys list)');

  let config;
  try {
    config = loadConfig();
  } catch (err) {
    throw new UsageError(`bad setting in the environment: ${(err as Error).message}`);
  }
  return withKeyStore(config, (keys) => {
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
