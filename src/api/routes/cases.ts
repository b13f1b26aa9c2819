/**
 * Victim cases, StopNCII-style and without an account: a person registers the
 * hashes of her own photos (hashed here in memory, or in her own browser) and
 * gets a case number and a PIN, shown once. With both she can see whether and
 * where copies were found, and withdraw everything at any time.
 *
 * - Case number: 12 characters from an alphabet without look-alikes (no 0/O,
 *   1/I/L, U), shown in groups of four ("7KQM-X2HD-9WTP"); about 59 random
 *   bits, so numbers cannot be guessed. Typed either case, with or without
 *   the dashes or spaces.
 * - PIN: 12 random digits (about 40 bits; digits are easy to type on any
 *   phone keyboard and to read aloud), shown in groups of four and typed with
 *   or without the dashes, stored only as a scrypt hash. Long enough that
 *   guessing from many addresses at once gets nowhere, so one case's limit
 *   can be loose (see below).
 * - From images we store PDQ (with its quality) and all 8 of its rotations and
 *   mirror images, blockhash, MD5 and SHA-256, so ongoing monitoring also
 *   finds rotated or mirrored reposts. Images whose PDQ quality is under 50
 *   are refused with LOW_QUALITY (naming them, storing nothing): such a hash
 *   matches unreliably, and registering it silently would promise protection
 *   the service cannot give.
 * - An unknown case number and a wrong PIN get the same 404 with the same
 *   body, after the same scrypt work, so numbers cannot be enumerated. Wrong
 *   PINs are limited per client (PIN_ATTEMPTS_PER_HOUR, IPv6 clients by /56)
 *   and per case (PIN_ATTEMPTS_PER_CASE_PER_HOUR); while either is locked,
 *   every attempt gets 429, whether its PIN is right or not. The case limit is
 *   thousands of times the client's: someone who learned a victim's case
 *   number must not be able to lock her out of her own case (and out of
 *   withdrawing it) from the few addresses one person has (100 wrong PINs
 *   from 20 /64s of one home did); it stops guessing spread over very many.
 */
import { randomInt } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type Static, Type } from 'typebox';
import { fromHex, toHex } from '../../hashing/hex.js';
import { PDQ_MIN_QUALITY } from '../../hashing/pdq.js';
import { hashImage } from '../../image/hash-image.js';
import { ImageError } from '../../image/errors.js';
import { hashPin, verifyPin } from '../../store/pin.js';
import { STORED_SIGNAL_TYPES } from '../../store/signal-types.js';
import { StoreError } from '../../store/errors.js';
import type { NewSignal, VictimCase } from '../../store/store.js';
import { ApiError, badRequest, toApiError } from '../errors.js';
import { clientNetwork } from '../plugins/auth.js';
import type { Services } from '../services.js';
import { errorResponses, SignalTypeName } from '../schemas.js';
import { describeFile, readUploads } from '../uploads.js';

/** Without 0/O, 1/I/L and U, so a number read aloud or copied by hand survives. */
const CASE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTVWXYZ';
const CASE_LENGTH = 12;
const PIN_DIGITS = 12;
/** Enough for a handful of photos of oneself; cases are not bulk intake. */
export const CASE_MAX_IMAGES = 20;
/** Each image gives 11 hashes (8 PDQ variants, blockhash, MD5, SHA-256); a browser may send as many. */
export const CASE_MAX_SIGNALS = CASE_MAX_IMAGES * 11;
const HOUR_MS = 3_600_000;
/** Anonymous PIN attempts count per /56: the least a household is usually given, so one home is one client. */
const PIN_CLIENT_IPV6_PREFIX_BITS = 56;

export function newCaseNumber(): string {
  let raw = '';
  for (let i = 0; i < CASE_LENGTH; i++) raw += CASE_ALPHABET[randomInt(CASE_ALPHABET.length)];
  return formatCaseNumber(raw);
}

function formatCaseNumber(raw: string): string {
  return `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8)}`;
}

/** The stored form of a typed case number, or null if it cannot be one. */
export function normalizeCaseNumber(typed: string): string | null {
  const raw = typed.toUpperCase().replace(/[\s-]/g, '');
  if (raw.length !== CASE_LENGTH || [...raw].some((c) => !CASE_ALPHABET.includes(c))) return null;
  return formatCaseNumber(raw);
}

/** 12 digits in groups of four, e.g. "0482-7715-3309". */
export function newPin(): string {
  let digits = '';
  for (let i = 0; i < PIN_DIGITS; i++) digits += String(randomInt(10));
  return digits.match(/\d{4}/g)!.join('-');
}

/** A PIN as hashed and checked: typed with or without dashes and spaces. */
function normalizePin(typed: string): string {
  return typed.replace(/[\s-]/g, '');
}

