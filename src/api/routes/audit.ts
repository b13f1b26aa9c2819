/**
 * The audit log, for administrators: who did what and when, newest first, a
 * page at a time. Each entry carries its hash and the previous entry's, so a
 * reader can check the chain (`ncii-match audit verify` checks all of it).
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../services/services.js';
import { errorResponses } from '../schemas.js';

const DEFAULT_LIMIT = 100;

const AuditQuery = Type.Object(
  {
    actor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only this caller: `key:3`, `anonymous`, `cli`, `service`.' })),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Only this action: `POST /v1/match`, `content.ingested`, `key.revoked`...' })),
    since: Type.Optional(Type.String({ format: 'date-time', description: 'Entries at or after this time (ISO-8601 with a time zone).' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'Entries before this time.' })),
    before: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'The `nextBefore` of the previous page.' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: DEFAULT_LIMIT })),
  },
  { additionalProperties: false },
);

const AuditEntryBody = Type.Object({
  id: Type.Integer(),
  at: Type.String({ description: 'When (ISO-8601 UTC).' }),
  actor: Type.String({ description: '`key:<id>`, `anonymous:<keyed hash of the network>`, `anonymous` (victims), `cli` or `service`.' }),
  action: Type.String({ description: 'A request (`METHOD /route`) or what the service did (`case.created`, `content.ingested`, `key.created`...).' }),
  target: Type.Union([Type.String(), Type.Null()], { description: 'What was acted on, if anything.' }),
  status: Type.Integer({ description: 'HTTP status of a request; 0 for what the service did.' }),
  matchCount: Type.Union([Type.Integer(), Type.Null()]),
  commitment: Type.Union([Type.String(), Type.Null()], { description: 'SHA-256 of details kept apart (a victim\'s case), if any; they are never shown here.' }),
  redacted: Type.Boolean({ description: 'The details were erased because the case was withdrawn; the entry still verifies.' }),
  prevHash: Type.String({ description: 'SHA-256 of the entry before.' }),
  hash: Type.String({ description: 'SHA-256 of this entry (see docs/evidence.md).' }),
});

const listAuditRoute = {
  config: { permission: 'audit' as const },
  schema: {
    tags: ['audit'],
    operationId: 'listAudit',
    summary: 'The audit log, newest first, a page at a time',
    description: 'Filter by actor, action and time; pass `nextBefore` as `before` for the next (older) page, null on the last.',
    querystring: AuditQuery,
    response: {
      200: Type.Object({ entries: Type.Array(AuditEntryBody), nextBefore: Type.Union([Type.Integer(), Type.Null()]) }, { title: 'AuditPage', description: 'A page of entries.' }),
      ...errorResponses(400, 401, 403),
    },
  },
};

export async function auditRoutes(untyped: FastifyInstance, { services }: { services: Services }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.get('/v1/audit', listAuditRoute, async (request) => {
    const { limit = DEFAULT_LIMIT, before, ...filter } = request.query;
    return services.trail.page(limit, before, {
      ...filter,
      since: filter.since && new Date(filter.since).toISOString(),
      until: filter.until && new Date(filter.until).toISOString(),
    });
  });
}
