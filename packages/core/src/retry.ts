import type { Clock } from "./ports";

export interface RetryOptions {
  clock: Clock;
  isRetryable: (error: unknown) => boolean;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** The project's one retry helper: exponential backoff with full jitter, so that many callers
 * throttled at once spread out instead of retrying in lock-step. */
export async function retry<T>(operation: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { clock, isRetryable, maxAttempts = 10, baseDelayMs = 100, maxDelayMs = 10_000 } = options;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (attempt >= maxAttempts || !isRetryable(error)) throw error;
      const delayMs = Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt));
      options.onRetry?.({ attempt, delayMs, error });
      await clock.sleep(delayMs);
    }
  }
}
