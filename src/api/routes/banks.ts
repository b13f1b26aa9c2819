/** Banks: named collections of captured content, each with optional threshold overrides. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { type Static, Type } from 'typebox';
import type { Bank, ThresholdsByType } from '../../store/store.js';
import { badRequest } from '../errors.js';
import type { Services } from '../services.js';
import { errorResponses, IdParam, PerceptualThresholds } from '../schemas.js';

const BankName = Type.String({ minLength: 1, maxLength: 200, description: 'Unique.' });
const BankDescription = Type.String({ maxLength: 10_000 });
const PdqThreshold = Type.Integer({
  minimum: 0,
  maximum: 256,
  description: 'PDQ threshold in bits for this bank, for whole-image and region hashes: shorthand for `thresholds.pdq` and `thresholds.pdq-region`, as on /v1/match.',
});

const BankOutput = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  description: Type.String(),
  thresholds: Type.Object(
    { pdq: Type.Optional(Type.Integer()), blockhash: Type.Optional(Type.Integer()), 'pdq-region': Type.Optional(Type.Integer()) },
    { description: "This bank's overrides of the signal types' default thresholds; empty when it has none." },
  ),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const NewBankBody = Type.Object(
  {
    name: BankName,
    description: Type.Optional(BankDescription),
    threshold: Type.Optional(PdqThreshold),
    thresholds: Type.Optional(PerceptualThresholds),
  },
  { additionalProperties: false },
);

const BankPatchBody = Type.Object(
  {
    name: Type.Optional(BankName),
    description: Type.Optional(BankDescription),
    threshold: Type.Optional(PdqThreshold),
    thresholds: Type.Optional(Type.Union([PerceptualThresholds, Type.Null()], { description: 'Replaces every override; null clears them.' })),
  },
  { additionalProperties: false, minProperties: 1 },
);

function bankBody(bank: Bank) {
  return { id: bank.id, name: bank.name, description: bank.description, thresholds: bank.thresholds, createdAt: bank.createdAt, updatedAt: bank.updatedAt };
}

export async function bankRoutes(untyped: FastifyInstance, { services }: { services: Services }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  /**
   * `threshold` and `thresholds` combined into one override set. `threshold`
   * is the PDQ threshold for whole-image and region hashes alike (robust
   * matching, the default, finds most copies through regions: a bank made
   * strict must be strict there too). Values above the deployment's ceiling
   * are refused here rather than silently lowered at every match: a bank's
   * owner should know the bank cannot match that loosely.
   */
  function overrides(threshold: number | undefined, thresholds: Static<typeof PerceptualThresholds> | undefined, base: ThresholdsByType): Record<string, number> {
    for (const type of ['pdq', 'pdq-region'] as const) {
      if (threshold !== undefined && thresholds?.[type] !== undefined && threshold !== thresholds[type]) {
        throw badRequest('INVALID_REQUEST', `"threshold" and "thresholds.${type}" disagree; send one of them.`);
      }
    }
    const merged: Record<string, number> = { ...base, ...thresholds, ...(threshold === undefined ? {} : { pdq: threshold, 'pdq-region': threshold }) };
    for (const [type, value] of Object.entries(merged)) {
      const ceiling = services.matcher.ceiling(type);
      if (value > ceiling) throw badRequest('INVALID_REQUEST', `The ${type} threshold ${value} is above this service's ceiling of ${ceiling}.`);
    }
    return merged;
  }

  const common = { config: { permission: 'banks' as const } };

  app.post(
    '/v1/banks',
    {
      ...common,
      schema: {
        tags: ['banks'],
        summary: 'Create a bank',
        description:
          '`threshold` sets the PDQ threshold for matches in this bank, of whole images and of regions; `thresholds` may set pdq, pdq-region and blockhash one by one. ' +
          "Without them the types' defaults apply. MD5 and SHA-256 always match exactly. A value above the service's ceiling is refused.",
        body: NewBankBody,
        response: { 201: BankOutput, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const { name, description, threshold, thresholds } = request.body;
      const bank = services.store.createBank({ name, description, thresholds: overrides(threshold, thresholds, {}) });
      return reply.code(201).send(bankBody(bank));
    },
  );

  app.get(
    '/v1/banks',
    {
      ...common,
      schema: { tags: ['banks'], summary: 'List banks', response: { 200: Type.Object({ banks: Type.Array(BankOutput) }), ...errorResponses(401, 403) } },
    },
    async () => ({ banks: services.store.listBanks().map(bankBody) }),
  );

  app.get(
    '/v1/banks/:id',
    {
      ...common,
      schema: { tags: ['banks'], summary: 'One bank', params: IdParam, response: { 200: BankOutput, ...errorResponses(400, 401, 403, 404) } },
    },
    async (request) => bankBody(services.store.getBank(request.params.id)),
  );

  app.patch(
    '/v1/banks/:id',
    {
      ...common,
      schema: {
        tags: ['banks'],
        summary: 'Rename a bank or change its description or thresholds',
        description: '`threshold` changes the PDQ overrides (whole image and regions) and keeps the others; `thresholds` replaces them all (null clears them).',
        params: IdParam,
        body: BankPatchBody,
        response: { 200: BankOutput, ...errorResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { name, description, threshold, thresholds } = request.body;
      const base = thresholds === undefined ? services.store.getBank(id).thresholds : {};
      const changesThresholds = threshold !== undefined || thresholds !== undefined;
      const bank = services.store.updateBank(id, {
        name,
        description,
        thresholds: changesThresholds ? overrides(threshold, thresholds ?? undefined, base) : undefined,
      });
      return bankBody(bank);
    },
  );

  app.delete(
    '/v1/banks/:id',
    {
      ...common,
      schema: {
        tags: ['banks'],
        summary: 'Delete a bank with all its content; its hashes stop matching at once',
        params: IdParam,
        response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      services.store.deleteBank(request.params.id);
      return reply.code(204).send(null);
    },
  );
}
