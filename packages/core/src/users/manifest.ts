import { z } from "zod";
import { parseOrThrow } from "../errors";

/** Where the fleet's own files live in the bucket; no user may ever be granted it. */
export const RESERVED_PREFIX = ".ftpfleet";

const segment = /^[A-Za-z0-9_ -][A-Za-z0-9._ -]*$/;

export const grantPathSchema = z
  .string()
  .min(1)
  .max(512)
  .refine(
    (path) =>
      path.split("/").every((part) => segment.test(part) && part !== RESERVED_PREFIX) &&
      !path.startsWith("/"),
    {
      message: `a relative folder of the bucket: segments of letters, digits, '._ -', not starting with '.', never ${RESERVED_PREFIX}`,
    },
  );

export const userNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]{0,31}$/,
    "lowercase letters, digits, '_' and '-', starting with a letter, at most 32",
  );

/** SHA-512 crypt (`$6$[rounds=N$]salt$hash`): checked by pure-ftpd with crypt(3) in milliseconds,
 * where its argon2id default costs seconds per login. Never a plaintext password. */
export const passwordHashSchema = z
  .string()
  .regex(
    /^\$6\$(rounds=[0-9]{4,9}\$)?[A-Za-z0-9./]{1,16}\$[A-Za-z0-9./]{86}$/,
    "a SHA-512 crypt hash ($6$…), as made by `mkpasswd -m sha-512`",
  );

export const usersManifestSchema = z
  .strictObject({
    version: z.literal(1),
    /** bind (default): real folders bind-mounted into a real chroot. symlink: the seed's layout,
     * opt-in only — a symlink object planted in the bucket lets a user read host files. */
    layout: z.enum(["bind", "symlink"]).default("bind"),
    users: z.array(
      z.strictObject({
        name: userNameSchema,
        passwordHash: passwordHashSchema,
        grants: z
          .array(z.strictObject({ path: grantPathSchema, access: z.enum(["ro", "rw"]) }))
          .refine(
            (grants) => new Set(grants.map((g) => g.path)).size === grants.length,
            "each path at most once",
          ),
      }),
    ),
  })
  .refine((m) => new Set(m.users.map((u) => u.name)).size === m.users.length, {
    message: "user names must be unique",
    path: ["users"],
  });

export type UsersManifest = z.output<typeof usersManifestSchema>;

export function parseUsersManifest(input: unknown): UsersManifest {
  return parseOrThrow(usersManifestSchema, input, "invalid users manifest");
}
