/** POST /v1/hash: the hashes of one image. Nothing is stored. */
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Services } from '../../services/services.js';
import { errorResponses, ImageHashes } from '../schemas.js';
import { multipartBody, readUploads, requireMultipart } from '../uploads.js';

const HashBody = multipartBody({
  image: Type.String({ contentEncoding: 'binary', description: 'The image (JPEG, PNG, WebP, AVIF, GIF, TIFF).' }),
  dihedral: Type.Optional(Type.String({ description: '`true` for the 8 PDQ rotations and mirrors too.' })),
});

export async function hashRoutes(app: FastifyInstance, { services }: { services: Services }) {
  app.post(
    '/v1/hash',
    {
      config: { permission: 'hash' },
      schema: {
        operationId: 'hashImage',
        tags: ['hash'],
        summary: 'Hash one image (PDQ, blockhash, MD5, SHA-256); nothing is stored',
        description:
          'multipart/form-data with the image in the field `image` and optionally `dihedral=true` for the 8 PDQ rotations and mirrors. ' +
          'A PDQ quality under 50 means the image is too featureless to match reliably.',
        body: { content: { 'multipart/form-data': { schema: HashBody } } },
        response: { 200: { ...ImageHashes, description: "The image's hashes, lower-case hex." }, ...errorResponses(400, 401, 413, 415, 422) },
      },
    },
    async (request) => {
      requireMultipart(request, 'image');
      const { files, fields } = await readUploads(request, { fileField: 'image', maxFiles: 1, maxTotalBytes: services.config.MAX_IMAGE_BYTES, textFields: ['dihedral'] });
      return services.hashing.describe(files[0].bytes, fields);
    },
  );
}
