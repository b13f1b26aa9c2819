/**
 * Failed attempts per key in a sliding window, in memory (a restart forgets
 * them, which costs an attacker a restart per window). An attempt counts as
 * failed from the moment it starts, so parallel guesses cannot all slip in
 * before the first is recorded; a right answer takes its attempt back.
 */
export class AttemptLimiter {
  private readonly attempts = new Map<string, number[]>();
  /** Prune stale keys when this many are held: twice what the last prune kept, so each prune's cost is spread over as many records. */
  private pruneAt = 10_000;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Milliseconds until `key` may try again; 0 if it may now. */
  retryAfterMs(key: string, now: number): number {
    const times = this.live(key, now);
    return times.length >= this.limit ? times[0] + this.windowMs - now : 0;
  }

  record(key: string, now: number): void {
    const times = this.live(key, now);
    times.push(now);
    this.attempts.set(key, times);
    // Keys of other cases and clients pile up under a spray of guesses; drop the stale ones now and then.
    if (this.attempts.size > this.pruneAt) this.prune(now);
  }

  /** Takes back one attempt recorded at `at`; a key with none left is forgotten (it names a case, or a client). */
  forgive(key: string, at: number): void {
    const times = this.attempts.get(key);
    const i = times?.indexOf(at) ?? -1;
    if (times && i >= 0) times.splice(i, 1);
    if (times?.length === 0) this.attempts.delete(key);
  }

  private live(key: string, now: number): number[] {
    const times = (this.attempts.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (times.length === 0) this.attempts.delete(key);
    return times;
  }

  private prune(now: number): void {
    for (const key of [...this.attempts.keys()]) this.live(key, now);
    this.pruneAt = Math.max(10_000, 2 * this.attempts.size);
  }

  /** Keys held (for tests). */
  get size(): number {
    return this.attempts.size;
  }
}
