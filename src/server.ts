/**
 * Runs the service: listen first (so /healthz and /readyz answer), then load
 * the indexes from the store; on SIGINT/SIGTERM stop accepting, finish what is
 * in flight, close the store; if the index worker fails, or the server cannot
 * listen or load its indexes, the same and exit 1.
 */
import { createServer, type Server } from 'node:http';
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

/**
 * GET /metrics on a listener of its own, without a key: for a monitoring
 * system that reaches only this port (METRICS_HOST:METRICS_PORT), so the API
 * port can keep metrics behind an admin key. Anything else there is 404.
 */
export async function startMetricsListener(app: FastifyInstance, host: string, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('Not found: this port serves GET /metrics only.\n');
      return;
    }
    app.metricsRegistry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': app.metricsRegistry.contentType, 'cache-control': 'no-store' }).end(text),
      () => response.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()));
  app.metricsListeners.add(server);
  return server;
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
    if (config.METRICS_PORT !== 0) await startMetricsListener(app, config.METRICS_HOST, config.METRICS_PORT);
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
