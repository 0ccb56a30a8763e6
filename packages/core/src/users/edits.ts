import { z } from "zod";
import { InvalidInputError } from "../errors";
import {
  grantPathSchema,
  manifestProblems,
  manifestRules,
  passwordHashSchema,
  type UsersManifest,
  userNameSchema,
} from "./manifest";

/** One change an operator asks of the users manifest. Values are checked with the manifest's own
 * rules before anything is read (`parseUserEdit`); whether the change still makes sense is decided
 * against the manifest it is applied to (`applyUserEdit`). */
export type UserEdit =
  | { kind: "add"; name: string; passwordHash: string; grants: Grant[] }
  | { kind: "remove"; name: string }
  | { kind: "passwd"; name: string; passwordHash: string }
  | { kind: "grant"; name: string; grant: Grant }
  | { kind: "revoke"; name: string; path: string }
  | { kind: "disable"; name: string }
  | { kind: "enable"; name: string };

export interface Grant {
  path: string;
  access: "ro" | "rw";
}

/** The change cannot be made to the manifest as it is now (the user is gone, the grant would nest
 * inside another, …): refused, nothing written. */
export class EditRefusedError extends Error {
  override readonly name = "EditRefusedError";
}

const grantSchema = z.strictObject({
  path: grantPathSchema,
  access: z.enum(manifestRules.access as ["ro", "rw"]),
});

const editSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("add"),
    name: userNameSchema,
    passwordHash: passwordHashSchema,
    grants: z.array(grantSchema).max(manifestRules.maxGrantsPerUser),
  }),
  z.strictObject({ kind: z.literal("remove"), name: userNameSchema }),
  z.strictObject({ kind: z.literal("passwd"), name: userNameSchema, passwordHash: passwordHashSchema }),
  z.strictObject({ kind: z.literal("grant"), name: userNameSchema, grant: grantSchema }),
  z.strictObject({ kind: z.literal("revoke"), name: userNameSchema, path: grantPathSchema }),
  z.strictObject({ kind: z.literal("disable"), name: userNameSchema }),
  z.strictObject({ kind: z.literal("enable"), name: userNameSchema }),
]);

/** Checks an edit's values with the manifest's rules, naming the field (`name`, `grant.path`, …);
 * the password hash is never echoed. */
export function parseUserEdit(input: unknown): UserEdit {
  const result = editSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`));
    return `${field.join("").replace(/^\./, "") || "edit"}: ${issue.message}`;
  });
  throw new InvalidInputError("invalid user change", problems, { cause: result.error });
}

/** A grant written the way operators type it: `PATH:ro` or `PATH:rw`. */
export function parseGrant(text: string): Grant {
  const colon = text.lastIndexOf(":");
  const access = colon < 0 ? "" : text.slice(colon + 1);
  if (access !== "ro" && access !== "rw") {
    throw new InvalidInputError("invalid grant", ["grant: expected PATH:ro or PATH:rw"]);
  }
  return { path: text.slice(0, colon), access };
}

export const EMPTY_MANIFEST: UsersManifest = { version: 1, layout: "bind", revision: 0, users: [] };

/** The manifest with `edit` made and its revision bumped, or "unchanged" when it already holds
 * what the edit asks (granting what is granted): nothing to write. Throws EditRefusedError when the
 * edit no longer makes sense for this manifest. */
export function applyUserEdit(manifest: UsersManifest, edit: UserEdit): UsersManifest | "unchanged" {
  const users = manifest.users;
  const index = users.findIndex((user) => user.name === edit.name);
  const user = users[index];
  if (edit.kind === "add") {
    if (user) throw new EditRefusedError(`user ${edit.name} already exists`);
    return checked(manifest, [
      ...users,
      { name: edit.name, passwordHash: edit.passwordHash, disabled: false, grants: edit.grants },
    ]);
  }
  if (!user) throw new EditRefusedError(`user ${edit.name} does not exist`);
  const replace = (changed: typeof user) => users.map((other, i) => (i === index ? changed : other));
  switch (edit.kind) {
    case "remove":
      return checked(
        manifest,
        users.filter((_, i) => i !== index),
      );
    case "passwd":
      return checked(manifest, replace({ ...user, passwordHash: edit.passwordHash }));
    case "disable":
    case "enable": {
      const disabled = edit.kind === "disable";
      if (user.disabled === disabled) return "unchanged";
      return checked(manifest, replace({ ...user, disabled }));
    }
    case "grant": {
      const existing = user.grants.find((grant) => grant.path === edit.grant.path);
      if (existing?.access === edit.grant.access) return "unchanged";
      const grants = existing
        ? user.grants.map((grant) => (grant.path === edit.grant.path ? edit.grant : grant))
        : [...user.grants, edit.grant];
      return checked(manifest, replace({ ...user, grants }));
    }
    case "revoke": {
      if (!user.grants.some((grant) => grant.path === edit.path)) {
        throw new EditRefusedError(`user ${edit.name} has no grant ${edit.path}`);
      }
      return checked(manifest, replace({ ...user, grants: user.grants.filter((g) => g.path !== edit.path) }));
    }
  }
}

/** The edited manifest must obey every rule (no grant inside another, limits): otherwise the change
 * does not fit this manifest and is refused, naming what it would break. */
function checked(manifest: UsersManifest, users: UsersManifest["users"]): UsersManifest {
  const next: UsersManifest = { ...manifest, revision: manifest.revision + 1, users };
  const problems = manifestProblems(next);
  if (problems.length > 0)
    throw new EditRefusedError(`the change would break the manifest: ${problems.join("; ")}`);
  return next;
}
