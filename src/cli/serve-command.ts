/** `ncii-match serve`: run the HTTP service with the settings in the environment. */
import { describeSettings, loadConfig } from '../config.js';
import { startServer } from '../server.js';
import type { CliIo } from './io.js';
import { UsageError } from './io.js';

export const SERVE_USAGE = `Usage: ncii-match serve

Runs the HTTP API on an embedded SQLite database. Settings come from the environment:
${describeSettings()
  .map((s) => `  ${s.name.padEnd(30)} ${s.description} (default ${JSON.stringify(s.default)})`)
  .join('\n')}`;

export async function runServeCommand(argv: string[], io: CliIo): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(`${SERVE_USAGE}\n`);
    return 0;
  }
  if (argv.length > 0) throw new UsageError(`serve takes no arguments (settings come from the environment), got "${argv[0]}"`);
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    throw new UsageError(`bad setting in the environment: ${(err as Error).message}`);
  }
  await startServer(config);
  // The server keeps the process alive until a signal closes it.
  return new Promise<number>(() => {});
}
