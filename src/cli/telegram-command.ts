/** `ncii-match import-telegram DIR --bank ID`: a Telegram Desktop export (JSON) into a bank, its files only read. */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { loadConfig } from '../config.js';
import { withLocalServices } from '../services/local.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';

export const TELEGRAM_USAGE = `Usage: ncii-match import-telegram DIR --bank ID [--username NAME] [--json]

Reads a Telegram Desktop export ("Export chat history", format "Machine-readable
JSON"; DIR holds result.json) into a bank: every photo and image file is hashed
as captured images are, videos and animations by their MD5 and SHA-256, each
with its chat, message id, date, sender and link (t.me/c/ID/MSG for channels
and supergroups; --username NAME for a public chat's t.me/NAME/MSG). Files the
export left out are counted. Running it again on a grown export adds only the
new messages. Nothing of the export is copied or stored but hashes. Refused
while a service runs on DATA_DIR: stop it, or send it the export zipped
(POST /v1/banks/ID/telegram).`;

export async function runTelegramCommand(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { bank: { type: 'string' }, username: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    io.stdout.write(`${TELEGRAM_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('name the export folder (the one holding result.json)');
  if (!values.bank || !/^\d{1,15}$/.test(values.bank) || Number(values.bank) === 0) throw new UsageError('--bank takes a bank id (see "ncii-match bank list")');
  if (values.username !== undefined && !/^[A-Za-z0-9_]{4,32}$/.test(values.username.replace(/^@/, ''))) throw new UsageError('--username takes the public username, e.g. some_channel');
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    throw new UsageError(`bad setting in the environment: ${(err as Error).message}`);
  }
  const bar = io.stderr.isTTY ? new cliProgress.SingleBar({ stream: io.stderr, format: 'telegram: {value} messages with media read', hideCursor: true }, cliProgress.Presets.shades_classic) : null;
  bar?.start(0, 0);
  const report = await withLocalServices(config, (services) =>
    services.telegram.importDirectory(Number(values.bank), positionals[0], { username: values.username?.replace(/^@/, ''), onMessage: (n) => bar?.update(n) }),
    { viaApi: `POST /v1/banks/${values.bank}/telegram with the export zipped` },
  ).finally(() => bar?.stop());
  if (values.json) io.stdout.write(`${JSON.stringify(report)}\n`);
  else {
    io.stdout.write(
      `${report.chats} chat(s), ${report.messages} messages with media: added ${report.added} (${report.images} images, ${report.videos} videos; ${report.signalsAdded} hashes), ` +
        `already in the bank ${report.existing}, files not included in the export ${report.notIncluded}, failed ${report.failed.length}\n`,
    );
    for (const f of report.failed) io.stderr.write(`chat ${f.chatId} message ${f.messageId}: ${f.reason}\n`);
  }
  return 0;
}
