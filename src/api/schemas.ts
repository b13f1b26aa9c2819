/**
 * Schemas shared by several routes. What depends on the signal types (names,
 * hash lengths, thresholds) is derived from the registry, so the OpenAPI
 * description lists exactly the types the service knows.
 */
import { Type } from 'typebox';
import { DIHEDRAL_NAMES } from '../hashing/pdq.js';
import { HAMMING_TYPES, listSignalTypeNames, SIGNAL_TYPE_NAMES, SIGNAL_TYPES, WHOLE_IMAGE_TYPES } from '../hashing/registry.js';
import { MATCH_MODES, MAX_BANK_FILTER, MAX_QUERY_SIGNALS } from '../match/query.js';
import { REGION_KINDS } from '../robust/regions.js';
import { CASE_LANGUAGES } from '../services/cases.js';

export const ErrorResponse = Type.Object(
  { error: Type.Object({ code: Type.String({ description: 'Stable machine-readable code, e.g. INVALID_HASH.' }), message: Type.String() }) },
  { $id: 'ErrorResponse', title: 'ErrorResponse', description: 'Every error has this shape.' },
);

/** The usual error responses of a route, to spread into its `response` schema. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries([...statuses, 429, 500, 503].map((s) => [s, Type.Ref('ErrorResponse')]));
}

const hexLengths = [...new Set(SIGNAL_TYPES.map((t) => t.bits / 4))]
  .map((digits) => `${digits} for ${listSignalTypeNames(SIGNAL_TYPES.filter((t) => t.bits / 4 === digits).map((t) => t.name))}`)
  .join('; ');

export const SignalTypeName = Type.Enum([...SIGNAL_TYPE_NAMES], { title: 'SignalType', description: SIGNAL_TYPES.map((t) => `\`${t.name}\`: ${t.description}`).join('\n') });

/** A hash as text; its length is checked against its type by the query module, so the error can name the item. */
export const HashText = Type.String({ description: `Hex, either case: ${hexLengths} characters.` });

export const RegionKind = Type.Enum([...REGION_KINDS], {
  title: 'RegionKind',
  description: 'Region hashes only: which region of the query image the hash is of (frame, part, quadrant, strip, crop, rotation, patch, ninth), reported with a match.',
});

export const DihedralVariant = Type.Enum([...DIHEDRAL_NAMES], { title: 'DihedralVariant', description: 'Which rotation or mirror of the image the hash is of, reported with a match.' });

/** A language the service writes evidence summaries in: a victim's case is registered in one. */
export const LanguageName = Type.Enum([...CASE_LANGUAGES], {
  title: 'Language',
  description:
    `One of ${CASE_LANGUAGES.map((l) => `\`${l}\``).join(', ')} (the victim page's languages). On a new case: the language she registers in ` +
    '(the victim page sends its own), in which her evidence packages are summarised. On an evidence package: the language of its summary; ' +
    "without it, the case's language (English for chosen matches, or for a case registered without one).",
});

/** One hash as a client sends it. */
export const SignalInput = Type.Object(
  { type: SignalTypeName, hash: HashText, region: Type.Optional(RegionKind), variant: Type.Optional(DihedralVariant) },
  { additionalProperties: false, title: 'SignalInput' },
);

/** POST /v1/hash: each whole-image type's hash as it writes it, and PDQ's quality (and rotations). */
export const ImageHashes = Type.Object({
  ...Object.fromEntries(
    WHOLE_IMAGE_TYPES.filter((t) => !('fallbackFor' in t)).flatMap((t) => [
      [t.name, Type.String({ pattern: `^[0-9a-f]{${t.bits / 4}}$`, description: t.description })],
      ...(t.name === 'pdq' ? [['pdqQuality', Type.Integer({ minimum: 0, maximum: 100, description: 'PDQ quality; under 50 is too featureless to match reliably.' })]] : []),
    ]),
  ),
  pdqDihedral: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9a-f]{64}$' }), { minItems: 8, maxItems: 8, description: DIHEDRAL_NAMES.join(', ') })),
}, { title: 'ImageHashes' });

export const IdParam = Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) });

export const BankFilter = Type.Array(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), {
  minItems: 1,
  maxItems: MAX_BANK_FILTER,
  uniqueItems: true,
  description: 'Search only these banks (default: all).',
});

export const MatchMode = Type.Enum([...MATCH_MODES], {
  title: 'MatchMode',
  description:
      '`robust` (default): also match region hashes, which find crops, borders, captions, screenshots, collage cells, small rotations and stickers, ' +
      'and always the 8 rotations and mirrors. `pdq`: whole-image hashes only, as other PDQ systems (ThreatExchange, HMA, StopNCII) match.',
});

/** Per-signal-type thresholds in bits; only the perceptual types have any (exact types always match exactly). */
export const PerceptualThresholds = Type.Object(
  Object.fromEntries(HAMMING_TYPES.map((t) => [t.name, Type.Optional(Type.Integer({ minimum: 0, maximum: t.bits, description: `${t.name} Hamming distance (bits); default ${t.defaultThreshold}, at most ${t.maxThreshold} is used.` }))])),
  { additionalProperties: false, title: 'Thresholds' },
);

