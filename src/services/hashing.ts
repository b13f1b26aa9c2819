/** Hashing uploads (in memory, never stored) under the service's limits, counting what was computed for /metrics. */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Config } from '../config.js';
import { ImageError } from '../image/errors.js';
import { type HashedImage, type HashImageOptions, hashImage } from '../image/hash-image.js';
import { imageHashingFor, type MatchMode, queryOptionsFromFields } from '../match/query.js';
import type { ServerTiming } from './timing.js';
import { type ImageHashesText, imageHashesText, WHOLE_IMAGE_SIGNALS, wholeImageHash } from '../robust/image-signals.js';

export class ImageHashing {
  /** Hashes computed since start, by signal type. */
  readonly computed = new Map<string, number>();

  constructor(private readonly config: Config) {}

  /** Every whole-image signal (and regions, if asked) of one upload. */
  async hash(bytes: Uint8Array, options: Pick<HashImageOptions, 'dihedral' | 'regions' | 'phaseDone'> = {}): Promise<HashedImage> {
    const hashed = await hashImage(bytes, {
      ...options,
      decodePath: this.config.DECODE_PATH,
      limits: { maxBytes: this.config.MAX_IMAGE_BYTES, maxPixels: this.config.MAX_IMAGE_PIXELS },
      // A query's hundreds of region hashes are made a slice at a time, so other requests are answered meanwhile.
      ...(options.regions === 'query' ? { pause: yieldToEventLoop } : {}),
    });
    for (const name of WHOLE_IMAGE_SIGNALS) if (wholeImageHash(hashed, name)) this.count(name, 1);
    if (hashed['pdq-norm']) this.count('pdq-norm', 1);
    if (hashed.regions) this.count('pdq-region', hashed.regions.length);
    return hashed;
  }

  /** POST /v1/hash: the hashes of one upload as text; the form field `dihedral` asks for PDQ's rotations and mirrors too. */
  async describe(bytes: Uint8Array, fields: Readonly<Record<string, string | undefined>>): Promise<ImageHashesText> {
    const dihedral = queryOptionsFromFields({ dihedral: fields.dihedral }).dihedral ?? false;
    return imageHashesText(await this.hash(bytes, { dihedral }));
  }

  /** An upload hashed for a query in `mode`; with `timing`, each phase is timed. */
  hashForQuery(bytes: Uint8Array, mode?: MatchMode, timing?: ServerTiming): Promise<HashedImage> {
    return this.hash(bytes, { ...imageHashingFor(mode), ...(timing ? { phaseDone: (phase: string) => timing.mark(phase) } : {}) });
  }

  /**
   * hash(), with a refusal's message naming the file (`name`, e.g. "image 2
   * (beach.jpg)") and what became of the request (`outcome`, e.g. "Nothing
   * was stored.").
   */
  async hashNamed(bytes: Uint8Array, name: string, outcome: string, options: Pick<HashImageOptions, 'dihedral' | 'regions'> = {}): Promise<HashedImage> {
    try {
      return await this.hash(bytes, options);
    } catch (err) {
      if (err instanceof ImageError) throw new ImageError(err.code, `${name}: ${err.message} ${outcome}`);
      throw err;
    }
  }

  private count(type: string, n: number): void {
    this.computed.set(type, (this.computed.get(type) ?? 0) + n);
  }
}

/** How an answer names the `index`-th file of a request (from 0). */
export function describeFile(index: number, filename: string | undefined): string {
  return `image ${index + 1}${filename ? ` (${filename})` : ''}`;
}
