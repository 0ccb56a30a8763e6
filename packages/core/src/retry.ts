import type { Clock, Logger } from "./ports";

export interface RetryOptions {
  clock: Clock;
  isRetryable: (error: unknown) => boolean;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** Each retry is logged (debug, "retry") with `what` was called and the error's name: the
   * metrics count the throttled ones. */
  log?: Logger | undefined;
  what?: string;
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
      options.log?.debug("retry", {
        call: options.what ?? "unnamed",
        attempt,
        delayMs,
        error: error instanceof Error ? error.name : String(error),
      });
      await clock.sleep(delayMs);
    }
  }
}
