/**
 * Evidence packages (src/services/evidence.ts): a signed zip of what was
 * found of a case or of chosen matches, for the authorities; a victim's own
 * with her case number and PIN; and the public keys that check them.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { EvidenceFile } from '../../services/evidence.js';
import { MAX_EVIDENCE_MATCHES } from '../../services/evidence.js';
import type { Services } from '../../services/services.js';
import { errorResponses, LanguageName } from '../schemas.js';
import { CaseNumberParam, PinHeader, pinClient } from './cases.js';

const tags = ['evidence'];
const ZipBody = Type.String({ contentEncoding: 'binary', description: 'The package: a zip (see docs/evidence.md).' });

const CreateEvidenceBody = Type.Object(
  {
    caseNumber: Type.Optional(Type.String({ minLength: 1, maxLength: 40, description: 'Every match of this case.' })),
    matchIds: Type.Optional(Type.Array(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), { minItems: 1, maxItems: MAX_EVIDENCE_MATCHES, description: 'These matches.' })),
    language: Type.Optional(LanguageName),
  },
  { additionalProperties: false },
);

const PublicKey = Type.Object({
  keyId: Type.String({ description: 'SHA-256 of the key in DER form (its fingerprint), hex.' }),
  publicKey: Type.String({ description: 'Ed25519 public key, PEM.' }),
  createdAt: Type.String(),
  retiredAt: Type.Union([Type.String(), Type.Null()], { description: 'When another key took over; it still checks what it signed.' }),
  current: Type.Boolean({ description: 'The key signing packages now.' }),
});

function sendZip(reply: FastifyReply, file: EvidenceFile) {
  return reply
    .type('application/zip')
    .header('content-disposition', `attachment; filename="${file.fileName}"`)
    .serializer((body: unknown) => body as string)
    .send(Buffer.from(file.bytes) as never);
}

export async function evidenceRoutes(untyped: FastifyInstance, { services }: { services: Services }) {
  const app = untyped.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/v1/evidence',
    {
      config: { permission: 'evidence' },
      schema: {
        tags,
        operationId: 'createEvidence',
        summary: 'A signed evidence package (zip) of a case or of chosen matches',
        description: 'Give `caseNumber` or `matchIds`. No image or hash is in the package. Check it offline with `ncii-match verify-evidence`.',
        body: CreateEvidenceBody,
        response: { 200: ZipBody, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request, reply) => sendZip(reply, services.evidence.create(request.body)),
  );
  app.get(
    '/v1/cases/:caseNumber/evidence',
    {
      config: { permission: 'cases' },
      schema: {
        tags,
        operationId: 'getCaseEvidence',
        summary: 'Your own case\'s evidence package, with your case number and PIN',
        params: CaseNumberParam,
        headers: PinHeader,
        querystring: Type.Object({ language: Type.Optional(LanguageName) }, { additionalProperties: false }),
        response: { 200: ZipBody, ...errorResponses(400, 401, 404, 429) },
      },
    },
    async (request, reply) =>
      sendZip(reply, await services.evidence.forVictim(request.params.caseNumber, request.headers['x-case-pin'], pinClient(request), request.query.language)),
  );
  app.get(
    '/v1/evidence/public-key',
    {
      schema: {
        tags,
        operationId: 'listEvidenceKeys',
        summary: 'Every public key that has signed evidence packages; `current` marks the one signing now',
        response: { 200: Type.Object({ keys: Type.Array(PublicKey) }, { title: 'EvidenceKeys', description: 'The public keys that check evidence packages.' }), ...errorResponses(400) },
      },
    },
    async () => ({ keys: services.signing.publicKeys() }),
  );
}
