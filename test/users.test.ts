import { InvalidInputError, parseUsersManifest } from "@ftpfleet/core";
import { describe, expect, it } from "vitest";

const hash = `$6$saltsalt$${"a".repeat(86)}`;
const manifest = (users: unknown[], extra: object = {}) => ({ version: 1, users, ...extra });
const alice = { name: "alice", passwordHash: hash, grants: [{ path: "projects/alpha", access: "ro" }] };

describe("parseUsersManifest", () => {
  it("reads a manifest and defaults to the bind layout", () => {
    expect(parseUsersManifest(manifest([alice]))).toEqual({ version: 1, layout: "bind", users: [alice] });
  });

  it.each([
    ["a grant outside the bucket", { ...alice, grants: [{ path: "../etc", access: "ro" }] }],
    ["an absolute grant", { ...alice, grants: [{ path: "/etc", access: "ro" }] }],
    ["a grant of the fleet's own prefix", { ...alice, grants: [{ path: ".ftpfleet", access: "ro" }] }],
    ["a hidden folder", { ...alice, grants: [{ path: "a/.ssh", access: "rw" }] }],
    ["an unknown access mode", { ...alice, grants: [{ path: "a", access: "admin" }] }],
    [
      "the same folder twice",
      {
        ...alice,
        grants: [
          { path: "a", access: "ro" },
          { path: "a", access: "rw" },
        ],
      },
    ],
    ["a name with shell characters", { ...alice, name: "bob;id" }],
    ["an uppercase name", { ...alice, name: "Alice" }],
    ["a plaintext password", { ...alice, passwordHash: "hunter2" }],
    ["an argon2 hash", { ...alice, passwordHash: "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA" }],
    ["an unknown field", { ...alice, password: "hunter2" }],
  ])("rejects %s", (_what, user) => {
    expect(() => parseUsersManifest(manifest([user]))).toThrow(InvalidInputError);
  });

  it("rejects duplicate users and unknown layouts", () => {
    expect(() => parseUsersManifest(manifest([alice, alice]))).toThrow(/unique/);
    expect(() => parseUsersManifest(manifest([alice], { layout: "hardlink" }))).toThrow(/layout/);
  });
});
