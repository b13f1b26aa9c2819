import { createHash } from 'node:crypto';
import type { NewContentItem } from '../../src/store/store.js';

export const ITEMS_PER_BATCH = 20;
export const PDQ_PER_ITEM = 100;
/** Each item: PDQ_PER_ITEM pdq signals and one md5. */
export const SIGNALS_PER_BATCH = ITEMS_PER_BATCH * (PDQ_PER_ITEM + 1);

function digest(algorithm: 'sha256' | 'md5', text: string): Uint8Array {
  return new Uint8Array(createHash(algorithm).update(text).digest());
}

/** The same batch number always gives the same content, so the parent can check every byte. */
export function crashBatch(batch: number): NewContentItem[] {
  return Array.from({ length: ITEMS_PER_BATCH }, (_, item) => ({
    provenance: { platform: 'telegram', channel: 'crash', messageRef: `${batch}/${item}` },
    metadata: { batch, item },
    signals: [
      ...Array.from({ length: PDQ_PER_ITEM }, (_, k) => ({ type: 'pdq', hash: digest('sha256', `${batch}/${item}/${k}`) })),
      { type: 'md5', hash: digest('md5', `${batch}/${item}`) },
    ],
  }));
}
