/**
 * Throughput of async tasks (such as sharp decodes) with a fixed number in
 * flight. Tasks compared with each other are measured in interleaved slices
 * (A B C A B C ...) so that load from elsewhere on a noisy machine falls on
 * all of them alike.
 */
export async function interleavedPerSecond<K extends string>(
  tasks: Record<K, () => Promise<unknown>>,
  options: { seconds: number; inFlight: number; rounds: number },
): Promise<Record<K, number>> {
  return (await interleavedRates(tasks, options)).perSecond;
}

/**
 * interleavedPerSecond, plus the process's CPU time (all threads: JS and
 * libvips) per completed task, which outside load changes less than the rate.
 */
export async function interleavedRates<K extends string>(
  tasks: Record<K, () => Promise<unknown>>,
  { seconds, inFlight, rounds }: { seconds: number; inFlight: number; rounds: number },
): Promise<{ perSecond: Record<K, number>; cpuMsPerTask: Record<K, number> }> {
  const names = Object.keys(tasks) as K[];
  const done = Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>;
  const elapsed = Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>;
  const cpu = Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>;
  for (const name of names) for (let i = 0; i < inFlight * 2; i++) await tasks[name](); // warm-up
  const slice = (seconds * 1000) / rounds;
  for (let round = 0; round < rounds; round++) {
    for (const name of names) {
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const deadline = started + slice;
      const worker = async () => {
        while (performance.now() < deadline) {
          await tasks[name]();
          done[name]++;
        }
      };
      await Promise.all(Array.from({ length: inFlight }, worker));
      elapsed[name] += performance.now() - started;
      const used = process.cpuUsage(cpuBefore);
      cpu[name] += (used.user + used.system) / 1000;
    }
  }
  return {
    perSecond: Object.fromEntries(names.map((n) => [n, done[n] / (elapsed[n] / 1000)])) as Record<K, number>,
    cpuMsPerTask: Object.fromEntries(names.map((n) => [n, cpu[n] / done[n]])) as Record<K, number>,
  };
}

/** Mean milliseconds per call of a synchronous function, after warm-up. */
export function msPerCall(fn: () => unknown, { seconds }: { seconds: number }): number {
  const warmUntil = performance.now() + Math.min(500, seconds * 250);
  while (performance.now() < warmUntil) fn();
  let calls = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    for (let i = 0; i < 10; i++) fn();
    calls += 10;
  }
  return (performance.now() - started) / calls;
}

export const round = (x: number, digits = 2) => Number(x.toFixed(digits));
