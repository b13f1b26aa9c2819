/**
 * The one query. Whatever a request carries (hashes a client computed, the
 * robust hashes of a photo hashed on her own device, an uploaded image, a
 * case's stored hashes, a batch item), it becomes one `Query` here, under one
 * set of rules, and the Matcher answers that. /v1/match, batches, cases,
 * scans and the command line all come through this module, so a threshold, a
 * mode or a bank filter means the same everywhere.
 *
 * Pure: no I/O, no Node built-ins, so a browser builds the same query from
 * the same pixels.
 */
import { DIHEDRAL_NAMES, type DihedralName, pdqDihedralFromDct } from '../hashing/pdq.js';
import { findSignalType, type KnownSignalType, listSignalTypeNames, pdqNorm, pdqRegion, SIGNAL_TYPE_NAMES, type SignalTypeName, WHOLE_IMAGE_TYPES, type WholeImageSignalName } from '../hashing/registry.js';
import { type ImageSignals, wholeImageHash } from '../robust/image-signals.js';
import { REGION_KINDS, type RegionKind } from '../robust/regions.js';

export const MATCH_MODES = ['robust', 'pdq'] as const;
/**
 * `robust` also matches region hashes (crops, borders, captions,
 * screenshots, collage cells, stickers, small rotations) and always the 8
 * rotations and mirrors; `pdq` matches whole-image hashes only, as other PDQ
 * systems (ThreatExchange, HMA, StopNCII) do.
 */
export type MatchMode = (typeof MATCH_MODES)[number];
export const DEFAULT_MODE: MatchMode = 'robust';

/** Most hashes one query may carry as hashes: a robust query of one photo fits (about 700, the largest seen about 1,030), with room. */
export const MAX_QUERY_SIGNALS = 1500;

