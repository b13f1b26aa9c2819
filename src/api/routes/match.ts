/**
 * POST /v1/match: is this image (or are these hashes) in any bank of captured
 * content, and where was it seen? Nothing about the query is stored: not the
 * image, not its hashes; the audit log keeps only who asked and how many
 * matches came back.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { fromHex } from '../../hashing/hex.js';
import { hashImage } from '../../image/hash-image.js';
import type { BankThreshold, HashQuery } from '../../match/matcher.js';
import { REGION_KINDS, type RegionKind } from '../../robust/regions.js';
import { REGION_SIGNAL_TYPE, regionQueries } from '../../robust/signals.js';
import { STORED_SIGNAL_TYPES } from '../../store/signal-types.js';
import type { Provenance } from '../../store/store.js';
import { ApiError, badRequest } from '../errors.js';
import { can, type Principal } from '../plugins/auth.js';
import type { Services } from '../services.js';
import { BankFilter, errorResponses, MAX_BANK_FILTER, MAX_SIGNALS_PER_MATCH, PerceptualThresholds, Warning } from '../schemas.js';
import { bankListField, booleanField, integerField, readUploads } from '../uploads.js';

/** One hash as the client sends it. Type and hex are checked in the handler, so the error can name the item. */
export const SignalInputItem = Type.Object(
  {
    type: Type.String({ maxLength: 32, description: 'pdq, blockhash, md5, sha256 or pdq-region.' }),
    hash: Type.String({ maxLength: 128, description: 'Hex: 64 characters for pdq, blockhash, sha256 and pdq-region; 32 for md5.' }),
  },
  { additionalProperties: false },
);

/** A match query's hash: a signal, and for pdq-region which region of the query image it is of (reported back). */
const MatchSignalItem = Type.Object(
  {
    type: SignalInputItem.properties.type,
    hash: SignalInputItem.properties.hash,
    region: Type.Optional(
      Type.Union(
        REGION_KINDS.map((k) => Type.Literal(k)),
        { description: 'pdq-region only: which region of the query image the hash is of, reported with a match (frame, crop, rotation, ...).' },
      ),
    ),
  },
  { additionalProperties: false },
);

const MatchMode = Type.Union([Type.Literal('robust'), Type.Literal('pdq')], {
  description:
    '`robust` (default): also match regions (pdq-region): crops, borders, captions, screenshots, collage cells, small rotations, stickers. ' +
    '`pdq`: whole-image hashes only, as other PDQ systems (ThreatExchange, HMA, StopNCII) match.',
});
type MatchMode = Static<typeof MatchMode>;

/**
 * Client hex hashes to bytes. An unknown type is INVALID_REQUEST, bad hex or a
 * wrong length INVALID_HASH; either message names the item as `what[i]`.
 */
export function decodeSignals(signals: Static<typeof SignalInputItem>[], what: string): HashQuery[] {
  return signals.map(({ type, hash }, i) => {
    const stored = STORED_SIGNAL_TYPES.get(type);
    if (!stored) {
      throw badRequest('INVALID_REQUEST', `${what}[${i}].type ${JSON.stringify(type)} is not a signal type; use one of ${[...STORED_SIGNAL_TYPES.keys()].join(', ')}.`);
    }
    return { type, hash: fromHex(hash, stored.bytes * 8, `${what}[${i}].hash (${type})`) };
  });
}

const MatchJsonBody = Type.Object(
  {
    mode: Type.Optional(MatchMode),
    signals: Type.Array(MatchSignalItem, { minItems: 1, maxItems: MAX_SIGNALS_PER_MATCH, description: `1 to ${MAX_SIGNALS_PER_MATCH} hashes.` }),
    dihedral: Type.Optional(
      Type.Boolean({
        description:
          'Only `false` is accepted here: the rotations and flips of a PDQ hash cannot be derived from its bits. ' +
          'Send the 8 variants from `POST /v1/hash` with `dihedral=true` as signals, or match the image itself.',
      }),
    ),
    threshold: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 256, description: 'PDQ threshold in bits; shorthand for `thresholds.pdq` (and `thresholds.pdq-region` when region hashes are sent).' }),
    ),
    thresholds: Type.Optional(PerceptualThresholds),
    banks: Type.Optional(BankFilter),
  },
  { additionalProperties: false },
);

