/**
 * Victims' cases (src/services/cases.ts): register photos or their hashes and
 * get a case number and PIN, shown once; see what was found; withdraw.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { CASE_MAX_IMAGES, CASE_MAX_SIGNALS, type CaseCreated } from '../../services/cases.js';
import type { Services } from '../../services/services.js';
import { noBody } from '../errors.js';
import { clientNetwork } from '../plugins/auth.js';
import { DihedralVariant, errorResponses, HashText, LanguageName, RegionKind, SignalTypeName } from '../schemas.js';
import { multipartBody, readUploads } from '../uploads.js';

/** Anonymous PIN attempts count per /56: the least a household is usually given, so one home is one client. */
const PIN_CLIENT_IPV6_PREFIX_BITS = 56;

const CaseSignalInput = Type.Object(
  {
    type: SignalTypeName,
    hash: HashText,
    quality: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'PDQ quality, if the hasher gave one; under 50 is refused with LOW_QUALITY.' })),
    region: Type.Optional(RegionKind),
    variant: Type.Optional(DihedralVariant),
  },
  { additionalProperties: false, title: 'CaseSignalInput' },
);

const CreateCaseJson = Type.Object(
  { signals: Type.Array(CaseSignalInput, { minItems: 1, maxItems: CASE_MAX_SIGNALS }), language: Type.Optional(LanguageName) },
  { additionalProperties: false, title: 'CreateCaseRequest' },
);

const CreateCaseMultipart = multipartBody({
  image: Type.Array(Type.String({ contentEncoding: 'binary' }), { maxItems: CASE_MAX_IMAGES, description: `1 to ${CASE_MAX_IMAGES} photos, each in a part named \`image\`.` }),
  language: Type.Optional(LanguageName),
});

const CaseCreatedBody = Type.Object(
  {
    caseNumber: Type.String({ description: 'Shown once: keep it with the PIN. Groups of four characters; dashes optional when typed.' }),
    pin: Type.String({ description: 'Shown once: 12 digits in groups of four (dashes optional when typed). Needed with the case number to check or withdraw the case.' }),
    hashes: Type.Integer({ description: 'How many hashes were registered.' }),
    warnings: Type.Optional(
      Type.Array(Type.Object({ code: Type.String(), message: Type.String() }), {
        description: 'LOW_QUALITY, naming each photo the service can watch for only in part (a dark photo, or only its exact copies) and why.',
      }),
    ),
  },
  { title: 'CaseCreated', description: 'The case is registered: write down the case number and PIN now, they are not shown again.' },
);

export const CaseNumberParam = Type.Object({ caseNumber: Type.String({ minLength: 1, maxLength: 40 }) });
export const PinHeader = Type.Object({ 'x-case-pin': Type.String({ minLength: 1, maxLength: 40, description: 'The PIN given when the case was created.' }) });

const CaseReportBody = Type.Object(
  {
    caseNumber: Type.String(),
    status: Type.Union([Type.Literal('open'), Type.Literal('closed')]),
    createdAt: Type.String(),
    hashes: Type.Integer({ description: 'Hashes registered for this case.' }),
    found: Type.Object(
      {
        matches: Type.Integer({ description: 'Captured items that match one of your images.' }),
        platforms: Type.Array(Type.Object({ platform: Type.String(), matches: Type.Integer() })),
        groups: Type.Array(Type.Object({ platform: Type.String(), group: Type.String(), matches: Type.Integer() })),
        firstSeen: Type.Union([Type.String(), Type.Null()], { description: 'Earliest capture time (or, if unknown, when it was recorded).' }),
        lastSeen: Type.Union([Type.String(), Type.Null()]),
      },
      { description: "Counts, platforms and group names only: never other people's content, ids or message links." },
    ),
    takedown: Type.Object(
      {
        status: Type.Union([Type.Literal('open'), Type.Literal('found'), Type.Literal('all removed')], {
          description: 'open: scans have found nothing yet; found: copies were found and not all are removed; all removed: every copy found is gone.',
        }),
        items: Type.Integer({ description: 'Captured copies scheduled scans found (false matches left out).' }),
        removed: Type.Integer({ description: 'Of those, how many were taken down.' }),
        platforms: Type.Array(Type.Object({ platform: Type.String(), matches: Type.Integer() })),
        groups: Type.Array(Type.Object({ platform: Type.String(), group: Type.String(), matches: Type.Integer() })),
        firstSeen: Type.Union([Type.String(), Type.Null()]),
        lastSeen: Type.Union([Type.String(), Type.Null()]),
      },
      { description: 'What scheduled scans found and what became of it; counts, platforms, group names and times only.' },
    ),
  },
  { title: 'CaseReport', description: 'The case and what was found for it.' },
);

