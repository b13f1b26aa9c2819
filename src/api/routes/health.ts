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
        response: {
          200: Type.Object({ status: Type.Literal('ok') }, { description: 'The process is alive.' }),
          503: Type.Object({ status: Type.Literal('failed') }, { description: 'The index worker has failed: restart the process.' }),
        },
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
        response: {
          200: Type.Object({ status: Type.Literal('ready') }, { description: 'The index is loaded: requests are answered.' }),
          503: Type.Object({ status: Type.Union([Type.Literal('loading'), Type.Literal('failed')]) }, { description: 'Still loading the index (try again after Retry-After), or failed.' }),
        },
      },
    },
    async (_request, reply) => {
      if (services.ready) return { status: 'ready' as const };
      return reply.code(503).header('retry-after', '5').send({ status: services.indexFailed ? ('failed' as const) : ('loading' as const) });
    },
  );
}
