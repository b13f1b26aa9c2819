/**
 * Refusals of the service layer, with the API's stable codes. The API maps
 * each code to its HTTP status (src/api/errors.ts); the CLI prints the message.
 */
export type ServiceErrorCode =
  | 'INVALID_REQUEST'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'LOW_QUALITY'
  | 'RATE_LIMITED'
  | 'TOO_MANY_HASHES'
  | 'NOT_READY'
  | 'INDEX_UNAVAILABLE';

export class ServiceError extends Error {
  constructor(
    readonly code: ServiceErrorCode,
    message: string,
    /** Seconds after which trying again makes sense (RATE_LIMITED, NOT_READY, INDEX_UNAVAILABLE). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

/** The store's refusals (an unknown key id, a name too long, a database of a newer schema), as callers outside the services meet them. */
export { StoreError } from '../store/errors.js';
