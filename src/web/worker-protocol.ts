/** What the page and the hashing worker say to each other. */
import type { WireSignal } from '../match/query.js';

export interface WorkerRequest {
  id: number;
  file: Blob;
}

export type WorkerReply =
  | { id: number; ok: true; signals: WireSignal[]; lowQuality: boolean; thumbnail: Blob }
  | { id: number; ok: false; code: 'UNREADABLE' | 'TOO_SMALL' | 'TOO_LARGE' };
