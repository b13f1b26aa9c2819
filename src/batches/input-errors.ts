/**
 * Whether a failed item is its own fault (a hash that is not valid for its
 * type, an image that cannot be read, a bank that does not exist): then it
 * fails with that error and the batch goes on. Anything else is a failure on
 * our side, retried (see runner.ts).
 */
import { InvalidHashError } from '../hashing/hex.js';
import { ImageError } from '../image/errors.js';
import { QueryError } from '../match/query.js';
import { StoreError } from '../store/errors.js';
import type { ItemError } from '../store/batches.js';

export function inputErrorOf(err: unknown): ItemError | null {
  if (err instanceof QueryError || err instanceof ImageError || err instanceof InvalidHashError) return { code: err.code, message: err.message };
  if (err instanceof StoreError && err.code !== 'MIGRATION_MISMATCH') return { code: err.code === 'INVALID_INPUT' ? 'INVALID_REQUEST' : err.code, message: err.message };
  return null;
}
