import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const docs = ["README.md", ...readdirSync(join(root, "docs")).map((name) => `docs/${name}`)];
const projectDirs = /^(packages|documents|scripts|functions|stacks|test|bench|docs)\//;

describe("docs", () => {
  it.each(docs)("%s names only paths that exist", (doc) => {
    const text = readFileSync(join(root, doc), "utf8");
    const named = [...text.matchAll(/`([A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]*)+)`/g)]
      .map((match) => match[1] ?? "")
      .filter((path) => projectDirs.test(path));
    expect(named.filter((path) => !existsSync(join(root, path)))).toEqual([]);
  });
});