/** How to match, the same on every route that matches. */
export const QueryOptionFields = {
  mode: Type.Optional(MatchMode),
  threshold: Type.Optional(Type.Integer({ minimum: 0, maximum: 256, description: 'The PDQ threshold in bits, for whole-image and (robust) region hashes alike.' })),
  thresholds: Type.Optional(PerceptualThresholds),
  banks: Type.Optional(BankFilter),
};

/** The same options as multipart text fields. */
export const QueryOptionFormFields = {
  mode: Type.Optional(Type.String({ description: '`robust` (default) or `pdq`.' })),
  dihedral: Type.Optional(Type.String({ description: '`true` to also match the 8 rotations and mirrors in pdq mode (always on in robust mode).' })),
  threshold: Type.Optional(Type.String({ description: 'PDQ threshold in bits (0-256), for whole-image and region hashes.' })),
  banks: Type.Optional(Type.String({ description: 'Comma-separated bank ids to search (default: all).' })),
};

export { MAX_QUERY_SIGNALS };

/** A list of hashes, at most what one query carries. */
export const SignalList = Type.Array(SignalInput, { minItems: 1, maxItems: MAX_QUERY_SIGNALS, description: `1 to ${MAX_QUERY_SIGNALS} hashes.` });

/** A hash as stored and returned, e.g. by GET /v1/content/:id. */
/** Which region of a captured image a stored region hash is of. */
export const StoredRegionKind = Type.Enum([...REGION_KINDS], {
  title: 'StoredRegionKind',
  description:
    'Region hashes only: which region of the image the hash is of, as the service hashes it. Only kinds that can find each other are compared ' +
    '(a crop with frames and parts, a corner patch with patches, a quadrant or ninth with the grid and the frame), so a hash given with its kind ' +
    'is searched more cheaply; one given without is compared with every kind.',
});

export const SignalOutput = Type.Object({
  type: Type.String({ description: `${listSignalTypeNames()}.` }),
  hash: Type.String({ description: 'Lower-case hex.' }),
  quality: Type.Union([Type.Integer({ minimum: 0, maximum: 100 }), Type.Null()], { description: 'PDQ quality (0-100) where known; null otherwise.' }),
  region: Type.Optional(StoredRegionKind),
}, { title: 'Signal' });

/** Something the caller should know that did not stop the request, e.g. LOW_QUALITY. */
export const Warning = Type.Object({
  code: Type.String({ description: 'Stable machine-readable code, e.g. LOW_QUALITY.' }),
  message: Type.String(),
}, { title: 'Warning' });

export const MatchedProvenance = Type.Object({
  platform: Type.String({ description: 'e.g. telegram.' }),
  group: Type.Union([Type.String(), Type.Null()], { description: 'Group or channel name.' }),
  capturedAt: Type.Union([Type.String(), Type.Null()], { description: 'When it was seen there (ISO-8601 UTC).' }),
  messageUrl: Type.Optional(Type.Union([Type.String(), Type.Null()], { description: 'Link to (or id of) the message: only for keys with full provenance (takedown, admin).' })),
}, { title: 'Provenance' });

/** One match, the same on /v1/match and in batch results. */
export const MatchedItem = Type.Object({
  contentId: Type.Integer({ description: 'The captured item; a takedown team can look it up (GET /v1/content/{id}).' }),
  bankId: Type.Integer(),
  signalType: Type.String({ description: 'The signal type of the closest match.' }),
  via: Type.Union([Type.Literal('whole'), Type.Literal('region')], { description: 'Found by a hash of the whole image, or of a region of the query and of the captured image.' }),
  region: Type.Union([Type.String(), Type.Null()], { description: 'For region matches: which region of the query matched; otherwise null.' }),
  distance: Type.Integer({ description: 'Hamming distance in bits (0 for md5 and sha256, which only match exactly).' }),
  variant: Type.Union([Type.String(), Type.Null()], { description: 'Which rotation or mirror of the query matched (orig, rot90, ..., flipminus1), when known; otherwise null.' }),
  signalIndex: Type.Optional(Type.Integer({ description: 'Hash queries: position in `signals` of the hash that matched.' })),
  provenance: MatchedProvenance,
}, { title: 'Match' });

/** The threshold used for one signal type in one bank. */
export const AppliedThreshold = Type.Object({
  type: Type.String(),
  bankId: Type.Integer(),
  source: Type.String({ description: 'default, bank or request.' }),
  requested: Type.Integer(),
  applied: Type.Integer({ description: "What was used: `requested`, lowered to the type's ceiling if above it." }),
  clamped: Type.Boolean(),
}, { title: 'AppliedThreshold' });

/** A DELETE /…/:id route's options: its permission, and an empty 204 once the thing is gone. */
export function deleteRoute<P extends string>(permission: P, tag: string, operationId: string, summary: string) {
  return {
    config: { permission },
    schema: { tags: [tag], operationId, summary, params: IdParam, response: { 204: Type.Null({ description: 'Deleted.' }), ...errorResponses(400, 401, 403, 404) } },
  };
}
