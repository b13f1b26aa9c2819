/** Errors raised at the store boundary; `code` is stable for callers and the API. */
export type StoreErrorCode = 'INVALID_HASH' | 'INVALID_INPUT' | 'NOT_FOUND' | 'CONFLICT' | 'MIGRATION_MISMATCH';

export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}
