/**
 * From canvas pixels to the raster the server would decode. A canvas gives
 * the photo upright (EXIF orientation applied) and always as RGBA; the server
 * hashes the pixels as stored, RGB when the file has no transparency. Both
 * are undone here, so the page's hashes are the server's.
 */
import type { Raster } from '../hashing/signal-type.js';
import { type Orientation, STORED_FROM_UPRIGHT, swapsSides } from '../robust/orientation.js';

/** `rgba` (width x height, upright) as the stored frame of a file with `orientation`; RGB when every pixel is opaque. */
export function storedRaster(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number, orientation: Orientation): Raster {
  let opaque = true;
  for (let i = 3; i < rgba.length; i += 4) {
    if (rgba[i] !== 255) {
      opaque = false;
      break;
    }
  }
  const channels = opaque ? 3 : 4;
  const swap = swapsSides(orientation);
  const storedWidth = swap ? height : width;
  const storedHeight = swap ? width : height;
  const out = new Uint8Array(width * height * channels);
  // Upright (x, y) shows the stored pixel (x0 + x * dxx + y * dxy, y0 + x * dyx + y * dyy).
  const [x0, dxx, dxy, y0, dyx, dyy] = STORED_FROM_UPRIGHT[orientation](storedWidth - 1, storedHeight - 1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * 4;
      const to = ((y0 + x * dyx + y * dyy) * storedWidth + (x0 + x * dxx + y * dxy)) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = rgba[from + c];
    }
  }
  return { width: storedWidth, height: storedHeight, channels, data: out };
}
