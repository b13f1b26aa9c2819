/** Liveness and readiness for orchestrators. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../services.js';

export async function healthRoutes(app: FastifyInstance, { services }: { services: Services }) {
  app.get('/healthz', { schema: { tags: ['health'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        description: '503 until the in-memory index has been loaded from the store.',
        response: { 200: Type.Object({ status: Type.Literal('ready') }), 503: Type.Object({ status: Type.Literal('loading') }) },
      },
    },
    async (_request, reply) => (services.ready ? { status: 'ready' as const } : reply.code(503).header('retry-after', '5').send({ status: 'loading' as const })),
  );
}
