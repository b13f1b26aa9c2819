/**
 * How far a large photo is reduced before hashing, shared by the server's
 * fast decode (src/image/decode.ts) and the browser page (src/web), so both
 * hash a photo at the same size.
 */
import { PDQ_SQUASH_SIZE } from '../hashing/pdq.js';

/**
 * The fast path's decode scale: the larger of 8 and 4 that leaves the longer
 * side at least 512 (what PDQ samples) and the shorter at least 256 pixels,
 * else 1. Never 2: sharp would decode a JPEG at full size for it anyway (see
 * src/image/decode.ts), and subsampling that by 2 cost more than it saved
 * (bench/hash: a 1280 x 960 JPEG decoded in full and hashed is cheaper, and
 * then hashes exactly as the reference path does).
 */
export function fastShrinkFactor(width: number, height: number): number {
  for (const factor of [8, 4]) {
    if (Math.max(width, height) / factor >= PDQ_SQUASH_SIZE && Math.min(width, height) / factor >= PDQ_SQUASH_SIZE / 2) return factor;
  }
  return 1;
}