/** A request that cannot become a query; `code` is the API's error code. */
export class QueryError extends Error {
  constructor(
    readonly code: 'INVALID_REQUEST' | 'INVALID_HASH',
    message: string,
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

const invalid = (message: string) => new QueryError('INVALID_REQUEST', message);

/** Something the caller should know that did not stop the query (e.g. LOW_QUALITY). */
export interface QueryWarning {
  code: string;
  message: string;
}

export interface QuerySignal {
  type: KnownSignalType;
  hash: Uint8Array;
  /** pdq-region: which region of the query image the hash is of, reported with a match. */
  region: RegionKind | null;
  /** Which rotation or mirror of the image the hash is of, when the client says so. */
  variant: DihedralName | null;
  /** A hash computed here from pixels: its DCT, from which its 8 rotations and mirrors are derived. */
  dct?: Float32Array;
}

export type Thresholds = Partial<Record<SignalTypeName, number>>;

export interface Query {
  signals: QuerySignal[];
  mode: MatchMode;
  /** The request's own thresholds: they replace a bank's; types without one use the bank's, else the type's default. */
  thresholds: Thresholds;
  /** Banks to search; all when undefined. */
  banks?: number[];
  /** Search the 8 rotations and mirrors of every signal that carries its DCT. */
  dihedral: boolean;
  /** Hashes sent by the client, so a match names which one matched (`signalIndex`). */
  fromHashes: boolean;
  warnings: QueryWarning[];
}

/** How to match, as a request states it; the same fields on every route and in the CLI. */
export interface QueryOptions {
  mode?: MatchMode;
  /** The PDQ threshold, for whole-image and (robust) region hashes alike. */
  threshold?: number;
  thresholds?: Readonly<Record<string, number | undefined>>;
  banks?: readonly number[];
  dihedral?: boolean;
}

/** A hash as it travels: hex text, and what the client knows of it. */
export interface WireSignal {
  type: string;
  hash: string;
  region?: string;
  variant?: string;
}

/** One hash to look up: a query signal as given or one of its rotations and mirrors. */
export interface ExpandedSignal {
  type: KnownSignalType;
  code: Uint8Array;
  /** Position in `query.signals`. */
  signalIndex: number;
  variant: DihedralName | null;
  region: RegionKind | null;
}

/** The query's signals as searched: each as given, or, with `dihedral`, each with a DCT as its 8 variants. */
export function expandSignals(query: Query): ExpandedSignal[] {
  const out: ExpandedSignal[] = [];
  query.signals.forEach((signal, signalIndex) => {
    const { type, hash, region, variant, dct } = signal;
    if (!query.dihedral || !dct) return out.push({ type, code: hash, signalIndex, variant, region });
    pdqDihedralFromDct(dct).forEach((code, v) => out.push({ type, code, signalIndex, variant: DIHEDRAL_NAMES[v], region }));
  });
  return out;
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], what: string): T | undefined {
  if (value === undefined || (allowed as readonly string[]).includes(value)) return value as T | undefined;
  throw invalid(`${what} ${JSON.stringify(value)} is not one of ${allowed.join(', ')}.`);
}

/** A signal from its wire form; `what` names it in messages ("signals[3]"). */
function parseSignal({ type: typeName, hash, region, variant }: WireSignal, what: string): QuerySignal {
  const type = findSignalType(typeName);
  if (!type) throw invalid(`${what}.type ${JSON.stringify(typeName)} is not a signal type; use ${listSignalTypeNames()}.`);
  if (region !== undefined && type.scope !== 'region') throw invalid(`${what}.region is only for region hashes (${regionTypeNames()}).`);
  if (variant !== undefined && type.comparison !== 'hamming') throw invalid(`${what}.variant is only for perceptual hashes.`);
  try {
    return {
      type,
      hash: type.parse(hash, `${what}.hash (${type.name})`),
      region: oneOf(region, REGION_KINDS, `${what}.region`) ?? null,
      variant: oneOf(variant, DIHEDRAL_NAMES, `${what}.variant`) ?? null,
    };
  } catch (err) {
    if (err instanceof QueryError) throw err;
    throw new QueryError('INVALID_HASH', (err as Error).message);
  }
}

const regionTypeNames = () => listSignalTypeNames(SIGNAL_TYPE_NAMES.filter((name) => findSignalType(name)!.scope === 'region'));

/**
 * The threshold of each type the query will use, checked; `present` are the
 * types it has hashes of. A hash query is told of a threshold given for a
 * type it sent no hash of (THRESHOLD_NOT_USED); an image query chose no
 * hashes itself (a featureless image's LOW_QUALITY says why PDQ went unused).
 */
function requestThresholds(options: QueryOptions, mode: MatchMode, present: ReadonlySet<SignalTypeName>, warnUnused: boolean): { thresholds: Thresholds; warnings: QueryWarning[] } {
  const given: Record<string, number> = {};
  for (const [name, value] of Object.entries(options.thresholds ?? {})) if (value !== undefined) given[name] = value;
  for (const [name, value] of Object.entries(given)) {
    const type = findSignalType(name);
    if (!type || type.comparison !== 'hamming') throw invalid(`thresholds.${name}: only perceptual types have thresholds (${listSignalTypeNames(hammingNames())}); exact types always match exactly.`);
    if (!Number.isInteger(value) || value < 0 || value > type.bits) throw invalid(`thresholds.${name} must be a whole number from 0 to ${type.bits}.`);
  }
  const implied = options.threshold === undefined ? {} : thresholdShorthand(options.threshold, mode);
  for (const [name, value] of Object.entries(implied)) {
    if (given[name] !== undefined && given[name] !== value && name !== 'pdq-norm') throw invalid(`"threshold" and "thresholds.${name}" disagree; send one of them.`);
  }
  const thresholds: Thresholds = {};
  const warnings: QueryWarning[] = [];
  for (const [name, value] of Object.entries({ ...implied, ...given })) {
    if (present.has(name as SignalTypeName)) thresholds[name as SignalTypeName] = value;
    else if (warnUnused && (name in given || name === 'pdq')) warnings.push({ code: 'THRESHOLD_NOT_USED', message: `A ${name} threshold was given but the query has no ${name} hash.` });
  }
  return { thresholds, warnings };
}

/**
 * What `threshold`, the PDQ threshold, sets: PDQ's and, when regions are
 * matched, the region hashes' alike; and it tightens pdq-norm (dark photos)
 * but never loosens it past that type's own stricter ceiling.
 */
export function thresholdShorthand(threshold: number, mode: MatchMode = DEFAULT_MODE): Thresholds {
  return {
    pdq: threshold,
    'pdq-norm': Math.min(threshold, pdqNorm.maxThreshold),
    ...(mode === 'robust' ? { 'pdq-region': threshold } : {}),
  };
}

const hammingNames = () => SIGNAL_TYPE_NAMES.filter((name) => findSignalType(name)!.comparison === 'hamming');

function checkBanks(banks: readonly number[] | undefined): number[] | undefined {
  if (banks === undefined) return undefined;
  if (!Array.isArray(banks) || banks.length === 0 || banks.some((id) => !Number.isSafeInteger(id) || id < 1)) throw invalid('banks must be a non-empty list of bank ids.');
  return [...new Set(banks)];
}

/**
 * Checks options that do not depend on the hashes (a threshold out of range
 * or contradicting another, dihedral for hashes, a malformed bank list), so
 * that a request naming many queries (a batch) is refused as a whole for them.
 */
export function checkQueryOptions(options: QueryOptions, fromHashes: boolean): void {
  if (fromHashes && options.dihedral) queryFromHashes([], options);
  requestThresholds(options, options.mode ?? DEFAULT_MODE, new Set(SIGNAL_TYPE_NAMES), false);
  checkBanks(options.banks);
}

function assemble(signals: QuerySignal[], options: QueryOptions, dihedral: boolean, fromHashes: boolean, warnings: QueryWarning[]): Query {
  const mode = options.mode ?? DEFAULT_MODE;
  const present = new Set(signals.map((s) => s.type.name));
  const thresholds = requestThresholds(options, mode, present, fromHashes);
  const banks = checkBanks(options.banks);
  return { signals, mode, thresholds: thresholds.thresholds, ...(banks ? { banks } : {}), dihedral, fromHashes, warnings: [...warnings, ...thresholds.warnings] };
}

/**
 * A query of hashes sent as text: by a client that hashed the image itself
 * (the CLI, a browser), an NGO's hash list, or a stored batch item. Each hash
 * is checked against its type; messages name it as `what[i]`. `origin`
 * 'image': the hashes are an image's query kept as text (a batch of images),
 * answered as that image's query is.
 */
/** Hashes sent as text, each checked against its type; messages name them as `what[i]`. */
export function parseSignals(signals: readonly WireSignal[], what = 'signals'): QuerySignal[] {
  return signals.map((signal, i) => parseSignal(signal, `${what}[${i}]`));
}

export function queryFromHashes(signals: readonly WireSignal[], options: QueryOptions = {}, what = 'signals', origin: 'client' | 'image' = 'client'): Query {
  if (options.dihedral) {
    throw invalid(
      'dihedral matching needs the image: a bare PDQ hash cannot be rotated. Send the image as multipart, or send the 8 rotations and mirrors ' +
        'of its hash (POST /v1/hash with dihedral=true) as signals.',
    );
  }
  if (signals.length === 0) throw invalid(`${what} must hold at least one hash.`);
  const mode = options.mode ?? DEFAULT_MODE;
  const parsed = parseSignals(signals, what);
  const region = parsed.findIndex((s) => s.type.scope === 'region');
  if (region >= 0 && mode === 'pdq') {
    throw invalid(`${what}[${region}] is a ${parsed[region].type.name} hash, which mode "pdq" does not match; leave it out or use mode "robust".`);
  }
  return assemble(parsed, options, false, origin === 'client', []);
}

/** What a featureless PDQ means for a query: matched by its stretched-contrast hash and regions, or by exact copies only. */
export function lowQualityWarning(quality: number, fallback: boolean): QueryWarning {
  return {
    code: 'LOW_QUALITY',
    message: fallback
      ? `The photo is dark or has little contrast (PDQ quality ${quality}, under 50): it was matched by PDQ of its stretched contrast ` +
        '(pdq-norm, at a stricter threshold), its regions and exact copies (MD5, SHA-256).'
      : `The image has too little detail for perceptual matching (PDQ quality ${quality}, under 50): only exact copies (MD5, SHA-256) ` +
        'were looked for. A sharper or larger copy of the photo may match.',
  };
}

/** How an image must be hashed for a query in `mode`: its regions when robust (rotations come from the DCTs). */
export function imageHashingFor(mode: MatchMode = DEFAULT_MODE): { regions?: 'query' } {
  return mode === 'robust' ? { regions: 'query' } : {};
}

/**
 * A query of an image's signals (hashed as imageHashingFor says). A
 * featureless image (PDQ quality under 50) gives near-constant perceptual
 * hashes close to every other featureless image's: only its exact digests are
 * evidence then, and the query says so.
 */
export function queryFromImage(image: ImageSignals, options: QueryOptions = {}): Query {
  const mode = options.mode ?? DEFAULT_MODE;
  const signal = (type: KnownSignalType, hash: Uint8Array, region: RegionKind | null = null, dct?: Float32Array): QuerySignal => ({ type, hash, region, variant: null, ...(dct ? { dct } : {}) });
  const whole = (type: KnownSignalType): QuerySignal[] => {
    const name = type.name as WholeImageSignalName;
    const hash = wholeImageHash(image, name);
    if (!hash && 'fallbackFor' in type) return [];
    if (!hash) throw new Error(`queryFromImage needs the image hashed with every whole-image signal; ${type.name} is missing`);
    const withQuality = name === 'pdq' || name === 'pdq-norm' ? image[name] : undefined;
    return withQuality?.lowQuality ? [] : [signal(type, hash, null, withQuality?.dct)];
  };
  // Exact copies first: they are evidence even when nothing else is.
  const signals = WHOLE_IMAGE_TYPES.filter((t) => t.comparison === 'exact').flatMap(whole);
  const warnings: QueryWarning[] = [];
  const featureless = image.pdq?.lowQuality ?? false;
  // A featureless photo's PDQ and blockhash sit close to every other featureless image's; a fallback type (pdq-norm) may still serve.
  const perceptual = WHOLE_IMAGE_TYPES.filter((t) => t.comparison === 'hamming' && ('fallbackFor' in t ? featureless : !featureless)).flatMap(whole);
  signals.push(...perceptual);
  if (featureless) warnings.push(lowQualityWarning(image.pdq!.quality, perceptual.length > 0));
  if (mode === 'robust' && (!featureless || perceptual.length > 0)) {
    if (!image.regions) throw new Error('a robust query needs the image hashed with its query regions');
    for (const r of image.regions) signals.push(signal(pdqRegion, r.hash, r.kind, r.dct));
  }
  return assemble(signals, options, mode === 'robust' || (options.dihedral ?? false), false, warnings);
}

/**
 * The query as hashes a client sends (the CLI and a browser send exactly
 * this to POST /v1/match), so that it matches what the image itself would:
 * rotations and mirrors derived here go as hashes of their own, labelled.
 * At most MAX_QUERY_SIGNALS, the digests first, then PDQ, blockhash and the
 * region hashes in the order queryRegions gives them; any past the limit are
 * left out. An untagged opaque photo's all fit (about 700); a photo with an
 * EXIF orientation sends every region of its upright view and the first of
 * its stored view, a transparent one part of its flattened views.
 */
export function toWireSignals(query: Query, limit = MAX_QUERY_SIGNALS): WireSignal[] {
  return searchedSignals(query)
    .slice(0, limit)
    .map(({ type, code, variant, region }) => ({ type: type.name, hash: type.format(code), ...(region ? { region } : {}), ...(variant ? { variant } : {}) }));
}

/** Every hash the query searches with, each once (a symmetric photo's rotations can be equal), in the order given; equal hashes of two kinds of region both stay, as each kind searches its own parts of the index. */
export function searchedSignals(query: Query): ExpandedSignal[] {
  const seen = new Set<string>();
  return expandSignals(query).filter(({ type, code, region }) => {
    const key = `${type.name}:${region}:${type.format(code)}`;
    return !seen.has(key) && seen.add(key);
  });
}

/** A query of hashes already read (a case's registered hashes, a captured item's); types and region kinds as the store keeps them. */
export function queryFromSignals(signals: readonly { type: string; hash: Uint8Array; region?: RegionKind | null }[], options: QueryOptions = {}): Query {
  const parsed = signals.map(({ type: name, hash, region }, i): QuerySignal => {
    const type = findSignalType(name);
    if (!type || hash.length !== type.bytes) throw invalid(`signal ${i} is not a ${name} hash`);
    return { type, hash, region: region ?? null, variant: null };
  });
  if (parsed.length === 0) throw invalid('a query needs at least one hash.');
  return assemble(parsed, options, false, false, []);
}

/** Query options from form fields (multipart uploads), with the messages a person needs. */
export function queryOptionsFromFields(fields: Readonly<Record<string, string | undefined>>): QueryOptions {
  const options: QueryOptions = {};
  const mode = fields.mode;
  if (mode !== undefined) {
    if (!(MATCH_MODES as readonly string[]).includes(mode)) throw invalid(`The form field "mode" must be ${MATCH_MODES.join(' or ')}.`);
    options.mode = mode as MatchMode;
  }
  if (fields.dihedral !== undefined) {
    if (!['true', 'false', '1', '0'].includes(fields.dihedral)) throw invalid('The form field "dihedral" must be true or false.');
    options.dihedral = fields.dihedral === 'true' || fields.dihedral === '1';
  }
  if (fields.threshold !== undefined) {
    const value = fields.threshold;
    if (!/^\d{1,3}$/.test(value) || Number(value) > 256) throw invalid('The form field "threshold" must be a whole number from 0 to 256.');
    options.threshold = Number(value);
  }
  if (fields.banks !== undefined) options.banks = bankList(fields.banks, 'The form field "banks"');
  return options;
}

/** Most banks one query may name. */
export const MAX_BANK_FILTER = 100;

/** A comma-separated list of bank ids ("1,4"); one named twice is searched once. */
export function bankList(text: string, what: string): number[] {
  const ids = text.split(',').map((id) => id.trim());
  if (ids.length > MAX_BANK_FILTER || !ids.every((id) => /^[1-9]\d{0,15}$/.test(id))) {
    throw invalid(`${what} must be up to ${MAX_BANK_FILTER} bank ids separated by commas, e.g. "1,4".`);
  }
  return [...new Set(ids.map(Number))];
}
