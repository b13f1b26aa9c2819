/**
 * Where a request's time went, for the Server-Timing header (setting
 * SERVER_TIMING=1): decode, whole-image hashing, region hashing and searches
 * of an image lookup, each in milliseconds, as browsers' developer tools and
 * bench/http read it. Durations only: nothing about the image or its hashes.
 */
export class ServerTiming {
  private readonly phases = new Map<string, number>();
  private last = performance.now();

  /** Ends the phase `name` now: the time since the previous mark (or since this was made) is added to it. */
  mark(name: string): void {
    const now = performance.now();
    this.phases.set(name, (this.phases.get(name) ?? 0) + (now - this.last));
    this.last = now;
  }

  /** The header's value, e.g. `decode;dur=11.2, regions;dur=230.4, search;dur=40.1`. */
  header(): string {
    return [...this.phases].map(([name, ms]) => `${name};dur=${ms.toFixed(1)}`).join(', ');
  }
}
