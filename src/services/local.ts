/**
 * The services on the database under DATA_DIR, for the command line: opened
 * for one command and closed after it, without indexes (a server loads them
 * from the store when it starts; one process writes a database at a time, so
 * a running server is stopped first, or sent the file over HTTP instead).
 */
import type { Config } from '../config.js';
import { ServiceError } from './errors.js';
import { servingProcess } from './serving-claim.js';
import { Services } from './services.js';

/**
 * `learned`: the command writes what a running service's indexes would have
 * to learn (imports); refused while one serves DATA_DIR, which would store
 * it and not match it until restarted. `viaApi` names the route to use then.
 */
export async function withLocalServices<T>(config: Config, work: (services: Services) => T | Promise<T>, learned?: { viaApi: string }): Promise<T> {
  const serving = learned ? servingProcess(config.DATA_DIR) : null;
  if (serving && learned) {
    throw new ServiceError(
      'CONFLICT',
      `a service is running on this DATA_DIR (${serving}) and would not match what this imports until it restarts. ` +
        `Stop it first, or send the file to it: ${learned.viaApi}.`,
    );
  }
  const services = new Services(config, { error: () => {} });
  try {
    return await work(services);
  } finally {
    services.close();
  }
}
