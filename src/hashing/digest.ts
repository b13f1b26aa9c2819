/** Exact-copy signals over the original bytes (StopNCII exchanges MD5). */
import { createHash } from 'node:crypto';
import { hammingDistance } from './hamming.js';
import type { ExactSignalType } from './signal-type.js';

function digestType(name: 'md5' | 'sha256', bits: number): ExactSignalType {
  return {
    name,
    bits,
    defaultThreshold: 0,
    input: 'bytes',
    distance: hammingDistance,
    hashBytes: (bytes) => new Uint8Array(createHash(name).update(bytes).digest()),
  };
}

export const md5 = digestType('md5', 128);
export const sha256 = digestType('sha256', 256);
