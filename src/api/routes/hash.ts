/** POST /v1/hash: the hashes of one image. Nothing is stored. */
import type { FastifyInstance } from 'fastify';
import { toHex } from '../../hashing/hex.js';
import { hashImage, type ImageSignals } from '../../image/hash-image.js';
import type { Services } from '../services.js';
import { errorResponses, ImageHashes } from '../schemas.js';
import { booleanField, readUploads, requireMultipart } from '../uploads.js';

export function imageHashesBody(s: ImageSignals) {
  return {
    pdq: toHex(s.pdq!.hash),
    pdqQuality: s.pdq!.quality,
    blockhash: toHex(s.blockhash!),
    md5: toHex(s.md5!),
    sha256: toHex(s.sha256!),
    ...(s.pdq!.dihedral ? { pdqDihedral: s.pdq!.dihedral.map(toHex) } : {}),
  };
}

export async function hashRoutes(app: FastifyInstance, { services }: { services: Services }) {
  const { config } = services;
  app.post(
    '/v1/hash',
    {
      config: { permission: 'hash' },
      schema: {
        tags: ['hash'],
        summary: 'Hash one image (PDQ, blockhash, MD5, SHA-256); nothing is stored',
        description:
          'multipart/form-data with the image in the field `image` and optionally `dihedral=true` for the 8 PDQ rotations and flips. ' +
          'A PDQ quality under 50 means the image is too featureless to match reliably.',
        consumes: ['multipart/form-data'],
        response: { 200: ImageHashes, ...errorResponses(400, 401, 413, 415, 422) },
      },
    },
    async (request) => {
      requireMultipart(request, 'image');
      const { files, fields } = await readUploads(request, { fileField: 'image', maxFiles: 1, maxTotalBytes: config.MAX_IMAGE_BYTES, textFields: ['dihedral'] });
      const signals = await hashImage(files[0].bytes, {
        decodePath: config.DECODE_PATH,
        limits: { maxBytes: config.MAX_IMAGE_BYTES, maxPixels: config.MAX_IMAGE_PIXELS },
        dihedral: booleanField(fields, 'dihedral') ?? false,
      });
      for (const type of ['pdq', 'blockhash', 'md5', 'sha256']) app.metrics.hashesComputed.inc({ signal_type: type });
      return imageHashesBody(signals);
    },
  );
}
