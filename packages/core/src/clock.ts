/** Time as the control plane sees it. Workflows never read Date.now() or setTimeout directly,
 * so the same code runs in real time (Lambda) and in simulated time (tests, bench, local mode). */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};