/** Who is trying PINs: a key, or an anonymous client's network. */
export function pinClient(request: FastifyRequest): string {
  return request.principal.keyId === null ? clientNetwork(request.ip, PIN_CLIENT_IPV6_PREFIX_BITS) : request.principal.actor;
}

const PIN_LIMITS = (services: Services) =>
  `After ${services.config.PIN_ATTEMPTS_PER_HOUR} wrong PINs in an hour for one case from one client, or ${services.config.PIN_ATTEMPTS_PER_CASE_PER_HOUR} ` +
  'from everyone, attempts on that case get 429 with Retry-After; other cases are not affected.';

const tags = ['cases'];

const createCaseRoute = {
  config: { permission: 'cases' as const },
  schema: {
    tags,
    operationId: 'createCase',
    summary: 'Register your own photos (or their hashes) as a case; get a case number and PIN, shown once',
    description:
      `multipart/form-data with up to ${CASE_MAX_IMAGES} photos in \`image\` parts (hashed in memory, never stored), or JSON ` +
      `\`{signals: [{type, hash, quality?, region?, variant?}]}\` with up to ${CASE_MAX_SIGNALS} hashes computed on your own device ` +
      '(a robust query of each photo); either may give `language` (a form field, or beside `signals`), in which her evidence packages are ' +
      'summarised. Every photo that decodes is registered; `warnings` names each one the service can watch for only in ' +
      'part (a dark photo: by its stretched contrast and regions; a featureless one: exact copies only). A PDQ hash sent with a quality ' +
      'under 50 is refused with LOW_QUALITY.',
    body: { content: { 'application/json': { schema: CreateCaseJson }, 'multipart/form-data': { schema: CreateCaseMultipart } } },
    response: { 201: CaseCreatedBody, ...errorResponses(400, 401, 413, 415, 422) },
  },
};

const getCaseRoute = (pinLimits: string) => ({
  config: { permission: 'cases' as const },
  schema: {
    tags,
    operationId: 'getCase',
    summary: 'What was found for a case: counts, platforms, group names, first and last seen',
    description: `Needs the PIN in the header \`X-Case-Pin\`. An unknown case number and a wrong PIN get the same 404. ${pinLimits}`,
    params: CaseNumberParam,
    headers: PinHeader,
    response: { 200: CaseReportBody, ...errorResponses(400, 401, 404) },
  },
});

const withdrawCaseRoute = (pinLimits: string) => ({
  config: { permission: 'cases' as const },
  schema: {
    tags,
    operationId: 'withdrawCase',
    summary: 'Withdraw a case: every hash of it is deleted and can no longer match, at once',
    description: `Needs the PIN in the header \`X-Case-Pin\`; refused and limited like reading the case. ${pinLimits}`,
    params: CaseNumberParam,
    headers: PinHeader,
    response: { 204: Type.Null({ description: 'Withdrawn: the case and all its hashes are gone.' }), ...errorResponses(400, 401, 404) },
  },
});

export async function caseRoutes(instance: FastifyInstance, { services }: { services: Services }) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const pinLimits = PIN_LIMITS(services);
  app.post('/v1/cases', createCaseRoute, async (request, reply) => reply.code(201).send(await createCase(services, request)));
  app.get('/v1/cases/:caseNumber', getCaseRoute(pinLimits), async (request, reply) => {
    const { report, matchCount } = await services.cases.read(request.params.caseNumber, request.headers['x-case-pin'], pinClient(request));
    reply.matchCount = matchCount;
    return report;
  });
  app.delete('/v1/cases/:caseNumber', withdrawCaseRoute(pinLimits), async (request, reply) => {
    await services.cases.withdraw(request.params.caseNumber, request.headers['x-case-pin'], pinClient(request));
    return reply.code(204).send(null);
  });
}

async function createCase(services: Services, request: FastifyRequest): Promise<CaseCreated> {
  if (request.isMultipart()) {
    const maxFiles = Math.min(CASE_MAX_IMAGES, services.config.MAX_FILES_PER_REQUEST);
    const { files, fields } = await readUploads(request, { fileField: 'image', maxFiles, maxTotalBytes: services.config.MAX_REQUEST_BYTES, textFields: ['language'] });
    return services.cases.createFromImages(files, fields.language);
  }
  if (!request.body) throw noBody('Send JSON {"signals": [{"type", "hash"}]} or your photos as multipart/form-data in "image" parts.');
  const { signals, language } = request.body as Static<typeof CreateCaseJson>;
  return services.cases.createFromHashes(signals, language);
}
