/** Image input errors, each with a stable code that callers (API, CLI) pass on as is. */
export type ImageErrorCode =
  | 'EMPTY_IMAGE'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_TOO_SMALL'
  | 'UNSUPPORTED_FORMAT'
  | 'CORRUPT_IMAGE'
  /** Valid, but far costlier to decode than its size says (a JPEG's scans, a TIFF's pages, a decode timeout). */
  | 'IMAGE_TOO_COMPLEX';

export class ImageError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ImageError';
  }
}
