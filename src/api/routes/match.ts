/**
 * POST /v1/match: is this image (or are these hashes) in any bank of captured
 * content, and where was it seen? Nothing about the query is stored; the
 * audit log keeps only who asked and how many matches came back.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import type { MatchResponse } from '../../services/matching.js';
import type { Services } from '../../services/services.js';
import { ServerTiming } from '../../services/timing.js';
import { noBody } from '../errors.js';
import { can, requirePermission } from '../plugins/auth.js';
import { AppliedThreshold, errorResponses, MatchedItem, MAX_QUERY_SIGNALS, QueryOptionFields, QueryOptionFormFields, SignalList, Warning } from '../schemas.js';
import { multipartBody, readUploads } from '../uploads.js';

const MatchJsonBody = Type.Object(
  {
    signals: SignalList,
    ...QueryOptionFields,
    dihedral: Type.Optional(
      Type.Boolean({
        description:
          'Only `false` is accepted here: the rotations and mirrors of a PDQ hash cannot be derived from its bits. Send the 8 variants ' +
          'from `POST /v1/hash` with `dihedral=true` as signals, or match the image itself.',
      }),
    ),
  },
  { additionalProperties: false, title: 'MatchRequest' },
);

const MatchMultipartBody = multipartBody({ image: Type.String({ contentEncoding: 'binary', description: 'The image (JPEG, PNG, WebP, AVIF, GIF, TIFF).' }), ...QueryOptionFormFields });

const MatchResponseSchema = Type.Object(
  {
    matches: Type.Array(MatchedItem, { description: 'One entry per captured item, its closest match; sorted by distance.' }),
    thresholds: Type.Array(AppliedThreshold, { description: 'The threshold used for every queried signal type in every searched bank.' }),
    warnings: Type.Array(Warning, { description: 'e.g. LOW_QUALITY (PDQ not used), THRESHOLD_CLAMPED, THRESHOLD_NOT_USED.' }),
  },
  { title: 'MatchResponse', description: 'What was found, with the thresholds used.' },
);

const DESCRIPTION =
  'Either multipart/form-data with the image in `image` (needs an ngo, takedown or admin key) and optional fields `mode`, ' +
  `\`dihedral\`, \`threshold\` and \`banks\`; or JSON \`{signals: [{type, hash, region?, variant?}], mode?, threshold?, thresholds?, banks?}\` with 1 to ${MAX_QUERY_SIGNALS} ` +
  'hashes (no key needed), e.g. those a client computed from the image itself, region hashes included.\n\n' +
  '`robust` (the default) also hashes regions of the image (crops, centred crops, small rotations, quadrants and thirds, the photo inside ' +
  'borders or a screenshot) and matches them against the regions stored for captured content; it always includes the 8 rotations and ' +
  'mirrors. `pdq` matches whole-image hashes only, as other PDQ systems do. Each match says `via` whole or region.\n\n' +
  'An image is hashed with PDQ, blockhash, MD5 and SHA-256. If its PDQ quality is under 50 it is too featureless for perceptual ' +
  'matching: only exact copies are looked for and `warnings` says LOW_QUALITY. Hash queries carry no quality: send no PDQ hash whose ' +
  'quality (from `POST /v1/hash`) is under 50.\n\n' +
  "Thresholds: `threshold` is the PDQ threshold in bits (for region hashes too); `thresholds` sets types one by one; otherwise each bank's " +
  "threshold, or the type's default, applies. MD5 and SHA-256 match exactly. A threshold above a type's ceiling is lowered to it: " +
  '`thresholds` in the answer lists what was applied and `warnings` says THRESHOLD_CLAMPED.\n\n' +
  'Provenance: everyone learns the platform, group name and capture time of each match, and its content id. Message links, which ' +
  'would lead straight to the image, are given only to takedown and admin keys.';

export async function matchRoutes(app: FastifyInstance, { services }: { services: Services }) {
  app.post(
    '/v1/match',
    {
      // Hash queries are open to all; image queries also need 'match:image', checked in the handler.
      config: { permission: 'match:hashes' },
      schema: {
        operationId: 'match',
        tags: ['match'],
        summary: 'Find captured content matching an image or hashes; nothing about the query is stored',
        description: DESCRIPTION,
        body: { content: { 'application/json': { schema: MatchJsonBody }, 'multipart/form-data': { schema: MatchMultipartBody } } },
        response: { 200: MatchResponseSchema, ...errorResponses(400, 401, 403, 404, 413, 415, 422) },
      },
    },
    async (request, reply): Promise<MatchResponse> => {
      const viewer = { fullProvenance: can(request.principal, 'provenance:full') };
      const answer = await (request.isMultipart() ? matchImage(services, request, reply, viewer) : services.matching.byHashes(jsonBody(request), viewer));
      reply.matchCount = answer.matches.length;
      return answer;
    },
  );
}

function jsonBody(request: FastifyRequest): Static<typeof MatchJsonBody> {
  if (!request.body) throw noBody('Send JSON {"signals": [{"type", "hash"}]} or the image as multipart/form-data in the field "image".');
  return request.body as Static<typeof MatchJsonBody>;
}

async function matchImage(services: Services, request: FastifyRequest, reply: FastifyReply, viewer: { fullProvenance: boolean }): Promise<MatchResponse> {
  requirePermission(request.principal, 'match:image');
  const { files, fields } = await readUploads(request, {
    fileField: 'image',
    maxFiles: 1,
    maxTotalBytes: services.config.MAX_IMAGE_BYTES,
    textFields: Object.keys(QueryOptionFormFields),
  });
  const timing = services.config.SERVER_TIMING ? new ServerTiming() : undefined;
  const answer = await services.matching.byImage(files[0].bytes, fields, viewer, timing);
  if (timing) reply.header('server-timing', timing.header());
  return answer;
}
