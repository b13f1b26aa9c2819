/** Liveness and readiness for orchestrators. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../services/services.js';

export async function healthRoutes(app: FastifyInstance, { services }: { services: Services }) {
  app.get(
    '/healthz',
    {
      config: { ignoresCredentials: true },
      schema: {
        operationId: 'health',
        summary: 'Liveness',
        tags: ['health'],
        description: 'Liveness: 503 once the index worker has failed, which only a restart mends, so an orchestrator restarts the process.',
        response: { 200: Type.Object({ status: Type.Literal('ok') }), 503: Type.Object({ status: Type.Literal('failed') }) },
      },
    },
    async (_request, reply) => (services.indexFailed ? reply.code(503).send({ status: 'failed' as const }) : { status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      config: { ignoresCredentials: true },
      schema: {
        operationId: 'ready',
        summary: 'Readiness',
        tags: ['health'],
        description: '503 until the in-memory index has been loaded from the store, and after its worker has failed.',
        response: { 200: Type.Object({ status: Type.Literal('ready') }), 503: Type.Object({ status: Type.Union([Type.Literal('loading'), Type.Literal('failed')]) }) },
      },
    },
    async (_request, reply) => {
      if (services.ready) return { status: 'ready' as const };
      return reply.code(503).header('retry-after', '5').send({ status: services.indexFailed ? ('failed' as const) : ('loading' as const) });
    },
  );
}
