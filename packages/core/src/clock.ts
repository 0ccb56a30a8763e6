import type { Clock } from "./ports";

/** Real time, for Lambda. Tests and the benchmark use a simulated clock instead. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};
