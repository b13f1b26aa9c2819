/**
 * Exact-copy signals over the original bytes, in WebAssembly (hash-wasm): the
 * same code hashes an upload on the server and a photo in the victim's
 * browser, which has no MD5 of its own, at about native speed.
 */
import type { IHasher } from 'hash-wasm';
import { hammingDistance } from './hamming.js';
import { hexForm, type ExactSignalType } from './signal-type.js';

/** An exact signal type whose hashes come from the digest `hasher` makes. */
export function digestSignalType<Name extends string>(name: Name, bits: number, description: string, create: () => Promise<IHasher>): ExactSignalType<Name> {
  // One hasher per type: init, update and digest run with no await between them, so calls cannot interleave.
  let hasher: Promise<IHasher> | undefined;
  return {
    name,
    bits,
    ...hexForm(bits),
    comparison: 'exact',
    defaultThreshold: 0,
    maxThreshold: 0,
    interoperable: true,
    scope: 'whole',
    description,
    input: 'bytes',
    distance: hammingDistance,
    hashBytes: async (bytes) => (await (hasher ??= create())).init().update(bytes).digest('binary'),
  };
}
