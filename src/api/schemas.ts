/** Schemas shared by several routes. */
import { Type } from 'typebox';
import { CLIENT_MAX_SIGNALS } from '../robust/signals.js';

export const ErrorResponse = Type.Object(
  { error: Type.Object({ code: Type.String({ description: 'Stable machine-readable code, e.g. INVALID_HASH.' }), message: Type.String() }) },
  { $id: 'ErrorResponse', description: 'Every error has this shape.' },
);

/** The usual error responses of a route, to spread into its `response` schema. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries([...statuses, 429, 500, 503].map((s) => [s, Type.Ref('ErrorResponse')]));
}

export const Hex64 = Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: '64 hex characters (either case in, lower case out).' });

export const SignalTypeName = Type.Union([Type.Literal('pdq'), Type.Literal('blockhash'), Type.Literal('md5'), Type.Literal('sha256'), Type.Literal('pdq-region')]);

/** A hash given by the client; its length is checked against its type by the hashing core. */
export const SignalInput = Type.Object(
  {
    type: SignalTypeName,
    hash: Type.String({ minLength: 1, maxLength: 128, description: 'Hex: 64 characters for pdq, blockhash, sha256 and pdq-region; 32 for md5.' }),
  },
  { additionalProperties: false },
);

export const ImageHashes = Type.Object({
  pdq: Hex64,
  pdqQuality: Type.Integer({ minimum: 0, maximum: 100 }),
  blockhash: Hex64,
  md5: Type.String({ pattern: '^[0-9a-f]{32}$' }),
  sha256: Hex64,
  pdqDihedral: Type.Optional(Type.Array(Hex64, { minItems: 8, maxItems: 8, description: 'orig, rot90, rot180, rot270, flipx, flipy, flipplus1, flipminus1' })),
});

export const IdParam = Type.Object({ id: Type.Integer({ minimum: 1 }) });

/** Most banks one match or batch may name. */
export const MAX_BANK_FILTER = 100;

export const BankFilter = Type.Array(Type.Integer({ minimum: 1 }), { minItems: 1, maxItems: MAX_BANK_FILTER, uniqueItems: true, description: 'Search only these banks (default: all).' });

/** How many hashes one JSON match request may carry (as many as a client query holds); bigger lookups belong in /v1/batches. */
export const MAX_SIGNALS_PER_MATCH = CLIENT_MAX_SIGNALS;

/** A hash as stored and returned, e.g. by GET /v1/content/:id. */
export const SignalOutput = Type.Object({
  type: Type.String({ description: 'pdq, blockhash, md5, sha256 or pdq-region.' }),
  hash: Type.String({ description: 'Lower-case hex.' }),
  quality: Type.Union([Type.Integer({ minimum: 0, maximum: 100 }), Type.Null()], { description: 'PDQ quality (0-100); null for other types.' }),
});

/** Something the caller should know that did not stop the request, e.g. LOW_QUALITY. */
export const Warning = Type.Object({
  code: Type.String({ description: 'Stable machine-readable code, e.g. LOW_QUALITY.' }),
  message: Type.String(),
});

/** Per-signal-type match thresholds in bits; only the perceptual types have any (md5 and sha256 always match exactly). */
export const PerceptualThresholds = Type.Object(
  {
    pdq: Type.Optional(Type.Integer({ minimum: 0, maximum: 256, description: 'PDQ Hamming distance (bits).' })),
    blockhash: Type.Optional(Type.Integer({ minimum: 0, maximum: 256, description: 'Blockhash Hamming distance (bits).' })),
    'pdq-region': Type.Optional(Type.Integer({ minimum: 0, maximum: 256, description: 'Region PDQ Hamming distance (bits).' })),
  },
  { additionalProperties: false },
);
