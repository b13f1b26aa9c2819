/** Banks: named collections of captured content, each with optional threshold overrides. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Bank } from '../../services/banks.js';
import type { Services } from '../../services/services.js';
import { deleteRoute, errorResponses, IdParam, PerceptualThresholds } from '../schemas.js';

const BankName = Type.String({ minLength: 1, maxLength: 200, description: 'Unique.' });
const BankDescription = Type.String({ maxLength: 10_000 });
const PdqThreshold = Type.Integer({
  minimum: 0,
  maximum: 256,
  description: 'PDQ threshold in bits for this bank, for whole-image and region hashes: shorthand for `thresholds.pdq` and `thresholds.pdq-region`, as on /v1/match.',
});

const BankOutput = Type.Object(
  {
    id: Type.Integer(),
    name: Type.String(),
    description: Type.String(),
    thresholds: Type.Object(
      Object.fromEntries(Object.keys(PerceptualThresholds.properties).map((name) => [name, Type.Optional(Type.Integer())])),
      { description: "This bank's overrides of the signal types' default thresholds; empty when it has none." },
    ),
    createdAt: Type.String(),
    updatedAt: Type.String(),
  },
  { $id: 'Bank', title: 'Bank' },
);

const NewBankBody = Type.Object(
  { name: BankName, description: Type.Optional(BankDescription), threshold: Type.Optional(PdqThreshold), thresholds: Type.Optional(PerceptualThresholds) },
  { additionalProperties: false, title: 'NewBank' },
);

const BankPatchBody = Type.Object(
  {
    name: Type.Optional(BankName),
    description: Type.Optional(BankDescription),
    threshold: Type.Optional(PdqThreshold),
    thresholds: Type.Optional(Type.Union([PerceptualThresholds, Type.Null()], { description: 'Replaces every override; null clears them.' })),
  },
  { additionalProperties: false, minProperties: 1, title: 'BankPatch' },
);

function bankBody(bank: Bank) {
  return { id: bank.id, name: bank.name, description: bank.description, thresholds: bank.thresholds, createdAt: bank.createdAt, updatedAt: bank.updatedAt };
}

const described = (description: string) => ({ ...Type.Ref('Bank'), description });
const common = { config: { permission: 'banks' as const } };
const tags = ['banks'];

const createBank = {
  ...common,
  schema: {
    tags,
    operationId: 'createBank',
    summary: 'Create a bank',
    description:
      '`threshold` sets the PDQ threshold for matches in this bank, of whole images and of regions; `thresholds` may set the perceptual types one by one. ' +
      "Without them the types' defaults apply. MD5 and SHA-256 always match exactly. A value above a type's ceiling is refused.",
    body: NewBankBody,
    response: { 201: described('The new bank.'), ...errorResponses(400, 401, 403, 409) },
  },
};

const listBanks = {
  ...common,
  schema: {
    tags,
    operationId: 'listBanks',
    summary: 'List banks',
    response: { 200: Type.Object({ banks: Type.Array(Type.Ref('Bank')) }, { description: 'Every bank.' }), ...errorResponses(401, 403) },
  },
};

const getBank = {
  ...common,
  schema: { tags, operationId: 'getBank', summary: 'One bank', params: IdParam, response: { 200: described('The bank.'), ...errorResponses(400, 401, 403, 404) } },
};

const updateBank = {
  ...common,
  schema: {
    tags,
    operationId: 'updateBank',
    summary: 'Rename a bank or change its description or thresholds',
    description: '`threshold` changes the PDQ overrides (whole image and regions) and keeps the others; `thresholds` replaces them all (null clears them).',
    params: IdParam,
    body: BankPatchBody,
    response: { 200: described('The bank as changed.'), ...errorResponses(400, 401, 403, 404, 409) },
  },
};

const deleteBank = deleteRoute('banks', 'banks', 'deleteBank', 'Delete a bank with all its content; its hashes stop matching at once');

export async function bankRoutes(untyped: FastifyInstance, { services }: { services: Services }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.addSchema(BankOutput);
  app.post('/v1/banks', createBank, async (request, reply) => reply.code(201).send(bankBody(services.banks.create(request.body))));
  app.get('/v1/banks', listBanks, async () => ({ banks: services.banks.list().map(bankBody) }));
  app.get('/v1/banks/:id', getBank, async (request) => bankBody(services.banks.get(request.params.id)));
  app.patch('/v1/banks/:id', updateBank, async (request) => bankBody(services.banks.update(request.params.id, request.body)));
  app.delete('/v1/banks/:id', deleteBank, async (request, reply) => {
    services.banks.delete(request.params.id);
    return reply.code(204).send(null);
  });
}
