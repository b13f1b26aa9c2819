/**
 * Runs the service: listen first (so /healthz and /readyz answer), then load
 * the indexes from the store; on SIGINT/SIGTERM stop accepting, finish what is
 * in flight, close the store; if the index worker fails, or the server cannot
 * listen or load its indexes, the same and exit 1.
 */
import closeWithGrace from 'close-with-grace';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './api/app.js';
import type { Config } from './config.js';

/**
 * A failed index worker is mended only by a restart: stop (finishing what is
 * in flight, every search of which fails) and exit non-zero, so a supervisor
 * (Docker's restart policy, systemd) starts the service again.
 */
export function exitOnIndexFailure(app: FastifyInstance, exit: (code: number) => void = process.exit): void {
  app.services.onIndexFailure((err) => {
    app.log.fatal({ err }, 'the index worker failed: stopping so the service is restarted');
    void app.close().finally(() => exit(1));
  });
}

export async function startServer(config: Config, exit: (code: number) => void = process.exit): Promise<void> {
  const app = await buildApp({ config, loadIndexes: false });
  exitOnIndexFailure(app, exit);
  closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'stopping after an unexpected error');
    else app.log.info({ signal }, 'stopping: finishing requests in flight');
    await app.close();
  });
  try {
    await app.listen({ host: config.HOST, port: config.PORT });
    const started = performance.now();
    await app.services.loadIndexes();
    app.log.info({ seconds: Number(((performance.now() - started) / 1000).toFixed(2)) }, 'index loaded; ready');
  } catch (err) {
    // Not listening, or never ready: a server left like that would answer /healthz
    // 200 for ever, so stop and exit 1 for a supervisor to see and start it again.
    app.log.fatal({ err }, 'could not start: stopping');
    await app.close().catch(() => {});
    exit(1);
  }
}
