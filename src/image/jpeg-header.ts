/**
 * What a JPEG's markers say before libvips sees the file, read in JavaScript:
 * - its stored size, from the frame header (SOFn), so that a JPEG upload needs
 *   no separate libvips header pass (sharp's `metadata()`, one more trip
 *   through the thread pool per image) before it is decoded; libvips still
 *   parses the whole file when it decodes, with the pixel limit set from the
 *   same figures as a backstop;
 * - how many scans libjpeg will decode. A progressive scan is a pass over
 *   every block of the image, and an end-of-band run lets a scan cover them
 *   all in a few bytes, so no size limit bounds the work: 883 valid scans of
 *   7000 x 7000 in 174 KB took 10 s to decode (libjpeg-turbo calls this
 *   LJT-01-003 and leaves the limit to applications).
 * Markers are found as libjpeg finds them (jdmarker.c), so the count is what
 * libjpeg decodes: entropy-coded data and stray bytes are skipped up to the
 * next 0xFF that is not a stuffed 0xFF 0x00, and a segment is skipped by its
 * length only where libjpeg does the same.
 */

/** libjpeg's JPEG_MAX_DIMENSION. */
const JPEG_MAX_DIMENSION = 65500;

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;

/** Start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC). */
const isStartOfFrame = (marker: number) => marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;

/** SOF2, SOF6, SOF10, SOF14: each scan refines the whole image. */
const isProgressive = (marker: number) => (marker & 0x03) === 2;

/**
 * Markers libjpeg never skips by a length: TEM, RST0-7 and the reserved codes
 * below SOF0 (parameterless, discarded in a restart resync or refused).
 */
const hasNoSegment = (marker: number) => marker < 0xc0 || (marker >= 0xd0 && marker <= 0xd7);

/**
 * Bytes looked at one by one before asking `indexOf` for the next 0xFF:
 * entropy-coded data has about one 0xFF in 256 bytes, where `indexOf` skips
 * fastest, but a file of stuffed 0xFF 0x00 pairs would otherwise cost a call
 * per two bytes (25 MB: 120 ms against 28 ms).
 */
const BYTES_BEFORE_INDEX_OF = 32;

/** The offset of the next marker's 0xFF (after any fill bytes) at or after `from`, or -1. */
function nextMarker(bytes: Uint8Array, from: number): number {
  let i = from;
  for (;;) {
    const end = Math.min(i + BYTES_BEFORE_INDEX_OF, bytes.length);
    while (i < end && bytes[i] !== 0xff) i++;
    if (i === end) i = bytes.indexOf(0xff, i);
    if (i < 0) return -1;
    while (bytes[i + 1] === 0xff) i++;
    if (i + 1 >= bytes.length) return -1;
    if (bytes[i + 1] !== 0x00) return i;
    i += 2;
  }
}

interface Frame {
  width: number;
  height: number;
  components: number;
  progressive: boolean;
}

/** The frame header whose segment starts at `at`, or null where libjpeg refuses it before any scan. */
function readFrame(bytes: Uint8Array, at: number, length: number, marker: number): Frame | null {
  if (length < 8) return null;
  const height = (bytes[at + 3] << 8) | bytes[at + 4];
  const width = (bytes[at + 5] << 8) | bytes[at + 6];
  // A height of 0 is defined later by a DNL marker, and libjpeg refuses a
  // side over 65500 as a corrupt header: leave both to libvips.
  if (width === 0 || height === 0 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION) return null;
  return { width, height, components: bytes[at + 7], progressive: isProgressive(marker) };
}

export interface JpegHeader {
  width: number;
  height: number;
  /** Scans libjpeg decodes, counted up to `maxScans + 1`. */
  scans: number;
}

/**
 * The first frame's size and the number of scans up to the end of the image,
 * or null when the segments lead to no frame header that libjpeg accepts (it
 * then refuses the file before decoding any scan; the caller asks libvips).
 * A truncated file gives the scans found before its end.
 */
export function readJpegHeader(bytes: Uint8Array, maxScans: number): JpegHeader | null {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== SOI) return null;
  let frame: Frame | null = null;
  let scans = 0;
  let at = 2;
  for (let i = nextMarker(bytes, at); i >= 0; i = nextMarker(bytes, at)) {
    const marker = bytes[i + 1];
    at = i + 2;
    if (hasNoSegment(marker)) continue;
    // libjpeg stops at the end of the image (a motion photo's video follows it) and refuses a second start.
    if (marker === EOI || marker === SOI) break;
    if (at + 2 > bytes.length) break;
    const length = (bytes[at] << 8) | bytes[at + 1];
    if (length < 2 || at + length > bytes.length) break;
    if (isStartOfFrame(marker) && !frame) {
      frame = readFrame(bytes, at, length, marker);
      if (!frame) return null;
    }
    if (marker === SOS) {
      if (!frame) return null;
      scans++;
      // A sequential first scan holding every component is the only one libjpeg
      // decodes (another is an error, JERR_EOI_EXPECTED): the rest need not be read.
      if (scans === 1 && !frame.progressive && bytes[at + 2] === frame.components) break;
      if (scans > maxScans) break;
    }
    at += length;
  }
  return frame && { width: frame.width, height: frame.height, scans };
}
