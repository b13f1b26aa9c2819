/**
 * Cross-cutting protection: security headers, rate limits per key or client,
 * and shedding load with 503 + Retry-After instead of queueing without bound.
 */
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { ApiError } from '../errors.js';

/**
 * The headers helmet 8 sets with its defaults and this Content-Security-Policy
 * (Swagger UI needs its own inline styles; everything else is JSON):
 *
 *   contentSecurityPolicy: { directives: { 'script-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:'] } }
 *
 * in helmet's order. They are the same for every request, so they are set as
 * constants: @fastify/helmet rebuilt every middleware, and parsed the policy
 * again, on each request. A test checks them against @fastify/helmet's output
 * with those options (helmet also removes X-Powered-By, which Fastify never sets).
 */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  [
    'Content-Security-Policy',
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;" +
      "object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' 'unsafe-inline';upgrade-insecure-requests",
  ],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Origin-Agent-Cluster', '?1'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-DNS-Prefetch-Control', 'off'],
  ['X-Download-Options', 'noopen'],
  ['X-Frame-Options', 'SAMEORIGIN'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
  ['X-XSS-Protection', '0'],
];

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
      throw new ApiError(503, 'OVERLOADED', `The service is overloaded (${type} ${Math.round(Number(value))}); try again shortly.`, { 'retry-after': '10' });
    },
  });
  await app.register(rateLimit, {
    global: true,
    timeWindow: '1 minute',
    // Keyed callers are counted per key, anonymous ones per address.
    keyGenerator: (request) => (request.principal?.keyId != null ? `key:${request.principal.keyId}` : `ip:${request.ip}`),
    max: (request) => (request.principal?.keyId != null ? config.KEYED_REQUESTS_PER_MINUTE : config.ANONYMOUS_REQUESTS_PER_MINUTE),
    allowList: (request) => !request.url.startsWith('/v1/'),
    hook: 'preHandler',
    errorResponseBuilder: (_request, context) =>
      new ApiError(429, 'RATE_LIMITED', `Too many requests; try again in ${Math.ceil(context.ttl / 1000)} seconds.`, { 'retry-after': String(Math.ceil(context.ttl / 1000)) }),
  });
});
