import type { Clock } from "@ftpfleet/core";

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

/** Discrete-event time: sleeping costs nothing, and "how long would this take" is answered exactly.
 * `run(work)` lets every runnable promise settle, then jumps to the next timer, until `work` ends. */
export class SimulatedClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Timer[] = [];

  constructor(start = Date.parse("2026-01-01T00:00:00Z")) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#timers.push({ at: this.#now + Math.max(0, ms), seq: this.#seq++, resolve });
    });
  }

  /** Advances simulated time as far as needed for `work` to settle, and returns its result. */
  async run<T>(work: Promise<T>, limitMs = 24 * 3600_000): Promise<T> {
    let settled = false;
    work.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    const deadline = this.#now + limitMs;
    while (!settled) {
      await settle();
      if (settled) break;
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers.shift();
      if (!next) throw new Error("simulation stalled: work is pending but nothing is scheduled");
      if (next.at > deadline) throw new Error(`simulation ran past its limit of ${limitMs} ms`);
      this.#now = Math.max(this.#now, next.at);
      next.resolve();
    }
    return work;
  }

  /** Runs for `ms` of simulated time, letting everything scheduled in it happen. */
  advance(ms: number): Promise<void> {
    return this.run(this.sleep(ms));
  }
}

/** Lets queued promise continuations run to completion (they may schedule more). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
