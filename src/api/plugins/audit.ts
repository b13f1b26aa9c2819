/**
 * Audit log of every lookup and change under /v1: who (key id or anonymous
 * client), what (method and route), when, the outcome and the match count.
 * Never the query hash, the image, a PIN, or a client address. Nor, for a
 * victim's case, its number or what was found: the number is half of her
 * credentials, and a withdrawal must not leave behind a record of her case,
 * how often she looked and how many copies were found. For the same reason an
 * anonymous caller of the case routes is just "anonymous": the keyed hash of
 * her address would tie her registration, each look and her withdrawal
 * together.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Services } from '../../services/services.js';

declare module 'fastify' {
  interface FastifyReply {
    /** Set by routes that match, for the audit log and metrics. */
    matchCount: number | null;
  }
}

export const audit = fp(async (app: FastifyInstance, { services }: { services: Services }) => {
  app.decorateReply('matchCount', null);
  // What the services record while serving a request is on its caller's behalf (after auth has named the caller).
  app.addHook('onRequest', (request, _reply, done) => {
    const isCase = request.routeOptions.url?.startsWith('/v1/cases') ?? false;
    services.trail.runAs(isCase && request.principal.keyId === null ? 'anonymous' : request.principal.actor, done);
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    if (!route?.startsWith('/v1/') || !request.principal) return;
    const isCase = route.startsWith('/v1/cases');
    const params = request.params as Record<string, string> | undefined;
    const target = !isCase && params && Object.keys(params).length > 0 ? Object.entries(params).map(([k, v]) => `${k}=${v}`).join(',') : null;
    services.audit.append({
      at: new Date().toISOString(),
      actor: isCase && request.principal.keyId === null ? 'anonymous' : request.principal.actor,
      action: `${request.method} ${route}`,
      target,
      status: reply.statusCode,
      matchCount: isCase ? null : reply.matchCount,
    });
  });
});
