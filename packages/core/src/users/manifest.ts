import { z } from "zod";
import rules from "../../../../documents/scripts/lib/manifest-rules.json" with { type: "json" };
import { InvalidInputError } from "../errors";

/** The manifest's rules (patterns, reserved names, limits): the same file apply-users.sh hands to jq
 * on the instance, so what an operator's tools accept is exactly what the fleet applies. */
export const manifestRules = rules;

/** Where the fleet's own files live in the bucket; no user may ever be granted it. */
export const RESERVED_PREFIX = ".ftpfleet";
/** Where the manifest lives; apply-users' UsersManifestKey defaults to it. */
export const USERS_MANIFEST_KEY = `${RESERVED_PREFIX}/users.json`;
/** apply-users.sh reports each instance's last apply under this prefix. */
export const APPLIED_PREFIX = `${RESERVED_PREFIX}/applied/`;

interface PatternRule {
  pattern: string;
  rule: string;
}

/** A whole-value match: without the m flag JavaScript's `$` is the end of the input, as `\z` is in
 * apply-users.sh's jq (Oniguruma's `$` would also match before a trailing newline). */
function whole(rule: PatternRule): RegExp {
  return new RegExp(`^(?:${rule.pattern})$`);
}

/** Control characters (a trailing newline too) and non-ASCII are refused before any pattern. */
function textProblem(value: string): string | undefined {
  return /^[\x20-\x7e]*$/.test(value) ? undefined : "control or non-ASCII characters";
}

const userNamePattern = whole(rules.userName);
const hashPattern = whole(rules.passwordHash);
const segmentPattern = whole(rules.grantSegment);

function userNameProblem(name: string): string | undefined {
  if (!userNamePattern.test(name)) return rules.userName.rule;
  if (rules.reservedUserNames.includes(name)) return "reserved for a system account";
  return undefined;
}

function grantPathProblem(path: string): string | undefined {
  if (path.length > rules.maxGrantPathLength) return `at most ${rules.maxGrantPathLength} characters`;
  const segments = path.split("/");
  if (!segments.every((segment) => segmentPattern.test(segment))) return rules.grantSegment.rule;
  if (segments.some((segment) => rules.reservedFolders.includes(segment))) return "reserved for the fleet";
  return undefined;
}

/** A string field: printable ASCII first, then the field's own rule. */
function text(problem: (value: string) => string | undefined) {
  return z.string().superRefine((value, ctx) => {
    const found = textProblem(value) ?? problem(value);
    if (found !== undefined) ctx.addIssue({ code: "custom", message: found });
  });
}

export const userNameSchema = text(userNameProblem);

/** SHA-512 crypt (`$6$[rounds=N$]salt$hash`): checked by pure-ftpd with crypt(3) in milliseconds,
 * where its argon2id default costs seconds per login. Never a plaintext password. */
export const passwordHashSchema = text((hash) =>
  hashPattern.test(hash) ? undefined : rules.passwordHash.rule,
);

export const grantPathSchema = text(grantPathProblem);

const grantSchema = z.strictObject({
  path: grantPathSchema,
  access: z.enum(rules.access as ["ro", "rw"]),
});

/** Bumped by every write of the manifest; each instance reports the revision it applied. */
export const revisionSchema = z.custom<number>(
  (value) => typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= rules.maxRevision,
  { message: `must be a whole number from 0 to ${rules.maxRevision}` },
);

const userSchema = z.strictObject({
  name: userNameSchema,
  passwordHash: passwordHashSchema,
  /** Kept in the manifest, but on the instances as if removed: no login, no mounts, no sessions. */
  disabled: z.boolean().default(false),
  // Each path once, none inside another: a nested grant would be mounted over its parent's view.
  grants: z
    .array(grantSchema)
    .max(rules.maxGrantsPerUser)
    .superRefine((grants, ctx) => {
      grants.forEach(({ path }, j) => {
        const k = grants.findIndex(
          (other, i) => (i < j && other.path === path) || path.startsWith(`${other.path}/`),
        );
        if (k < 0) return;
        const how = grants[k]?.path === path ? "duplicate of" : "inside";
        ctx.addIssue({ code: "custom", path: [j, "path"], message: `${how} grants[${k}].path` });
      });
    }),
});

export const usersManifestSchema = z.strictObject({
  version: z.literal(rules.version as 1),
  /** bind (default): real folders bind-mounted into a real chroot. symlink: the seed's layout,
   * opt-in only — pure-ftpd-virtualchroot follows links out of the chroot, and only the mount's
   * nosymfollow keeps a link object planted in the bucket from showing a user host files. */
  layout: z.enum(rules.layouts as ["bind", "symlink"]).default("bind"),
  revision: revisionSchema.default(0),
  users: z
    .array(userSchema)
    .max(rules.maxUsers)
    .superRefine((users, ctx) => {
      users.forEach(({ name }, i) => {
        const first = users.findIndex((other) => other.name === name);
        if (first < i)
          ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicate of users[${first}].name` });
      });
    }),
});

export type UsersManifest = z.output<typeof usersManifestSchema>;

/** `users[1].grants[0].path`: the field as apply-users.sh names it too. */
export function manifestField(path: readonly PropertyKey[]): string {
  const text = path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("");
  return text.replace(/^\./, "") || "(root)";
}

/** One line per problem, `<field>: <what is wrong>`, worded as apply-users.sh words them. */
function problemsOf(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    const field = manifestField(issue.path);
    switch (issue.code) {
      case "unrecognized_keys":
        return issue.keys.map((key) => `${manifestField([...issue.path, key])}: unknown field`);
      case "invalid_type":
        return [`${field}: must be ${/^[aeiou]/.test(issue.expected) ? "an" : "a"} ${issue.expected}`];
      case "too_big":
        return [`${field}: at most ${issue.maximum} entries`];
      case "invalid_value":
        return [`${field}: must be ${issue.values.map(String).join(" or ")}`];
      default:
        return [`${field}: ${issue.message}`];
    }
  });
}

/** Every problem of a manifest, one line each (`users[1].grants[0].path: …`); empty when valid. */
export function manifestProblems(input: unknown): string[] {
  const result = usersManifestSchema.safeParse(input);
  return result.success ? [] : problemsOf(result.error);
}

export function parseUsersManifest(input: unknown): UsersManifest {
  const result = usersManifestSchema.safeParse(input);
  if (!result.success) {
    throw new InvalidInputError("invalid users manifest", problemsOf(result.error), { cause: result.error });
  }
  return result.data;
}
