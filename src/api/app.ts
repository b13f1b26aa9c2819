/**
 * The Fastify app factory: cross-cutting plugins first (errors, auth, audit,
 * protection, metrics, OpenAPI), then one plugin per resource.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteOptions } from 'fastify';
import { Type } from 'typebox';
import { type Config, trustProxySetting } from '../config.js';
import { errorHandling } from './errors.js';
import { audit } from './plugins/audit.js';
import { auth, type Permission, ROLE_PERMISSIONS } from './plugins/auth.js';
import { metrics } from './plugins/metrics.js';
import { openapi } from './plugins/openapi.js';
import { protection, SECURITY_HEADERS } from './plugins/protection.js';
import { hashRoutes } from './routes/hash.js';
import { matchRoutes } from './routes/match.js';
import { bankRoutes } from './routes/banks.js';
import { contentRoutes } from './routes/content.js';
import { healthRoutes } from './routes/health.js';
import { caseRoutes } from './routes/cases.js';
import { batchRoutes } from './routes/batches.js';
import { webhookRoutes } from './routes/webhooks.js';
import { webPages } from './plugins/web.js';
import { auditRoutes } from './routes/audit.js';
import { evidenceRoutes } from './routes/evidence.js';
import { matchesRoutes } from './routes/matches.js';
import { scanRoutes } from './routes/scans.js';
import { exchangeRoutes } from './routes/exchange.js';
import { ErrorResponse } from './schemas.js';
import { Services } from '../services/services.js';
import { uploadMemory } from './uploads.js';
import { buildValidator } from './validation.js';

export interface AppOptions {
  config: Config;
  /** Load the indexes while starting (tests); the server loads them after it listens. */
  loadIndexes?: boolean;
  logger?: boolean;
  /** Where log lines go instead of stdout (tests read them back to check what is logged). */
  logStream?: NodeJS.WritableStream;
}

/** One registered route and the permission it needs (absent = open to all). */
export interface RouteEntry {
  method: string;
  url: string;
  permission: Permission | undefined;
  /** Health probes answer whatever Authorization says. */
  ignoresCredentials: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
    /** Every route as registered, so tests can cover each (route x role) pair as routes are added. */
    routeTable: RouteEntry[];
  }
}

/**
 * What every route can answer besides its own responses, in its OpenAPI
 * entry: 400 (a broken address) and 401 (an Authorization header naming no
 * live key) anywhere, 413 and 415 wherever a body is read; and whether a key
 * is needed (security), optional where anonymous callers are served too.
 */
function documentCommonAnswers(route: RouteOptions): void {
  const schema = route.schema;
  if (!schema || schema.hide) return;
  const response = (schema.response ?? {}) as Record<string, unknown>;
  const statuses = [400, 401, ...(schema.body ? [413, 415] : [])];
  schema.response = { ...Object.fromEntries(statuses.map((s) => [s, Type.Ref('ErrorResponse')])), ...response };
  const permission = route.config?.permission;
  (schema as { security?: unknown }).security = !permission || ROLE_PERMISSIONS.anonymous.has(permission) ? [{}, { apiKey: [] }] : [{ apiKey: [] }];
}

/**
 * Requests that are not HTTP never reach a route: answered in the API's error
 * shape, and logged by code only (Fastify's own handler logs the raw bytes,
 * keys and PINs included).
 */
function answerClientError(app: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'REQUEST_TIMEOUT', 'The request took too long to arrive.']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'HEADERS_TOO_LARGE', 'The request headers are too large.']
        : [400, 'BAD_REQUEST', 'The request is not valid HTTP.'];
  app.log.trace({ code: err.code }, 'client error');
  if (socket.writable) {
    const body = JSON.stringify({ error: { code, message } });
    const headers = SECURITY_HEADERS.map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers}Connection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** Errors raised before routing (a broken percent-escape in the path) skip every hook: answered here in the API's own shape. */