const MatchMultipartBody = Type.Object(
  {
    image: Type.String({ contentEncoding: 'binary', description: 'The image (JPEG, PNG, WebP, GIF, ...).' }),
    mode: Type.Optional(Type.String({ description: '`robust` (default) or `pdq`; see the JSON body. Robust matching always includes rotations and flips.' })),
    dihedral: Type.Optional(Type.String({ description: '`true` to also match the 8 rotations and flips of the image (PDQ); always on in robust mode.' })),
    threshold: Type.Optional(Type.String({ description: 'PDQ threshold in bits (0-256), for whole-image and region hashes.' })),
    banks: Type.Optional(Type.String({ description: 'Comma-separated bank ids to search (default: all).' })),
  },
  // Multipart bodies are read by the handler, so validation sees no body: accept that.
  { nullable: true },
);

const ReducedProvenance = Type.Object({
  platform: Type.String({ description: 'e.g. telegram.' }),
  group: Type.Union([Type.String(), Type.Null()], { description: 'Group or channel name.' }),
  capturedAt: Type.Union([Type.String(), Type.Null()], { description: 'When it was seen there (ISO-8601 UTC).' }),
  messageUrl: Type.Optional(
    Type.Union([Type.String(), Type.Null()], { description: "Link to (or id of) the message: only for keys with full provenance (takedown, admin)." }),
  ),
});

const MatchResponse = Type.Object({
  matches: Type.Array(
    Type.Object({
      contentId: Type.Integer({ description: 'The captured item; a takedown team can look it up (GET /v1/content/{id}).' }),
      bankId: Type.Integer(),
      signalType: Type.String({ description: 'The signal type of the closest match: pdq, blockhash, md5, sha256 or pdq-region.' }),
      via: Type.Union([Type.Literal('whole'), Type.Literal('region')], {
        description: 'How it was found: a hash of the whole image, or of a region of the query and of the captured image (pdq-region).',
      }),
      region: Type.Union([Type.String(), Type.Null()], {
        description: 'For region matches: which region of the query matched (frame, part, quadrant, strip, crop, rotation); otherwise null.',
      }),
      distance: Type.Integer({ description: 'Hamming distance in bits (0 for md5 and sha256, which only match exactly).' }),
      variant: Type.Union([Type.String(), Type.Null()], {
        description: 'With `dihedral`: which rotation or flip of the query matched (orig, rot90, ..., flipminus1); otherwise null.',
      }),
      signalIndex: Type.Optional(Type.Integer({ description: 'Hash queries: position in `signals` of the hash that matched.' })),
      provenance: ReducedProvenance,
    }),
    { description: 'One entry per captured item, its closest match; sorted by distance.' },
  ),
  thresholds: Type.Array(
    Type.Object({
      type: Type.String(),
      bankId: Type.Integer(),
      source: Type.String({ description: 'default, bank or request.' }),
      requested: Type.Integer(),
      applied: Type.Integer({ description: 'What was used: `requested`, lowered to the deployment ceiling if above it.' }),
      clamped: Type.Boolean(),
    }),
    { description: 'The threshold used for every queried signal type in every searched bank.' },
  ),
  warnings: Type.Array(Warning, { description: 'e.g. LOW_QUALITY (PDQ not used), THRESHOLD_CLAMPED, THRESHOLD_NOT_USED.' }),
});
type MatchResponse = Static<typeof MatchResponse>;

type Warning = Static<typeof Warning>;

function lowQualityWarning(quality: number): Warning {
  return {
    code: 'LOW_QUALITY',
    message:
      `The image has too little detail for perceptual matching (PDQ quality ${quality}, under 50): ` +
      'only exact copies (MD5, SHA-256) were looked for. A sharper or larger copy of the photo may match.',
  };
}

/**
 * Who may see what about a match. Victims (anonymous) and NGOs learn that and
 * where their photo circulates (platform, group name, when) and the content id,
 * which means nothing outside the service but lets a takedown team act on it.
 * The message link is what takedown needs and what an abuser would use to
 * find the image, so only keys with full provenance (takedown, admin) get it:
 * for others `messageUrl` is undefined, which the response serializer leaves out.
 */
function provenanceFor(fullProvenance: boolean, provenance: Provenance) {
  return {
    platform: provenance.platform,
    group: provenance.channel,
    capturedAt: provenance.capturedAt,
    messageUrl: fullProvenance ? provenance.messageRef : undefined,
  };
}

function modeField(text: string | undefined): MatchMode {
  if (text === undefined || text === 'robust' || text === 'pdq') return text ?? 'robust';
  throw badRequest('INVALID_REQUEST', 'The form field "mode" must be robust or pdq.');
}

/** The same 401/403 as the auth plugin, for the permission only multipart needs. */
function requireImagePermission(principal: Principal): void {
  if (can(principal, 'match:image')) return;
  if (principal.role === 'anonymous') {
    throw new ApiError(401, 'UNAUTHORIZED', 'This needs an API key (Authorization: Bearer <key>).', { 'www-authenticate': 'Bearer' });
  }
  throw new ApiError(403, 'FORBIDDEN', `A ${principal.role} key may not do this.`);
}

