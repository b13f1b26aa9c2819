/**
 * Keeps libvips from ever writing decoded pixels to disk. Imported by
 * decode.ts before sharp.
 *
 * libvips decodes a format it cannot read sequentially (WebP, and any loader
 * without sequential or partial support) in one go into a whole-image buffer.
 * If that buffer is larger than VIPS_DISC_THRESHOLD (100 MB by default, e.g. a
 * 7000 x 6000 WebP), libvips puts it in an unnamed temp file
 * (open($TMPDIR, O_TMPFILE)) instead of memory. sharp cannot pass libvips'
 * `memory` load option, so the threshold is the only control.
 *
 * libvips reads the variable when the process first decodes an image (of any
 * format; not when sharp is imported, nor for metadata or for making and
 * encoding images) and keeps that value. So setting it here works whatever was
 * imported first, as long as nothing decoded an image before this module ran:
 * within src only decode.ts uses sharp, so in the server and the CLI nothing
 * can. Any value already set is replaced: any lower threshold lets some image
 * spill, and an empty one spills everything.
 */
import { isMainThread } from 'node:worker_threads';

/** 1 TiB (libvips reads it as 1024 x 2^30 bytes): more than any image that could be decoded in memory at all. */
export const MEMORY_ONLY_DISC_THRESHOLD = '1024g';

// A worker thread's process.env is its own copy: setting it there does not reach
// libvips, which reads the process's real environment. So in a worker the setting
// only counts if it was inherited (the main thread imported this module first, or
// the process started with it).
const inherited = process.env.VIPS_DISC_THRESHOLD === MEMORY_ONLY_DISC_THRESHOLD;
process.env.VIPS_DISC_THRESHOLD = MEMORY_ONLY_DISC_THRESHOLD;
const inEffect = isMainThread || inherited;

/** Refuses to decode where libvips might still spill to disk (a worker thread that did not inherit the setting). */
export function assertMemoryOnlyDecoding(): void {
  if (!inEffect) {
    throw new Error(
      `libvips could spill uploads to disk in this worker thread: import src/image/decode.ts in the main thread before starting it, or start the process with VIPS_DISC_THRESHOLD=${MEMORY_ONLY_DISC_THRESHOLD}.`,
    );
  }
}
