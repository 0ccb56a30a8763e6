/** Failures to inject into a simulated service: the next `times` calls of `command` throw. */
export class Faults {
  #planned: { command: string; times: number; error: () => Error }[] = [];

  inject(command: string, error: () => Error, times = 1): void {
    this.#planned.push({ command, times, error });
  }

  /** Throws the planned failure for this call, if any. */
  check(command: string): void {
    const fault = this.#planned.find((f) => f.command === command && f.times > 0);
    if (!fault) return;
    fault.times--;
    throw fault.error();
  }
}

/** Counts calls per command, for benchmarks and assertions. */
export class CallLog {
  readonly counts = new Map<string, number>();
  count(command: string): void {
    this.counts.set(command, (this.counts.get(command) ?? 0) + 1);
  }
  get(command: string): number {
    return this.counts.get(command) ?? 0;
  }
  total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }
}
