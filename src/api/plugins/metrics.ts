/**
 * Prometheus metrics: request counts and latencies, hashes computed, index
 * size, matches. /metrics needs a key allowed to read them (admin), or is
 * served on a listener of its own (METRICS_PORT, see server.ts) that only
 * the monitoring network reaches. Even so nothing in it follows victims'
 * cases: not the size of their index (it rose and fell as each case was
 * registered and withdrawn), and not their routes' requests, except failures
 * on our side.
 */
import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SIGNAL_TYPE_NAMES } from '../../hashing/registry.js';
import type { Services } from '../../services/services.js';

declare module 'fastify' {
  interface FastifyInstance {
    metricsRegistry: Registry;
    /** Listeners serving only /metrics (see server.ts), closed with the app. */
    metricsListeners: Set<Server>;
  }
}

export const metrics = fp(async (app: FastifyInstance, { services }: { services: Services }) => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  new Counter({
    name: 'hashes_computed_total',
    help: 'Image hashes computed, by signal type',
    labelNames: ['signal_type'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [type, count] of services.hashing.computed) this.inc({ signal_type: type }, count);
    },
  });
  const matchesFound = new Counter({ name: 'matches_found_total', help: 'Matches returned, by route', labelNames: ['route'], registers: [registry] });
  new Gauge({
    name: 'index_entries',
    help: 'Entries in the in-memory content indexes, by signal type',
    labelNames: ['signal_type', 'owner'],
    registers: [registry],
    collect() {
      if (!services.ready) return;
      for (const type of SIGNAL_TYPE_NAMES) this.set({ signal_type: type, owner: 'content' }, services.indexes.size('content', type));
    },
  });
  app.decorate('metricsRegistry', registry);
  const listeners = new Set<Server>();
  app.decorate('metricsListeners', listeners);
  app.addHook('onClose', async () => {
    for (const server of listeners) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A scraper's kept-alive connection would hold the close open.
      server.closeAllConnections();
      await closed;
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    // Unknown URLs share one label, so scanners cannot blow up the series count.
    const route = request.routeOptions.url ?? 'unmatched';
    const isCase = route.startsWith('/v1/cases');
    if (isCase && reply.statusCode < 500) return;
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    // Not for a victim's case: what was found for her is hers (the audit log leaves it out too).
    if (reply.matchCount && !isCase) matchesFound.inc({ route }, reply.matchCount);
  });
  app.get('/metrics', { config: { permission: 'metrics' }, schema: { hide: true } }, async (_request, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
});
