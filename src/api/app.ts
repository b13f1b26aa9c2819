/**
 * The Fastify app factory: cross-cutting plugins first (errors, auth, audit,
 * protection, metrics, OpenAPI), then one plugin per resource.
 */
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import { errorHandling } from './errors.js';
import { audit } from './plugins/audit.js';
import { auth } from './plugins/auth.js';
import { metrics } from './plugins/metrics.js';
import { openapi } from './plugins/openapi.js';
import { protection } from './plugins/protection.js';
import { hashRoutes } from './routes/hash.js';
import { healthRoutes } from './routes/health.js';
import { ErrorResponse } from './schemas.js';
import { Services } from './services.js';

export interface AppOptions {
  config: Config;
  /** Load the indexes while starting (tests); the server loads them after it listens. */
  loadIndexes?: boolean;
  logger?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

export async function buildApp({ config, loadIndexes = true, logger = true }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: logger && {
      level: config.LOG_LEVEL,
      // Never log bodies, uploads, keys, PINs or client addresses (victims use this service).
      serializers: {
        req: (req: FastifyRequest) => ({ method: req.method, url: req.routeOptions?.url ?? 'unmatched', id: req.id }),
      },
    },
    trustProxy: config.TRUST_PROXY,
    bodyLimit: 10 * 1024 * 1024,
    routerOptions: { maxParamLength: 200 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const services = new Services(config);
  app.decorate('services', services);
  app.addHook('onClose', async () => services.close());
  if (loadIndexes) services.loadIndexes();

  app.addSchema(ErrorResponse);
  await app.register(errorHandling);
  await app.register(openapi);
  await app.register(auth, { services });
  await app.register(protection, { config });
  await app.register(audit, { services });
  await app.register(metrics, { services });
  await app.register(multipart, {
    limits: { fileSize: config.MAX_IMAGE_BYTES, files: config.MAX_FILES_PER_REQUEST, fields: 20, fieldSize: 1024 * 1024, parts: config.MAX_FILES_PER_REQUEST + 20 },
  });

  await app.register(healthRoutes, { services });
  await app.register(hashRoutes, { services });
  return app;
}
