/**
 * Takedown teams' webhooks (src/services/webhooks.ts): signed POSTs when a
 * scan run finds new matches and when a match's status changes, with a log
 * of every delivery attempt.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../services/services.js';
import { WEBHOOK_EVENTS, WEBHOOK_URL_MAX_LENGTH, type WebhookOwner } from '../../services/webhooks.js';
import { errorResponses } from '../schemas.js';

const EventName = Type.Union(
  WEBHOOK_EVENTS.map((e) => Type.Literal(e)),
  { description: '`scan.run.finished`: a scan run found new matches. `match.status.changed`: a match was reported, removed or dismissed.' },
);

const CreateWebhook = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: WEBHOOK_URL_MAX_LENGTH, description: 'http or https; must resolve to public addresses unless its host is in WEBHOOK_ALLOW_HOSTS.' }),
    events: Type.Array(EventName, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true }),
  },
  { additionalProperties: false },
);

const WebhookBody = Type.Object(
  { id: Type.Integer(), url: Type.String(), events: Type.Array(Type.String()), createdAt: Type.String() },
  { $id: 'Webhook', title: 'Webhook', description: 'A webhook (its secret is shown only when it is created).' },
);

const CreatedWebhook = Type.Object(
  {
    id: Type.Integer(),
    url: Type.String(),
    events: Type.Array(Type.String()),
    createdAt: Type.String(),
    secret: Type.String({ description: 'Signs every delivery (X-NCII-Signature). Shown now and never again: keep it.' }),
  },
  { title: 'WebhookCreated', description: 'The new webhook with its signing secret.' },
);

const DeliveryBody = Type.Object(
  {
    id: Type.Integer({ description: 'Also sent as the X-NCII-Delivery header (the same on every attempt of a delivery).' }),
    event: Type.String(),
    state: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
    attempts: Type.Integer(),
    nextAttemptAt: Type.Union([Type.String(), Type.Null()], { description: 'When a pending delivery is tried again.' }),
    createdAt: Type.String(),
    log: Type.Array(
      Type.Object({
        attempt: Type.Integer(),
        at: Type.String(),
        statusCode: Type.Union([Type.Integer(), Type.Null()], { description: "The receiver's HTTP status; null when it did not answer." }),
        error: Type.Union([Type.String(), Type.Null()], { description: 'Why the attempt failed; null when it succeeded.' }),
      }),
    ),
  },
  { title: 'WebhookDelivery' },
);

const WebhookParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });
const DeliveryPage = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  before: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Deliveries older than this delivery id (`nextBefore` of the previous page).' })),
});

const tags = ['webhooks'];
const config = { permission: 'webhooks' as const };
const owner = (request: FastifyRequest): WebhookOwner => ({ keyId: request.principal.keyId!, admin: request.principal.role === 'admin' });

export async function webhookRoutes(instance: FastifyInstance, { services }: { services: Services }) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(WebhookBody);
  app.post(
    '/v1/webhooks',
    {
      config,
      schema: { tags, operationId: 'createWebhook', summary: 'Register a webhook; the answer holds its signing secret, shown once', body: CreateWebhook, response: { 201: CreatedWebhook, ...errorResponses(400, 401, 403) } },
    },
    async (request, reply) => reply.code(201).send(await services.webhooks.create(owner(request), request.body)),
  );
  app.get(
    '/v1/webhooks',
    { config, schema: { tags, operationId: 'listWebhooks', summary: "This key's webhooks (an admin's: every one)", response: { 200: Type.Object({ webhooks: Type.Array(Type.Ref('Webhook')) }, { title: 'WebhookList' }), ...errorResponses(401, 403) } } },
    async (request) => ({ webhooks: services.webhooks.list(owner(request)) }),
  );
  app.delete(
    '/v1/webhooks/:id',
    { config, schema: { tags, operationId: 'deleteWebhook', summary: 'Delete a webhook with its pending deliveries and log', params: WebhookParams, response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404) } } },
    async (request, reply) => {
      services.webhooks.delete(owner(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
  app.get(
    '/v1/webhooks/:id/deliveries',
    {
      config,
      schema: {
        tags,
        operationId: 'listWebhookDeliveries',
        summary: "A webhook's deliveries, newest first, each with every attempt (status code or error, time)",
        params: WebhookParams,
        querystring: DeliveryPage,
        response: { 200: Type.Object({ deliveries: Type.Array(DeliveryBody), nextBefore: Type.Union([Type.Integer(), Type.Null()]) }, { title: 'WebhookDeliveryLog' }), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => services.webhooks.deliveries(owner(request), request.params.id, { limit: request.query.limit ?? 50, beforeId: request.query.before }),
  );
}
