/** Queries built straight from bytes, for tests of the matcher below the query module's parsing. */
import { findSignalType } from '../../src/hashing/registry.js';
import type { Query, Thresholds } from '../../src/match/query.js';

export interface TestSignal {
  type: string;
  hash: Uint8Array;
  dct?: Float32Array;
}

export function q(signals: TestSignal[], options: { thresholds?: Thresholds; banks?: number[]; dihedral?: boolean } = {}): Query {
  return {
    signals: signals.map(({ type, hash, dct }) => ({ type: findSignalType(type)!, hash, region: null, variant: null, ...(dct ? { dct } : {}) })),
    mode: 'robust',
    thresholds: options.thresholds ?? {},
    ...(options.banks ? { banks: options.banks } : {}),
    dihedral: options.dihedral ?? false,
    fromHashes: true,
    warnings: [],
  };
}

/** The region hashes an image ingest stores with a captured image hashed with `regions: 'content'`. */
export function regionSignals(hashed: { regions?: { hash: Uint8Array; quality: number }[] }): { type: string; hash: Uint8Array; quality: number }[] {
  return (hashed.regions ?? []).map((r) => ({ type: 'pdq-region', hash: r.hash, quality: r.quality }));
}