/**
 * Failed attempts per key in a sliding window, in memory (a restart forgets
 * them, which costs an attacker a restart per window). An attempt counts as
 * failed from the moment it starts, so parallel guesses cannot all slip in
 * before the first is recorded; a right PIN takes its attempt back.
 */
export class AttemptLimiter {
  private readonly attempts = new Map<string, number[]>();
  /** Prune stale keys when this many are held: twice what the last prune kept, so each prune's cost is spread over as many records. */
  private pruneAt = 10_000;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Milliseconds until `key` may try again; 0 if it may now. */
  retryAfterMs(key: string, now: number): number {
    const times = this.live(key, now);
    return times.length >= this.limit ? times[0] + this.windowMs - now : 0;
  }

  record(key: string, now: number): void {
    const times = this.live(key, now);
    times.push(now);
    this.attempts.set(key, times);
    // Keys of other cases and clients pile up under a spray of guesses; drop the stale ones now and then.
    if (this.attempts.size > this.pruneAt) this.prune(now);
  }

  /** Takes back one attempt recorded at `at`; a key with none left is forgotten (it is a case number, or a client's network). */
  forgive(key: string, at: number): void {
    const times = this.attempts.get(key);
    const i = times?.indexOf(at) ?? -1;
    if (times && i >= 0) times.splice(i, 1);
    if (times?.length === 0) this.attempts.delete(key);
  }

  private live(key: string, now: number): number[] {
    const times = (this.attempts.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (times.length === 0) this.attempts.delete(key);
    return times;
  }

  private prune(now: number): void {
    for (const key of [...this.attempts.keys()]) this.live(key, now);
    this.pruneAt = Math.max(10_000, 2 * this.attempts.size);
  }

  /** Keys held (for tests). */
  get size(): number {
    return this.attempts.size;
  }
}

const CaseSignalInput = Type.Object(
  {
    type: SignalTypeName,
    hash: Type.String({ minLength: 1, maxLength: 128, description: 'Hex: 64 characters for pdq, blockhash and sha256; 32 for md5.' }),
    quality: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, description: 'PDQ quality, if the hasher gave one; under 50 is refused with LOW_QUALITY.' })),
  },
  { additionalProperties: false },
);

const CreateCaseJson = Type.Object(
  { signals: Type.Array(CaseSignalInput, { minItems: 1, maxItems: CASE_MAX_SIGNALS }) },
  { additionalProperties: false },
);

const CaseCreated = Type.Object({
  caseNumber: Type.String({ description: 'Shown once: keep it with the PIN. Groups of four characters; dashes optional when typed.' }),
  pin: Type.String({ description: 'Shown once: 12 digits in groups of four (dashes optional when typed). Needed with the case number to check or withdraw the case.' }),
  hashes: Type.Integer({ description: 'How many hashes were registered.' }),
});

const CaseNumberParam = Type.Object({ caseNumber: Type.String({ minLength: 1, maxLength: 40 }) });
const PinHeader = Type.Object({ 'x-case-pin': Type.String({ minLength: 1, maxLength: 40, description: 'The PIN given when the case was created.' }) });

const CaseStatusBody = Type.Object({
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
    { description: 'Counts, platforms and group names only: never other people\'s content, ids or message links.' },
  ),
});

const NO_SUCH_CASE = 'No case matches this case number and PIN.';

interface CaseRouteOptions {
  services: Services;
}