interface PreparedQuery {
  hashes: HashQuery[];
  dihedral: boolean;
  thresholds: Record<string, number>;
  bankIds: number[] | undefined;
  warnings: Warning[];
  /** Hash queries report which of the caller's signals matched. */
  reportSignalIndex: boolean;
}

export async function matchRoutes(app: FastifyInstance, { services }: { services: Services }) {
  const { config } = services;

  async function imageQuery(request: FastifyRequest): Promise<PreparedQuery> {
    requireImagePermission(request.principal);
    const { files, fields } = await readUploads(request, {
      fileField: 'image',
      maxFiles: 1,
      maxTotalBytes: config.MAX_IMAGE_BYTES,
      textFields: ['mode', 'dihedral', 'threshold', 'banks'],
    });
    const mode = modeField(fields.mode);
    const dihedralField = booleanField(fields, 'dihedral');
    const dihedral = mode === 'robust' || (dihedralField ?? false);
    const threshold = integerField(fields, 'threshold', 0, 256);
    const bankIds = bankListField(fields, 'banks', MAX_BANK_FILTER);
    const signals = await hashImage(files[0].bytes, {
      decodePath: config.DECODE_PATH,
      limits: { maxBytes: config.MAX_IMAGE_BYTES, maxPixels: config.MAX_IMAGE_PIXELS },
      ...(mode === 'robust' ? { regions: 'query' as const, pause: yieldToEventLoop } : {}),
    });
    for (const type of ['pdq', 'blockhash', 'md5', 'sha256']) app.metrics.hashesComputed.inc({ signal_type: type });
    if (signals.regions) app.metrics.hashesComputed.inc({ signal_type: REGION_SIGNAL_TYPE }, signals.regions.length);
    const pdq = signals.pdq!;
    const warnings: Warning[] = [];
    const hashes: HashQuery[] = [
      { type: 'md5', hash: signals.md5! },
      { type: 'sha256', hash: signals.sha256! },
    ];
    // A featureless image gives near-constant perceptual hashes that sit close to
    // every other featureless image's: both PDQ and blockhash (same pixels) would
    // report strangers' content. Only exact copies are evidence then.
    if (pdq.lowQuality) warnings.push(lowQualityWarning(pdq.quality));
    else hashes.push({ type: 'pdq', hash: pdq.hash, dct: pdq.dct }, { type: 'blockhash', hash: signals.blockhash! }, ...regionQueries(signals));
    const thresholds: Record<string, number> = {};
    if (threshold !== undefined) {
      thresholds.pdq = threshold;
      if (mode === 'robust') thresholds[REGION_SIGNAL_TYPE] = threshold;
    }
    return { hashes, dihedral, thresholds, bankIds, warnings, reportSignalIndex: false };
  }

  function hashQuery(body: Static<typeof MatchJsonBody>): PreparedQuery {
    if (body.dihedral) {
      throw badRequest(
        'INVALID_REQUEST',
        'dihedral matching needs the image: a bare PDQ hash cannot be rotated. Send the image as multipart, or send the 8 variants ' +
          'that POST /v1/hash returns with dihedral=true as signals.',
      );
    }
    if (body.threshold !== undefined && body.thresholds?.pdq !== undefined && body.threshold !== body.thresholds.pdq) {
      throw badRequest('INVALID_REQUEST', '"threshold" and "thresholds.pdq" disagree; send one of them.');
    }
    const mode = body.mode ?? 'robust';
    const hashes: HashQuery[] = decodeSignals(body.signals, 'signals').map((hash, i) => {
      const { region } = body.signals[i];
      if (hash.type === REGION_SIGNAL_TYPE && mode === 'pdq') {
        throw badRequest('INVALID_REQUEST', `signals[${i}] is a pdq-region hash, which mode "pdq" does not match; leave it out or use mode "robust".`);
      }
      if (region !== undefined && hash.type !== REGION_SIGNAL_TYPE) throw badRequest('INVALID_REQUEST', `signals[${i}].region is only for pdq-region hashes.`);
      return region === undefined ? hash : { ...hash, region: region as RegionKind };
    });
    const thresholds: Record<string, number> = { ...body.thresholds };
    // `threshold` is the PDQ threshold, for whole-image and region hashes alike.
    if (body.threshold !== undefined) {
      thresholds.pdq = body.threshold;
      if (hashes.some((h) => h.type === REGION_SIGNAL_TYPE)) thresholds[REGION_SIGNAL_TYPE] = body.threshold;
    }
    const warnings: Warning[] = [];
    for (const type of Object.keys(thresholds)) {
      if (hashes.some((h) => h.type === type)) continue;
      warnings.push({ code: 'THRESHOLD_NOT_USED', message: `A ${type} threshold was given but no ${type} signal was sent.` });
      delete thresholds[type];
    }
    return { hashes, dihedral: false, thresholds, bankIds: body.banks, warnings, reportSignalIndex: true };
  }

  app.post(
    '/v1/match',
    {
      // Hash queries are open to all; image queries also need 'match:image', checked in the handler.
      config: { permission: 'match:hashes' },
      schema: {
        tags: ['match'],
        summary: 'Find captured content matching an image or hashes; nothing about the query is stored',
        description:
          'Either multipart/form-data with the image in `image` (needs an ngo, takedown or admin key) and optional fields ' +
          '`mode` (robust or pdq), `dihedral=true` (also match the 8 rotations and flips), `threshold` and `banks` (comma-separated ids); ' +
          `or JSON \`{signals: [{type, hash, region?}], mode?, threshold?, thresholds?, banks?}\` with 1 to ${MAX_SIGNALS_PER_MATCH} hashes (no key needed).\n\n` +
          'Modes: `robust` (the default) also hashes regions of the image (pdq-region: crops on a grid, centred crops, small ' +
          'rotations, quadrants and thirds, the photo inside borders or a screenshot) and matches them against the regions stored ' +
          'for captured content, which finds crops, frames, captions, screenshots, collage cells, stickers and turned copies; it ' +
          'always includes the 8 rotations and flips. `pdq` matches whole-image hashes only, as other PDQ systems do. Each match ' +
          'says `via` whole or region. Hash queries may send the pdq-region hashes a client computed itself (e.g. in the browser).\n\n' +
          'An image is hashed with PDQ, blockhash, MD5 and SHA-256 and all four are matched. If its PDQ quality is under 50 the ' +
          'image is too featureless for perceptual matching: PDQ and blockhash are not used, only exact copies are looked for, ' +
          'and `warnings` says LOW_QUALITY. Hash queries carry no quality: send no PDQ hash whose quality (from `POST /v1/hash`) is under 50.\n\n' +
          'Thresholds: `threshold` is the PDQ threshold in bits (hash queries may also give `thresholds.blockhash`); otherwise each ' +
          "bank's threshold, or the type's default, applies. MD5 and SHA-256 always match exactly. A threshold above the deployment's " +
          'ceiling is lowered to it: `thresholds` lists what was applied and `warnings` says THRESHOLD_CLAMPED.\n\n' +
          'Provenance: everyone learns the platform, group name and capture time of each match, and its content id (which a ' +
          'takedown team can act on). Message links, which would lead straight to the image, are given only to takedown and ' +
          'admin keys.',
        body: { content: { 'application/json': { schema: MatchJsonBody }, 'multipart/form-data': { schema: MatchMultipartBody } } },
        response: { 200: MatchResponse, ...errorResponses(400, 401, 403, 404, 413, 415, 422) },
      },
    },
    async (request, reply): Promise<MatchResponse> => {
      let query: PreparedQuery;
      if (request.isMultipart()) query = await imageQuery(request);
      else if (request.body) query = hashQuery(request.body as Static<typeof MatchJsonBody>);
      else throw badRequest('INVALID_REQUEST', 'Send JSON {"signals": [{"type", "hash"}]} or the image as multipart/form-data in the field "image".');

      const warnings = query.warnings;
      // Robust queries carry hundreds of hashes: searched in slices so other requests are served meanwhile.
      const result = await services.matcher.matchContentInSlices(
        { hashes: query.hashes, dihedral: query.dihedral, thresholds: query.thresholds, bankIds: query.bankIds },
        yieldToEventLoop,
      );
      const { matches, thresholds } = result;
      // One warning per type, though the threshold is resolved per bank.
      const clamped = new Map<string, BankThreshold>();
      for (const t of thresholds) if (t.clamped) clamped.set(t.type, t);
      for (const t of clamped.values()) {
        warnings.push({ code: 'THRESHOLD_CLAMPED', message: `The ${t.type} threshold ${t.requested} is above this service's ceiling; ${t.applied} was used.` });
      }
      reply.matchCount = matches.length;
      const fullProvenance = can(request.principal, 'provenance:full');
      return {
        matches: matches.map((m) => ({
          contentId: m.contentId,
          bankId: m.bankId,
          signalType: m.signalType,
          distance: m.distance,
          variant: m.variant,
          via: m.via,
          region: m.region,
          // Left out of the response when undefined (image queries).
          signalIndex: query.reportSignalIndex ? m.queryIndex : undefined,
          provenance: provenanceFor(fullProvenance, m.provenance),
        })),
        thresholds,
        warnings,
      };
    },
  );
}
