/** Throughput with a fixed number of operations in flight, for async work such as sharp decodes. */
export async function perSecond(task: () => Promise<unknown>, { seconds, inFlight }: { seconds: number; inFlight: number }): Promise<number> {
  for (let i = 0; i < inFlight * 2; i++) await task(); // warm-up
  let done = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      await task();
      done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return done / ((performance.now() - started) / 1000);
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
