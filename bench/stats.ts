// Small statistics for the bench's figures.

export const round = (value: number, digits = 2): number => {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
};

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** [lowest, highest], rounded. */
export function range(values: number[], digits = 2): [number, number] {
  return [round(Math.min(...values), digits), round(Math.max(...values), digits)];
}

/** Runs `samples` times, each after the previous; resolves with every result. */
export async function repeat<T>(samples: number, run: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < samples; i++) results.push(await run(i));
  return results;
}
