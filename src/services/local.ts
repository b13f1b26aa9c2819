/**
 * The services on the database under DATA_DIR, for the command line: opened
 * for one command and closed after it, without indexes (a server loads them
 * from the store when it starts; one process writes a database at a time, so
 * a running server is stopped first, or sent the file over HTTP instead).
 */
import type { Config } from '../config.js';
import { Services } from './services.js';

export async function withLocalServices<T>(config: Config, work: (services: Services) => T | Promise<T>): Promise<T> {
  const services = new Services(config, { error: () => {} });
  try {
    return await work(services);
  } finally {
    services.close();
  }
}
