import { InvalidInputError, manifestProblems, manifestRules, parseUsersManifest } from "@ftpfleet/core";
import { describe, expect, it } from "vitest";
import { manifestCases } from "./fixtures/manifest-cases";

const hash = `$6$saltsalt$${"a".repeat(86)}`;
const alice = { name: "alice", passwordHash: hash, grants: [{ path: "projects/alpha", access: "ro" }] };

describe("parseUsersManifest", () => {
  it("reads a manifest and defaults to the bind layout, revision 0 and enabled users", () => {
    expect(parseUsersManifest({ version: 1, users: [alice] })).toEqual({
      version: 1,
      layout: "bind",
      revision: 0,
      users: [{ ...alice, disabled: false }],
    });
  });

  it("keeps the revision and a disabled user", () => {
    const manifest = parseUsersManifest({ version: 1, revision: 7, users: [{ ...alice, disabled: true }] });
    expect(manifest.revision).toBe(7);
    expect(manifest.users[0]?.disabled).toBe(true);
  });

  it("words revision and disabled problems as apply-users.sh does", () => {
    expect(
      manifestProblems({ version: 1, revision: 2 ** 53, users: [{ ...alice, disabled: "no" }] }),
    ).toEqual([
      `revision: must be a whole number from 0 to ${manifestRules.maxRevision}`,
      "users[0].disabled: must be a boolean",
    ]);
    expect(manifestRules.maxRevision).toBe(Number.MAX_SAFE_INTEGER);
  });

  it("names every problem by its field, as apply-users.sh does", () => {
    const bad = {
      version: 1,
      users: [alice, { ...alice, name: "root", grants: [{ path: "public\n/alice-only", access: "ro" }] }],
    };
    expect(() => parseUsersManifest(bad)).toThrow(InvalidInputError);
    expect(manifestProblems(bad)).toEqual([
      "users[1].name: reserved for a system account",
      "users[1].grants[0].path: control or non-ASCII characters",
    ]);
  });
});

describe("the manifest rules: test/fixtures/manifest-cases.json against the TypeScript schema", () => {
  const valid = manifestCases.filter((c) => c.field === undefined);
  const invalid = manifestCases.filter((c) => c.field !== undefined);

  it.each(valid)("accepts $case", ({ manifest }) => {
    expect(manifestProblems(manifest)).toEqual([]);
    expect(() => parseUsersManifest(manifest)).not.toThrow();
  });

  // One problem per case: apply-users.sh reports only the first, and both must name the same field.
  it.each(invalid)("rejects $case, naming $field", ({ manifest, field }) => {
    const problems = manifestProblems(manifest);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.startsWith(`${field}: `), problems[0]).toBe(true);
    expect(() => parseUsersManifest(manifest)).toThrow(InvalidInputError);
  });

  it("holds a hostile value of every kind issue 8 names", () => {
    const names = invalid.map((c) => c.case).join("\n");
    for (const kind of [
      /\.\./,
      /absolute/,
      /empty segment/,
      /only \./,
      /NUL/,
      /trailing newline/,
      /shell metacharacters/,
      /system account name root/,
      /33 characters/,
      /513-character/,
      /non-ASCII/,
      /starting with -/,
    ]) {
      expect(names).toMatch(kind);
    }
  });
});

describe("manifest-rules.json", () => {
  it("holds patterns JavaScript and Oniguruma read alike: ASCII bracket classes, literals, groups, counted repeats", () => {
    for (const { pattern } of [
      manifestRules.userName,
      manifestRules.passwordHash,
      manifestRules.grantSegment,
    ]) {
      const rest = pattern
        .replace(/\[[A-Za-z0-9._ /-]+\]/g, "")
        .replace(/\{[0-9]+(,[0-9]+)?\}/g, "")
        .replace(/\\\$/g, "");
      expect(rest, pattern).toMatch(/^[A-Za-z0-9_=()?-]*$/);
    }
  });

  it("reserves the fleet's folder and the names FTP and the fleet's account use", () => {
    expect(manifestRules.reservedFolders).toContain(".ftpfleet");
    expect(manifestRules.reservedUserNames).toEqual(
      expect.arrayContaining(["root", "ftp", "anonymous", "ftpfleet", "nobody", "www-data", "daemon"]),
    );
  });

  it("refuses the health agent's FTP account name (configure-health.sh), naming the field", () => {
    expect(manifestProblems({ version: 1, users: [alice, { ...alice, name: "ftpfleet-health" }] })).toEqual([
      "users[1].name: reserved for a system account",
    ]);
  });
});
