import type { Clock } from "./ports";

/** Real time, for Lambda. Tests and the benchmark use a simulated clock instead. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

export interface UntilOptions {
  /** Time between checks. */
  stepMs?: number;
  limitMs?: number;
  /** Names the condition in the error when the limit passes. */
  what?: string;
}

/** Waits, in the clock's time, until `condition` holds: simulated time in tests, real time in the
 * sandbox and local mode. */
export async function until(
  clock: Clock,
  condition: () => boolean | Promise<boolean>,
  options: UntilOptions = {},
): Promise<void> {
  const { stepMs = 100, limitMs = 3600_000, what = "condition" } = options;
  const start = clock.now();
  while (!(await condition())) {
    if (clock.now() - start > limitMs) throw new Error(`${what} not met within ${limitMs} ms`);
    await clock.sleep(stepMs);
  }
}
