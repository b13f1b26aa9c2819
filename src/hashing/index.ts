/** The signal types the service knows, by name. */
import { blockhash } from './blockhash.js';
import { md5, sha256 } from './digest.js';
import { pdq } from './pdq.js';
import { pdqRegion } from './pdq-region.js';
import type { SignalType } from './signal-type.js';

export const SIGNAL_TYPES = { pdq, blockhash, md5, sha256, 'pdq-region': pdqRegion } as const satisfies Record<string, SignalType>;
export type SignalTypeName = keyof typeof SIGNAL_TYPES;

export function isSignalTypeName(name: unknown): name is SignalTypeName {
  return typeof name === 'string' && Object.hasOwn(SIGNAL_TYPES, name);
}

export { blockhash, md5, pdq, pdqRegion, sha256 };
export type { SignalType } from './signal-type.js';
