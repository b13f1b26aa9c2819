/** OpenAPI 3 generated from the routes' TypeBox schemas, with Swagger UI at /docs. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export const openapi = fp(async (app: FastifyInstance) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'ncii-match',
        version: '1',
        description:
          'Perceptual-hash matching for finding and removing intimate images posted without consent. Images are hashed in memory and never stored.',
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from `ncii-match keys create`.' } },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
});
