/**
 * The stored size of a JPEG from its frame header (SOFn), read in JavaScript
 * so that a JPEG upload needs no separate libvips header pass (sharp's
 * `metadata()`, one more trip through the thread pool per image) before it is
 * decoded. Anything unexpected gives null and the caller asks libvips instead;
 * libvips still parses the whole file when it decodes, with the pixel limit
 * set from the same figures as a backstop.
 */

/** libjpeg's JPEG_MAX_DIMENSION. */
const JPEG_MAX_DIMENSION = 65500;

/** Start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC). */
const isStartOfFrame = (marker: number) => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/** Width and height of the first frame header, or null when the segments do not lead to one. */
export function jpegSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  let i = 2;
  while (i + 3 < bytes.length) {
    if (bytes[i] !== 0xff) return null;
    // Fill bytes: any number of 0xFF may precede a marker.
    while (i + 1 < bytes.length && bytes[i + 1] === 0xff) i++;
    const marker = bytes[i + 1];
    i += 2;
    // Markers without a segment: TEM, RST0-7; a second SOI is malformed.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    // Start of scan or end of image before any frame header.
    if (marker === 0xd8 || marker === 0xd9 || marker === 0xda) return null;
    if (i + 2 > bytes.length) return null;
    const length = (bytes[i] << 8) | bytes[i + 1];
    if (length < 2 || i + length > bytes.length) return null;
    if (isStartOfFrame(marker)) {
      if (length < 8) return null;
      const height = (bytes[i + 3] << 8) | bytes[i + 4];
      const width = (bytes[i + 5] << 8) | bytes[i + 6];
      // A height of 0 is defined later by a DNL marker, and libjpeg refuses a
      // side over 65500 as a corrupt header: leave both to libvips.
      return width > 0 && height > 0 && width <= JPEG_MAX_DIMENSION && height <= JPEG_MAX_DIMENSION ? { width, height } : null;
    }
    i += length;
  }
  return null;
}