function answerFrameworkError(error: FastifyError, rawReply: unknown): void {
  // Typed for no route in particular (no response schema), so any body is allowed.
  const reply = rawReply as FastifyReply;
  for (const [name, value] of SECURITY_HEADERS) reply.header(name, value);
  const badUrl = error.code === 'FST_ERR_BAD_URL';
  void reply
    .code(400)
    .send({ error: { code: badUrl ? 'BAD_URL' : 'BAD_REQUEST', message: badUrl ? 'The address has a broken percent-escape (a % not followed by two hex digits).' : 'The request could not be routed.' } });
}

function loggerOptions({ config, logger = true, logStream }: AppOptions) {
  return (
    logger && {
      level: config.LOG_LEVEL,
      ...(logStream ? { stream: logStream } : {}),
      // Plugins log request headers at trace level: never any (keys, PINs, forwarded client addresses).
      redact: { paths: ['headers', '*.headers'], censor: '[redacted]' },
      // Never log bodies, uploads, keys, PINs or client addresses (victims use this service).
      serializers: { req: (req: FastifyRequest) => ({ method: req.method, url: req.routeOptions?.url ?? 'unmatched', id: req.id }) },
    }
  );
}

/** Cross-cutting plugins first (errors, OpenAPI, protection, auth, audit, metrics, uploads), then one plugin per resource. */
async function registerPlugins(app: FastifyInstance, services: Services, config: Config): Promise<void> {
  app.addSchema(ErrorResponse);
  await app.register(errorHandling);
  await app.register(openapi);
  // Before auth: its 401s and 403s carry the security headers too, and load is shed before keys are looked up.
  await app.register(protection, { config });
  await app.register(auth, { services });
  await app.register(audit, { services });
  await app.register(metrics, { services });
  await app.register(uploadMemory, { limit: config.MAX_UPLOAD_MEMORY_BYTES, maxFileBytes: config.MAX_IMAGE_BYTES });
  await app.register(multipart, {
    limits: { fileSize: config.MAX_IMAGE_BYTES, files: config.MAX_FILES_PER_REQUEST, fields: 20, fieldSize: 1024 * 1024, parts: config.MAX_FILES_PER_REQUEST + 20 },
    // readUploads (the only reader of files) checks each file's size itself, so it can name the file or keep a batch going.
    throwFileSizeLimit: false,
    // Busboy 3.2.6 stalls for good (no error, no end) on a skipped part (one without a form-data
    // Content-Disposition) that fills its buffer before it flows: with a mark no chunk can reach, it never does.
    fileHwm: config.MAX_REQUEST_BYTES,
  });
  for (const routes of [healthRoutes, hashRoutes, matchRoutes, bankRoutes, contentRoutes, caseRoutes, batchRoutes, scanRoutes, matchesRoutes, webhookRoutes, auditRoutes, evidenceRoutes, exchangeRoutes]) {
    await app.register(routes, { services });
  }
  await app.register(webPages, { config });
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, loadIndexes = true } = options;
  const app: FastifyInstance = Fastify({
    logger: loggerOptions(options),
    trustProxy: trustProxySetting(config.TRUST_PROXY),
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(app, err, socket),
    bodyLimit: 10 * 1024 * 1024,
    routerOptions: { maxParamLength: 200 },
    // verbose: a refusal carries the value refused, so a message can name it (see errors.ts).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false, verbose: true } },
    schemaController: { compilersFactory: { buildValidator } },
    frameworkErrors: (error, _request, reply) => answerFrameworkError(error, reply),
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Bodies are JSON or multipart; a text/plain body would reach JSON handlers as a string.
  app.removeContentTypeParser('text/plain');

  const services = new Services(config, app.log);
  app.decorate('services', services);
  // Batch items in flight finish and are recorded before the store closes.
  app.addHook('preClose', async () => {
    await services.scans.close();
    await services.batchRunner.close();
    await services.webhookDispatcher.close();
  });
  app.addHook('onClose', async () => services.close());
  if (loadIndexes) await services.loadIndexes();

  const routeTable: RouteEntry[] = [];
  app.decorate('routeTable', routeTable);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routeTable.push({ method, url: route.url, permission: route.config?.permission, ignoresCredentials: route.config?.ignoresCredentials ?? false });
    documentCommonAnswers(route);
  });
  await registerPlugins(app, services, config);
  return app;
}
