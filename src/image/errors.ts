/** Image input errors, each with a stable code that callers (API, CLI) pass on as is. */
export type ImageErrorCode =
  | 'EMPTY_IMAGE'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_TOO_SMALL'
  | 'UNSUPPORTED_FORMAT'
  | 'CORRUPT_IMAGE';

export class ImageError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}
