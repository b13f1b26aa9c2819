/**
 * Runs the service: listen first (so /healthz and /readyz answer), then load
 * the indexes from the store; on SIGINT/SIGTERM stop accepting, finish what is
 * in flight, close the store.
 */
import closeWithGrace from 'close-with-grace';
import { buildApp } from './api/app.js';
import type { Config } from './config.js';

export async function startServer(config: Config): Promise<void> {
  const app = await buildApp({ config, loadIndexes: false });
  closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'stopping after an unexpected error');
    else app.log.info({ signal }, 'stopping: finishing requests in flight');
    await app.close();
  });
  await app.listen({ host: config.HOST, port: config.PORT });
  const started = performance.now();
  await app.services.loadIndexes();
  app.log.info({ seconds: Number(((performance.now() - started) / 1000).toFixed(2)) }, 'index loaded; ready');
}
