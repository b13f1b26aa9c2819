/**
 * The signal types the service knows, in one list. Everything that depends on
 * which types exist (request schemas and the OpenAPI enum, hash parsing, the
 * store's checks, one index per type, thresholds and their ceilings) is read
 * from here: a new type is its module and one line below.
 */
import { blockhash } from './blockhash.js';
import { md5 } from './md5.js';
import { pdq } from './pdq.js';
import { pdqNorm } from './pdq-norm.js';
import { pdqRegion } from './pdq-region.js';
import { sha256 } from './sha256.js';
import type { SignalType } from './signal-type.js';

/** Of the whole image: every image is hashed with each of these. */
export const WHOLE_IMAGE_TYPES = [pdq, blockhash, md5, sha256, pdqNorm] as const satisfies readonly SignalType[];
/** Of regions of the image (robust matching). */
export const REGION_TYPES = [pdqRegion] as const satisfies readonly SignalType[];

export const SIGNAL_TYPES = [...WHOLE_IMAGE_TYPES, ...REGION_TYPES] as const;

export type SignalTypeName = (typeof SIGNAL_TYPES)[number]['name'];
export type WholeImageSignalName = (typeof WHOLE_IMAGE_TYPES)[number]['name'];
export type KnownSignalType = (typeof SIGNAL_TYPES)[number];

export const SIGNAL_TYPE_NAMES: readonly SignalTypeName[] = SIGNAL_TYPES.map((t) => t.name);

/** The types matched by Hamming distance, whose thresholds a bank or request may set. */
export const HAMMING_TYPES: readonly KnownSignalType[] = SIGNAL_TYPES.filter((t) => t.comparison === 'hamming');

/** Longest text form of any type's hash (hex digits). */
export const MAX_HASH_HEX = Math.max(...SIGNAL_TYPES.map((t) => t.bits / 4));

const BY_NAME: ReadonlyMap<string, KnownSignalType> = new Map(SIGNAL_TYPES.map((t) => [t.name, t]));

export function isSignalTypeName(name: unknown): name is SignalTypeName {
  return typeof name === 'string' && BY_NAME.has(name);
}

/** The type of this name, or undefined. */
export function findSignalType(name: unknown): KnownSignalType | undefined {
  return typeof name === 'string' ? BY_NAME.get(name) : undefined;
}

/** Names for messages: "pdq, blockhash, md5, sha256 or pdq-region". */
export function listSignalTypeNames(names: readonly string[] = SIGNAL_TYPE_NAMES): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

export { blockhash, md5, pdq, pdqNorm, pdqRegion, sha256 };
export type { SignalType } from './signal-type.js';
