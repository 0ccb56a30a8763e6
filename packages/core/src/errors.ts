import type { z } from "zod";

/** Input from outside (an event, a message, an environment variable) that does not have the shape
 * we require. Nothing has been changed when this is thrown. */
export class InvalidInputError extends Error {
  override readonly name = "InvalidInputError";
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(issues.length > 0 ? `${message}: ${issues.join("; ")}` : message, options);
  }
}

/** A Route53 change batch that Route53 refused; `failed` lists what did not land. */
export class RecordChangesFailedError extends Error {
  override readonly name = "RecordChangesFailedError";
  constructor(
    readonly failed: readonly { change: string; reason: string }[],
    options?: { cause?: unknown },
  ) {
    super(
      `${failed.length} record change(s) refused by Route53: ${failed.map((f) => f.reason).join("; ")}`,
      options,
    );
  }
}

/** Another writer changed the users manifest since it was read: read again and redo the change. */
export class ManifestChangedError extends Error {
  override readonly name = "ManifestChangedError";
}

export function errorName(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Parses `input` or throws an InvalidInputError naming every problem. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  describePath: (path: PropertyKey[]) => string = (path) => path.map(String).join(".") || "(root)",
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => `${describePath(issue.path)}: ${issue.message}`);
  throw new InvalidInputError(what, issues, { cause: result.error });
}

/** Parses a JSON object someone else wrote (the bucket is input too): the data, or the first
 * problem named (`field: what is wrong`), never thrown. */
export function parseJsonOrProblem<S extends z.ZodType>(
  schema: S,
  body: string,
  what: string,
): z.output<S> | { problem: string } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { problem: `the ${what} is not JSON` };
  }
  const result = schema.safeParse(json);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  return { problem: `${issue?.path.join(".") || what}: ${issue?.message ?? "invalid"}` };
}
