/** Errors AWS asks callers to retry: rate limits, a prior change still in progress, server faults. */
const transientNames = new Set([
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "PriorRequestNotComplete",
  "ServiceUnavailable",
  "InternalError",
  "InternalFailure",
  "RequestTimeout",
]);

export function isTransientAwsError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const meta = error as { $fault?: string; $retryable?: unknown };
  return transientNames.has(error.name) || meta.$fault === "server" || meta.$retryable !== undefined;
}

export function isThrottle(error: unknown): boolean {
  return error instanceof Error && isThrottleName(error.name);
}

/** The errors AWS services answer when a caller exceeds their rate. */
const throttleNames = new Set([
  "Throttling",
  "ThrottlingException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "SlowDown",
]);

/** A rate limit, by the error's name (as logged): not a fault, not a change still in progress. */
export function isThrottleName(name: string): boolean {
  return throttleNames.has(name);
}