export async function caseRoutes(instance: FastifyInstance, { services }: CaseRouteOptions) {
  const app = instance.withTypeProvider<TypeBoxTypeProvider>();
  const { config, store } = services;
  const perCase = new AttemptLimiter(config.PIN_ATTEMPTS_PER_CASE_PER_HOUR, HOUR_MS);
  const perClient = new AttemptLimiter(config.PIN_ATTEMPTS_PER_HOUR, HOUR_MS);
  // Verified against when the case does not exist, so both answers cost the same scrypt work.
  const dummyPinHash = await hashPin(normalizePin(newPin()));

  /** The case, if number and PIN are right; the same refusal otherwise. */
  async function openCase(request: FastifyRequest, typedNumber: string, typedPin: string): Promise<VictimCase> {
    const now = Date.now();
    const caseNumber = normalizeCaseNumber(typedNumber);
    const caseKey = caseNumber ?? typedNumber.toUpperCase();
    const clientKey = request.principal.keyId === null ? clientNetwork(request.ip, PIN_CLIENT_IPV6_PREFIX_BITS) : request.principal.actor;
    const waitMs = Math.max(perCase.retryAfterMs(caseKey, now), perClient.retryAfterMs(clientKey, now));
    if (waitMs > 0) {
      const seconds = Math.ceil(waitMs / 1000);
      throw new ApiError(429, 'RATE_LIMITED', `Too many wrong PINs; try again in ${Math.ceil(seconds / 60)} minutes.`, { 'retry-after': String(seconds) });
    }
    perCase.record(caseKey, now);
    perClient.record(clientKey, now);
    const found = caseNumber === null ? undefined : store.findCaseByNumber(caseNumber);
    const right = await verifyPin(normalizePin(typedPin), found?.pinHash ?? dummyPinHash);
    if (!found || !right) throw new ApiError(404, 'NOT_FOUND', NO_SUCH_CASE);
    perCase.forgive(caseKey, now);
    perClient.forgive(clientKey, now);
    // Read again: a withdrawal may have finished while the PIN was checked.
    return currentCase(found.caseNumber);
  }

  /** The case as stored now, or the usual refusal if it was withdrawn meanwhile. */
  function currentCase(caseNumber: string): VictimCase {
    const victimCase = store.findCaseByNumber(caseNumber);
    if (!victimCase) throw new ApiError(404, 'NOT_FOUND', NO_SUCH_CASE);
    return victimCase;
  }

  /** Hashes every image (all of them, so the answer names every file with a problem); stores nothing. */
  async function signalsFromImages(request: FastifyRequest): Promise<NewSignal[]> {
    const { files } = await readUploads(request, { fileField: 'image', maxFiles: CASE_MAX_IMAGES, maxTotalBytes: config.MAX_REQUEST_BYTES, textFields: [] });
    const signals: NewSignal[] = [];
    const lowQuality: string[] = [];
    for (const [i, file] of files.entries()) {
      const name = describeFile(i, file.filename);
      let hashed;
      try {
        hashed = await hashImage(file.bytes, {
          decodePath: config.DECODE_PATH,
          limits: { maxBytes: config.MAX_IMAGE_BYTES, maxPixels: config.MAX_IMAGE_PIXELS },
          dihedral: true,
        });
      } catch (err) {
        const api = err instanceof ImageError ? toApiError(err) : null;
        if (!api) throw err;
        throw new ApiError(api.statusCode, api.code, `${name}: ${api.message} Nothing was registered.`);
      }
      for (const type of ['pdq', 'blockhash', 'md5', 'sha256']) app.metrics.hashesComputed.inc({ signal_type: type });
      const pdq = hashed.pdq!;
      if (pdq.lowQuality) {
        lowQuality.push(`${name}: quality ${pdq.quality}`);
        continue;
      }
      // dihedral[0] is the image as given, i.e. the PDQ hash itself.
      for (const variant of pdq.dihedral!) signals.push({ type: 'pdq', hash: variant, quality: pdq.quality });
      signals.push({ type: 'blockhash', hash: hashed.blockhash! }, { type: 'md5', hash: hashed.md5! }, { type: 'sha256', hash: hashed.sha256! });
    }
    if (lowQuality.length > 0) {
      throw new ApiError(
        422,
        'LOW_QUALITY',
        `These images have too little detail to be recognised reliably (PDQ quality under ${PDQ_MIN_QUALITY}): ${lowQuality.join('; ')}. ` +
          'Nothing was registered. Send the others again, and if you can, a clearer or larger copy of these.',
      );
    }
    return signals;
  }

  function signalsFromHashes(body: { signals: { type: string; hash: string; quality?: number }[] }): NewSignal[] {
    const lowQuality = body.signals.flatMap((s, i) => (s.type === 'pdq' && s.quality !== undefined && s.quality < PDQ_MIN_QUALITY ? [`signals[${i}]`] : []));
    if (lowQuality.length > 0) {
      throw new ApiError(
        422,
        'LOW_QUALITY',
        `PDQ quality under ${PDQ_MIN_QUALITY} cannot be matched reliably: ${lowQuality.join(', ')}. Nothing was registered.`,
      );
    }
    return body.signals.map((s, i) => ({
      type: s.type,
      hash: fromHex(s.hash, STORED_SIGNAL_TYPES.get(s.type)!.bytes * 8, `signals[${i}].hash`),
      quality: s.quality ?? null,
    }));
  }

  app.post(
    '/v1/cases',
    {
      config: { permission: 'cases' },
      schema: {
        tags: ['cases'],
        summary: 'Register your own photos (or their hashes) as a case; get a case number and PIN, shown once',
        description:
          `multipart/form-data with up to ${CASE_MAX_IMAGES} images in the field \`image\` (hashed in memory, never stored), ` +
          `or JSON \`{signals: [{type, hash, quality?}]}\` with up to ${CASE_MAX_SIGNALS} hashes computed on your own device. ` +
          'Images too featureless to match reliably are refused with LOW_QUALITY and nothing is registered.',
        consumes: ['application/json', 'multipart/form-data'],
        // Validated only for JSON; multipart bodies are read by the handler.
        body: { content: { 'application/json': { schema: CreateCaseJson } } },
        response: { 201: CaseCreated, ...errorResponses(400, 401, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      let given: NewSignal[];
      if (request.isMultipart()) given = await signalsFromImages(request);
      else if (request.body) given = signalsFromHashes(request.body as Static<typeof CreateCaseJson>);
      else throw badRequest('INVALID_REQUEST', 'Send JSON {"signals": [{"type", "hash"}]} or your photos as multipart/form-data in "image" parts.');
      // The same photo sent twice (or a symmetric photo's equal variants) is one hash.
      const byHash = new Map<string, NewSignal>();
      for (const s of given) if (!byHash.has(`${s.type}:${toHex(s.hash)}`)) byHash.set(`${s.type}:${toHex(s.hash)}`, s);
      const signals = [...byHash.values()];
      const pin = newPin();
      const pinHash = await hashPin(normalizePin(pin));
      // A clash of ~59-bit random numbers is next to impossible; try again rather than fail if it happens.
      for (let attempt = 0; ; attempt++) {
        try {
          const created = store.createCase({ caseNumber: newCaseNumber(), pinHash, signals });
          return reply.code(201).send({ caseNumber: created.caseNumber, pin, hashes: signals.length });
        } catch (err) {
          if (!(err instanceof StoreError && err.code === 'CONFLICT') || attempt >= 3) throw err;
        }
      }
    },
  );

  app.get(
    '/v1/cases/:caseNumber',
    {
      config: { permission: 'cases' },
      schema: {
        tags: ['cases'],
        summary: 'What was found for a case: counts, platforms, group names, first and last seen',
        description:
          'Needs the PIN in the header `X-Case-Pin`. An unknown case number and a wrong PIN get the same 404. ' +
          `After ${config.PIN_ATTEMPTS_PER_HOUR} wrong PINs in an hour from one client, or ${config.PIN_ATTEMPTS_PER_CASE_PER_HOUR} for one case, every attempt gets 429 with Retry-After.`,
        params: CaseNumberParam,
        headers: PinHeader,
        response: { 200: CaseStatusBody, ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const victimCase = await openCase(request, request.params.caseNumber, request.headers['x-case-pin']);
      const signals = store.listSignals({ kind: 'case', caseId: victimCase.id });
      const matches =
        signals.length === 0 ? [] : (await services.matcher.matchContent({ hashes: signals.map(({ type, hash }) => ({ type, hash })) })).matches;
      // Withdrawn while the search ran: answered as withdrawn, not as still open.
      currentCase(victimCase.caseNumber);
      reply.matchCount = matches.length;

      const platforms = new Map<string, number>();
      const groups = new Map<string, { platform: string; group: string; matches: number }>();
      let firstSeen: string | null = null;
      let lastSeen: string | null = null;
      for (const { contentId, provenance } of matches) {
        platforms.set(provenance.platform, (platforms.get(provenance.platform) ?? 0) + 1);
        if (provenance.channel) {
          const key = JSON.stringify([provenance.platform, provenance.channel]);
          const group = groups.get(key) ?? { platform: provenance.platform, group: provenance.channel, matches: 0 };
          group.matches++;
          groups.set(key, group);
        }
        const seen = provenance.capturedAt ?? store.getContent(contentId).createdAt;
        if (firstSeen === null || seen < firstSeen) firstSeen = seen;
        if (lastSeen === null || seen > lastSeen) lastSeen = seen;
      }
      return {
        caseNumber: victimCase.caseNumber,
        status: victimCase.status,
        createdAt: victimCase.createdAt,
        hashes: signals.length,
        found: {
          matches: matches.length,
          platforms: [...platforms].map(([platform, count]) => ({ platform, matches: count })).sort((a, b) => b.matches - a.matches),
          groups: [...groups.values()].sort((a, b) => b.matches - a.matches),
          firstSeen,
          lastSeen,
        },
      };
    },
  );

  app.delete(
    '/v1/cases/:caseNumber',
    {
      config: { permission: 'cases' },
      schema: {
        tags: ['cases'],
        summary: 'Withdraw a case: every hash of it is deleted and can no longer match, at once',
        description: 'Needs the PIN in the header `X-Case-Pin`; refused and limited like reading the case.',
        params: CaseNumberParam,
        headers: PinHeader,
        response: { 204: Type.Null({ description: 'Withdrawn: the case and all its hashes are gone.' }), ...errorResponses(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const victimCase = await openCase(request, request.params.caseNumber, request.headers['x-case-pin']);
      // The indexes follow the store synchronously: no match can be found with these hashes once this returns.
      try {
        store.deleteCase(victimCase.id);
      } catch (err) {
        // Withdrawn by a request running alongside this one: the same answer as any unknown case.
        if (err instanceof StoreError && err.code === 'NOT_FOUND') throw new ApiError(404, 'NOT_FOUND', NO_SUCH_CASE);
        throw err;
      }
      return reply.code(204).send(null);
    },
  );
}
