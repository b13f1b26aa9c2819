/**
 * Cross-cutting protection: security headers, rate limits per key or client,
 * and shedding load with 503 + Retry-After instead of queueing without bound.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import helmet, { type HelmetOptions } from 'helmet';
import type { Config } from '../../config.js';
import { ApiError } from '../errors.js';
import { clientNetwork } from './auth.js';

/** Swagger UI needs its own inline styles; everything else is JSON. */
const HELMET_OPTIONS: HelmetOptions = {
  contentSecurityPolicy: { directives: { 'script-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:'] } },
};

/**
 * The headers helmet sets with `options`, in its order, read once from its
 * middleware. They do not depend on the request: @fastify/helmet rebuilt every
 * middleware and parsed the policy again on each request (about 6 µs of every
 * request). helmet also removes X-Powered-By, which Fastify never sets.
 */
function helmetHeaders(options: HelmetOptions): readonly (readonly [string, string])[] {
  const headers: [string, string][] = [];
  const response = {
    setHeader: (name: string, value: unknown) => headers.push([name, String(value)]),
    removeHeader: () => {},
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
  });
  return headers;
}

/**
 * Helmet's headers, and no-store: answers hold case numbers, PINs, hashes and
 * what was found, which no browser or shared cache may keep.
 */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = [...helmetHeaders(HELMET_OPTIONS), ['cache-control', 'no-store']];

export const protection = fp(async (app: FastifyInstance, { config }: { config: Config }) => {
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of SECURITY_HEADERS) reply.raw.setHeader(name, value);
    done();
  });
  await app.register(underPressure, {
    maxEventLoopDelay: config.MAX_EVENT_LOOP_DELAY_MS,
    retryAfter: 10,
    exposeStatusRoute: false,
    pressureHandler: (_request, _reply, type, value) => {
      // No delay sample in the last interval (the loop was busy all of it, as while the app compiles its
      // schemas at start): not a measurement of overload; the next interval's samples are.
      if (type === 'eventLoopDelay' && !Number.isFinite(Number(value))) return;
      throw new ApiError(503, 'OVERLOADED', `The service is overloaded (${type} ${Math.round(Number(value))}); try again shortly.`, { 'retry-after': '10' });
    },
  });
  await app.register(rateLimit, {
    global: true,
    timeWindow: '1 minute',
    // Keyed callers are counted per key, anonymous ones per address (IPv6: per /64).
    keyGenerator: (request) => (request.principal?.keyId != null ? `key:${request.principal.keyId}` : `ip:${clientNetwork(request.ip)}`),
    max: (request) => (request.principal?.keyId != null ? config.KEYED_REQUESTS_PER_MINUTE : config.ANONYMOUS_REQUESTS_PER_MINUTE),
    // By the route matched, not the raw URL: /%761/cases is routed to /v1/cases and must be counted as it.
    allowList: (request) => !request.routeOptions.url?.startsWith('/v1/'),
    hook: 'preHandler',
    errorResponseBuilder: (_request, context) =>
      new ApiError(429, 'RATE_LIMITED', `Too many requests; try again in ${Math.ceil(context.ttl / 1000)} seconds.`, { 'retry-after': String(Math.ceil(context.ttl / 1000)) }),
  });
});
