/** Records as a strict import stages them (src/store/exchange-staging.ts): hashes as hex, types by name. */
import { findExchangeType, type ExchangeRecord } from '../exchange/index.js';

type Staged = { l: number; s: [string, string, number | null][]; p?: ExchangeRecord['provenance']; m: Record<string, unknown>; n?: string | null; r?: boolean; t?: number };

export function serializeRecords(reads: readonly { line: number; record: ExchangeRecord }[]): string {
  return JSON.stringify(
    reads.map(({ line, record: r }): Staged => ({
      l: line,
      s: r.signals.map((s) => [s.type.name, s.type.format(s.hash), s.quality]),
      p: r.provenance,
      m: r.metadata,
      n: r.note,
      r: r.remove,
      t: r.modifiedAt,
    })),
  );
}

export function deserializeRecords(text: string): { line: number; record: ExchangeRecord }[] {
  return (JSON.parse(text) as Staged[]).map((x) => ({
    line: x.l,
    record: {
      signals: x.s.map(([name, hex, quality]) => {
        const type = findExchangeType(name);
        return { type, hash: type.parse(hex), quality };
      }),
      provenance: x.p,
      metadata: x.m,
      note: x.n,
      remove: x.r,
      modifiedAt: x.t,
    },
  }));
}
