import {
  type AuditDiffOptions,
  type AuditDiffResult,
  type AuditFinding,
  AuditInputError,
  auditDiff,
  compareKeys,
  type InstanceEntry,
  type InstanceEntryType,
  instanceKey,
  type S3ListedObject,
  whyUnrepresentable,
} from "@ftpfleet/core";
import { describe, expect, it } from "vitest";

const LISTED_AT = Date.UTC(2025, 0, 15, 12, 0, 0);
const SETTLE_MS = 60_000;
/** Long before the audit. */
const OLD = LISTED_AT - 86_400_000;
/** Inside the settle window. */
const RECENT = LISTED_AT - 10_000;

const obj = (
  key: string,
  size = 10,
  lastModified = OLD,
  extra: Partial<S3ListedObject> = {},
): S3ListedObject => ({
  key,
  size,
  lastModified,
  etag: `"etag-${key.length}-${size}"`,
  ...extra,
});
const ent = (path: string, type: InstanceEntryType = "file", size = 10, mtime = OLD): InstanceEntry => ({
  path,
  type,
  size,
  mtime,
});
const dir = (path: string, mtime = OLD) => ent(path, "dir", 0, mtime);

/** Byte order of the UTF-8 keys, computed independently of the engine (Buffer.compare). */
const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
const sortedS3 = (objects: S3ListedObject[]) => [...objects].sort((a, b) => byBytes(a.key, b.key));
const sortedInstance = (entries: InstanceEntry[]) =>
  [...entries].sort((a, b) =>
    byBytes(a.type === "dir" ? `${a.path}/` : a.path, b.type === "dir" ? `${b.path}/` : b.path),
  );

async function audit(
  s3: S3ListedObject[],
  instance: InstanceEntry[],
  options: Partial<AuditDiffOptions> = {},
): Promise<AuditDiffResult> {
  return auditDiff(sortedS3(s3), sortedInstance(instance), {
    listedAt: LISTED_AT,
    settleMs: SETTLE_MS,
    ...options,
  });
}

/** The findings as "kind key" lines (plus the reason when there is one), sorted: what an operator reads. */
const outcome = (result: AuditDiffResult) =>
  result.findings.map((f) => `${f.kind} ${f.key}${f.reason ? ` (${f.reason})` : ""}`).sort();

/** The instance view s3fs gives of these keys: every implied directory and each file. */
function viewOf(keys: string[]): InstanceEntry[] {
  const entries = new Map<string, InstanceEntry>();
  for (const key of keys) {
    const parts = key.split("/");
    for (let i = 1; i < parts.length; i++) {
      const path = parts.slice(0, i).join("/");
      if (path) entries.set(`${path}/`, dir(path));
    }
    if (!key.endsWith("/")) entries.set(key, ent(key));
  }
  return [...entries.values()];
}

describe("audit diff: how s3fs presents keys", () => {
  it("a bucket and a faithful view agree: objects, implied directories, folder markers", async () => {
    const keys = ["a/b/c", "a/b/d", "a/e", "empty/", "top.txt", "x/y/"];
    const result = await audit(
      keys.map((k) => obj(k, k.endsWith("/") ? 0 : 10)),
      viewOf(keys),
    );
    expect(outcome(result)).toEqual([]);
    expect(result.summary.totalFindings).toBe(0);
    // 4 objects + directories a, a/b, empty, x, x/y.
    expect(result.summary.matched).toBe(9);
  });

  it("implied directories are never missing themselves: what is under them is", async () => {
    const result = await audit([obj("a/b/c"), obj("a/b/d")], []);
    expect(outcome(result)).toEqual(["missing a/b/c", "missing a/b/d"]);
    const finding = result.findings[0] as AuditFinding;
    expect(finding.s3).toEqual({ shows: "file", object: obj("a/b/c") });
    expect(finding.instance).toEqual({ shows: "nothing", entry: null });
    expect(finding.path).toBe("a/b/c");
    expect(finding.detail).toContain("a/b/c");
  });

  it("a zero-byte folder marker is a directory, required like an object", async () => {
    expect(outcome(await audit([obj("docs/", 0)], [dir("docs")]))).toEqual([]);
    const result = await audit([obj("docs/", 0), obj("docs/readme")], []);
    expect(outcome(result)).toEqual(["missing docs/", "missing docs/readme"]);
    const marker = result.findings.find((f) => f.key === "docs/") as AuditFinding;
    expect(marker.path).toBe("docs");
    expect(marker.s3.shows).toBe("dir");
  });

  it("a directory on the instance with nothing in S3 is unexpected; one with keys under it is implied", async () => {
    const result = await audit(
      [obj("kept/file")],
      [dir("kept"), ent("kept/file"), dir("phantom"), dir("phantom/deeper")],
    );
    expect(outcome(result)).toEqual(["unexpected phantom/", "unexpected phantom/deeper/"]);
    expect(result.findings[0]?.instance.shows).toBe("dir");
  });

  it("a key that looks like a folder but has content is a directory whose bytes are unreachable", async () => {
    const withView = await audit([obj("odd/", 42), obj("odd/inner")], [dir("odd"), ent("odd/inner")]);
    expect(outcome(withView)).toEqual(["unrepresentable odd/ (folder-with-content)"]);
    expect(withView.findings[0]?.s3.shows).toBe("dir");
    expect(withView.findings[0]?.path).toBe("odd");
    expect(withView.findings[0]?.detail).toContain("42 bytes");
    const withoutView = await audit([obj("odd/", 42)], []);
    expect(outcome(withoutView)).toEqual(["missing odd/", "unrepresentable odd/ (folder-with-content)"]);
  });

  it("zero-byte objects are empty files, not folders", async () => {
    expect(outcome(await audit([obj("empty", 0)], [ent("empty", "file", 0)]))).toEqual([]);
    expect(outcome(await audit([obj("empty", 0)], [ent("empty", "file", 3)]))).toEqual([
      "stale empty (size)",
    ]);
    expect(outcome(await audit([obj("empty", 0)], [dir("empty")]))).toEqual(["type-mismatch empty"]);
    expect(outcome(await audit([obj("empty", 0)], []))).toEqual(["missing empty"]);
  });

  it("a file in S3 shown as a directory is one type mismatch, even with names sorting in between", async () => {
    // "a b" and "a.txt" sort between "a" and "a/": the engine pairs "a" with "a/" across them.
    const s3 = [obj("a"), obj("a b"), obj("a.txt")];
    const result = await audit(s3, [dir("a"), ent("a b"), ent("a.txt")]);
    expect(outcome(result)).toEqual(["type-mismatch a"]);
    const finding = result.findings[0] as AuditFinding;
    expect(finding.s3).toEqual({ shows: "file", object: obj("a") });
    expect(finding.instance).toEqual({ shows: "dir", entry: dir("a") });
  });

  it("a directory in S3 shown as a file is one type mismatch; what is under it is missing", async () => {
    const implied = await audit([obj("b/c"), obj("b-2")], [ent("b"), ent("b-2")]);
    expect(outcome(implied)).toEqual(["missing b/c", "type-mismatch b/"]);
    const mismatch = implied.findings.find((f) => f.kind === "type-mismatch") as AuditFinding;
    expect(mismatch.s3).toEqual({ shows: "dir", object: null });
    expect(mismatch.instance.entry).toEqual(ent("b"));
    const marker = await audit([obj("m/", 0)], [ent("m", "link", 7)]);
    expect(outcome(marker)).toEqual(["type-mismatch m/"]);
    expect(marker.findings[0]?.s3).toEqual({ shows: "dir", object: obj("m/", 0) });
  });

  it("an object and keys under the same name: s3fs shows the file, the keys under it are unrepresentable", async () => {
    const s3 = [obj("a"), obj("a/", 0), obj("a/b"), obj("a/b/c"), obj("a.txt")];
    const fileView = await audit(s3, [ent("a"), ent("a.txt")]);
    expect(outcome(fileView)).toEqual([
      "unrepresentable a/ (shadowed-by-object)",
      "unrepresentable a/b (shadowed-by-object)",
      "unrepresentable a/b/c (shadowed-by-object)",
    ]);
    expect(fileView.findings[0]?.detail).toContain('"a"');
    // An instance that shows a directory there instead: the mismatch is on "a" alone.
    const dirView = await audit(s3, [dir("a"), ent("a/b"), ent("a.txt")]);
    expect(outcome(dirView)).toEqual([
      "type-mismatch a",
      "unrepresentable a/ (shadowed-by-object)",
      "unrepresentable a/b (shadowed-by-object)",
      "unrepresentable a/b/c (shadowed-by-object)",
    ]);
  });

  it("keys no path can name are unrepresentable, never missing, never a crash", async () => {
    const long = "x".repeat(256);
    const wideLong = "é".repeat(128); // 128 characters, 256 bytes
    const s3 = [
      obj(`deep/${long}/file`),
      obj(`deep/${wideLong}`),
      obj("a//b"),
      obj("/leading"),
      obj("dots/./x"),
      obj("dots/../x"),
      obj("."),
      obj("nul\0name"),
      obj("trail//", 0),
    ];
    // The instance shows the directories s3fs lists for the valid leading segments.
    const result = await audit(s3, [dir("a"), dir("deep"), dir("dots"), dir("trail")]);
    expect(outcome(result)).toEqual([
      "unrepresentable . (dot-segment)",
      "unrepresentable /leading (empty-segment)",
      "unrepresentable a//b (empty-segment)",
      `unrepresentable deep/${long}/file (segment-too-long)`,
      `unrepresentable deep/${wideLong} (segment-too-long)`,
      "unrepresentable dots/../x (dot-segment)",
      "unrepresentable dots/./x (dot-segment)",
      "unrepresentable nul\0name (nul-character)",
      "unrepresentable trail// (empty-segment)",
    ]);
    const tooLong = result.findings.find((f) => f.key === `deep/${wideLong}`) as AuditFinding;
    expect(tooLong.path).toBeNull();
    expect(tooLong.detail).toContain("256 bytes");
  });

  it("a segment of exactly 255 bytes is representable, however many characters it is", async () => {
    const euro = "€".repeat(85); // 85 characters, 255 bytes
    const ascii = "y".repeat(255);
    expect(whyUnrepresentable(euro)).toBeUndefined();
    expect(whyUnrepresentable(`${euro}x`)).toBe("segment-too-long");
    expect(whyUnrepresentable("🎉".repeat(63))).toBeUndefined(); // 252 bytes
    expect(whyUnrepresentable("🎉".repeat(64))).toBe("segment-too-long"); // 256 bytes
    expect(
      outcome(await audit([obj(euro), obj(`d/${ascii}`)], [ent(euro), dir("d"), ent(`d/${ascii}`)])),
    ).toEqual([]);
  });

  it("NFC and NFD spellings are two keys and two files: no normalisation", async () => {
    const nfc = "caf\u00e9.txt";
    const nfd = "cafe\u0301.txt";
    expect(nfc.normalize("NFD")).toBe(nfd);
    expect(outcome(await audit([obj(nfc), obj(nfd)], [ent(nfc), ent(nfd)]))).toEqual([]);
    expect(outcome(await audit([obj(nfc)], [ent(nfd)]))).toEqual([`missing ${nfc}`, `unexpected ${nfd}`]);
  });

  it("percent signs, plus signs and spaces are literal", async () => {
    const keys = ["a%2Fb", "a+b", "a b", "100% done.txt", "q?x=1&y=2"];
    expect(
      outcome(
        await audit(
          keys.map((k) => obj(k)),
          keys.map((k) => ent(k)),
        ),
      ),
    ).toEqual([]);
    // An instance that decoded the names would show other files.
    const decoded = await audit([obj("a%2Fb"), obj("a+b")], [dir("a"), ent("a/b"), ent("a b")]);
    expect(outcome(decoded)).toEqual([
      "missing a%2Fb",
      "missing a+b",
      "unexpected a b",
      "unexpected a/",
      "unexpected a/b",
    ]);
  });

  it("the reserved prefix is skipped on both sides and counted", async () => {
    const result = await audit(
      [
        obj(".ftpfleet"),
        obj(".ftpfleet/users.json"),
        obj(".ftpfleet/applied/i-1.json"),
        obj(".ftpfleet-old/a"),
      ],
      [dir(".ftpfleet"), ent(".ftpfleet/only-here"), dir(".ftpfleet-old")],
    );
    // ".ftpfleet-old/" is not reserved: audited like any folder.
    expect(outcome(result)).toEqual(["missing .ftpfleet-old/a"]);
    expect(result.summary.reserved).toEqual({ s3: 3, instance: 2 });
    expect(result.summary.s3Objects).toBe(4);
    expect(result.summary.instanceEntries).toBe(3);
    const everything = await audit([obj(".ftpfleet/users.json")], [], { reservedPrefix: null });
    expect(outcome(everything)).toEqual(["missing .ftpfleet/users.json"]);
  });

  it("links and special files match objects; a link's size is compared, a special file's is not", async () => {
    const result = await audit(
      [obj("ln", 11), obj("fifo", 0), obj("ln2", 5)],
      [ent("ln", "link", 11), ent("fifo", "other", 0), ent("ln2", "link", 9)],
    );
    expect(outcome(result)).toEqual(["stale ln2 (size)"]);
    expect(result.summary.links).toBe(2);
    expect(outcome(await audit([obj("fifo", 3)], [ent("fifo", "other", 0)]))).toEqual([]);
  });

  it("a sliced probe (parents left out) still matches", async () => {
    expect(outcome(await audit([obj("p/q/r"), obj("p/q/s")], [ent("p/q/r"), ent("p/q/s")]))).toEqual([]);
  });
});

describe("audit diff: sizes, times and the settle window", () => {
  it("a file modified long before the audit with the wrong size is stale", async () => {
    const result = await audit([obj("f", 200)], [ent("f", "file", 100)]);
    expect(outcome(result)).toEqual(["stale f (size)"]);
    const finding = result.findings[0] as AuditFinding;
    expect(finding.s3.object?.size).toBe(200);
    expect(finding.instance.entry?.size).toBe(100);
    expect(finding.detail).toContain("200 bytes");
  });

  it("an object replaced during the audit is not judged, whichever side saw the new version", async () => {
    // The listing saw the new version; the instance still shows the old one.
    const newInS3 = await audit([obj("f", 200, RECENT)], [ent("f", "file", 100)]);
    expect(outcome(newInS3)).toEqual([]);
    expect(newInS3.summary.inFlight).toBe(1);
    // The listing saw the old version; the probe already the new one (its mtime is recent).
    expect(outcome(await audit([obj("f", 100)], [ent("f", "file", 200, RECENT)]))).toEqual([]);
    // Replaced by a file of another type: no type mismatch either.
    expect(outcome(await audit([obj("g", 5, RECENT)], [dir("g")]))).toEqual([]);
    // A file replaced by a folder: the old file still shown, the new key under it not yet.
    expect(outcome(await audit([obj("h/x", 5, RECENT)], [ent("h")]))).toEqual([]);
  });

  it("created during the audit: listed but not yet shown, or shown but not listed, is not a finding", async () => {
    expect(outcome(await audit([obj("new", 5, RECENT)], []))).toEqual([]);
    expect(outcome(await audit([obj("new/", 0, RECENT)], []))).toEqual([]);
    // A new folder the instance shows before the listing has it: its old-looking directory entry is
    // spared because of the recent file under it.
    const folder = await audit(
      [],
      [dir("fresh", OLD), dir("fresh/sub", 0), ent("fresh/sub/up", "file", 3, RECENT)],
    );
    expect(outcome(folder)).toEqual([]);
    expect(folder.summary.inFlight).toBe(3);
  });

  it("deleted during the audit: on the instance, not in the listing, with a recent mtime: not unexpected", async () => {
    expect(outcome(await audit([], [ent("gone", "file", 5, RECENT)]))).toEqual([]);
    // The same entry, written long ago: a real leftover.
    expect(outcome(await audit([], [ent("gone", "file", 5, OLD)]))).toEqual(["unexpected gone"]);
  });

  it("the window is [listedAt − settleMs, ∞): its first millisecond is in flight, the one before is judged", async () => {
    const edge = LISTED_AT - SETTLE_MS;
    expect(outcome(await audit([obj("f", 2, edge)], [ent("f", "file", 1)]))).toEqual([]);
    expect(outcome(await audit([obj("f", 2, edge - 1)], [ent("f", "file", 1)]))).toEqual(["stale f (size)"]);
    expect(outcome(await audit([obj("f", 2, LISTED_AT + 5_000)], [ent("f", "file", 1)]))).toEqual([]);
    expect(
      outcome(await audit([obj("f", 2, LISTED_AT - 1)], [ent("f", "file", 1)], { settleMs: 0 })),
    ).toEqual(["stale f (size)"]);
  });

  it("mtimes are compared only when the S3 side carries s3fs's mtime, with a tolerance", async () => {
    const mtime = OLD - 3_600_000;
    // From ListObjectsV2 alone (no mtime): LastModified is never compared with the instance's mtime.
    expect(outcome(await audit([obj("f", 5, OLD)], [ent("f", "file", 5, mtime)]))).toEqual([]);
    // From HeadObject: x-amz-meta-mtime, which s3fs shows.
    expect(outcome(await audit([obj("f", 5, OLD, { mtime })], [ent("f", "file", 5, mtime + 999)]))).toEqual(
      [],
    );
    const stale = await audit([obj("f", 5, OLD, { mtime })], [ent("f", "file", 5, mtime - 5_000)]);
    expect(outcome(stale)).toEqual(["stale f (mtime)"]);
    expect(
      outcome(
        await audit([obj("f", 5, OLD, { mtime })], [ent("f", "file", 5, mtime - 5_000)], {
          mtimeToleranceMs: 10_000,
        }),
      ),
    ).toEqual([]);
  });

  it("candidates confirmed by a second look: a deletion between the snapshots disappears", async () => {
    // An old object deleted after the listing, before the probe: no time tells, so it is a candidate.
    const first = await audit([obj("old", 5)], []);
    expect(outcome(first)).toEqual(["missing old"]);
    // The second look at just the candidates, later: HeadObject answers 404, the stat finds nothing.
    const second = await auditDiff([], [], { listedAt: LISTED_AT + 30_000, settleMs: SETTLE_MS });
    expect(outcome(second)).toEqual([]);
    // A real fault survives the second look.
    const still = await auditDiff([obj("old", 5)], [], { listedAt: LISTED_AT + 30_000, settleMs: SETTLE_MS });
    expect(outcome(still)).toEqual(["missing old"]);
  });
});

describe("audit diff: input order and shape", () => {
  const options = { listedAt: LISTED_AT, settleMs: SETTLE_MS };

  it("compareKeys is UTF-8 byte order, not UTF-16 order", () => {
    const keys = ["ｆ", "🎉", "a", "a/", "a b", "é", "e\u0301", "\uFFFD", "\uE000", "z", "", "日本"];
    expect([...keys].sort(compareKeys)).toEqual([...keys].sort(byBytes));
    // JavaScript's own order puts the emoji (a surrogate pair) before U+FF46.
    expect(["ｆ", "🎉"].sort()).toEqual(["🎉", "ｆ"]);
    expect(compareKeys("ｆ", "🎉")).toBeLessThan(0);
    expect(instanceKey({ path: "a/b", type: "dir" })).toBe("a/b/");
    expect(instanceKey({ path: "a/b", type: "file" })).toBe("a/b");
  });

  it("accepts keys in byte order where JavaScript's order differs", async () => {
    const keys = ["x/ｆ", "x/🎉"];
    const result = await auditDiff(
      keys.map((k) => obj(k)),
      [dir("x"), ...keys.map((k) => ent(k))],
      options,
    );
    expect(outcome(result)).toEqual([]);
    await expect(
      auditDiff(
        [...keys].reverse().map((k) => obj(k)),
        [],
        options,
      ),
    ).rejects.toThrow(AuditInputError);
  });

  it("an S3 listing out of order is an error naming the entry", async () => {
    const error = await auditDiff([obj("a"), obj("c"), obj("b")], [], options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuditInputError);
    expect(error).toMatchObject({ side: "s3", entry: 3, key: "b" });
    expect((error as Error).message).toMatch(/S3 listing entry 3 \("b"\): out of order.*"c"/);
    await expect(auditDiff([obj("a"), obj("a")], [], options)).rejects.toThrow(/entry 2 .*repeats/);
  });

  it("an instance listing in find's order (a directory before names that sort ahead of it) is an error", async () => {
    // "a.txt" < "a/" in byte order: a directory's key ends in "/".
    const error = await auditDiff([], [dir("a"), ent("a/x"), ent("a.txt")], options).catch((e: unknown) => e);
    expect(error).toMatchObject({ side: "instance", entry: 3, key: "a.txt" });
    expect((error as Error).message).toContain('"a/x"');
    expect(
      outcome(await auditDiff([], [ent("a.txt", "file", 1, RECENT), dir("a", RECENT)], options)),
    ).toEqual([]);
  });

  it("malformed entries are errors, not findings", async () => {
    for (const path of ["./x", "x/", "", "a//b", "a/../b", "/abs"])
      await expect(auditDiff([], [ent(path)], options)).rejects.toThrow(AuditInputError);
    await expect(auditDiff([], [ent("x", "socket" as InstanceEntryType)], options)).rejects.toThrow(/type/);
    await expect(auditDiff([], [ent("x", "file", Number.NaN)], options)).rejects.toThrow(/size/);
    await expect(auditDiff([obj("")], [], options)).rejects.toThrow(/non-empty/);
    await expect(auditDiff([obj("k", -1)], [], options)).rejects.toThrow(/size/);
    await expect(auditDiff([], [], { listedAt: LISTED_AT, settleMs: -1 })).rejects.toThrow(RangeError);
  });

  it("reads async sources item by item or page by page, and releases them on error", async () => {
    const s3 = sortedS3(["p/1", "p/2", "p/3", "q"].map((k) => obj(k, 1)));
    const instance = sortedInstance([
      dir("p"),
      ent("p/1", "file", 1),
      ent("p/3", "file", 9),
      ent("r", "file", 1),
    ]);
    async function* pages<T>(items: T[], size: number) {
      for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
    }
    async function* oneByOne<T>(items: T[]) {
      yield* items;
    }
    const fromArrays = await auditDiff(s3, instance, options);
    const fromAsync = await auditDiff(pages(s3, 3), oneByOne(instance), options);
    expect(outcome(fromAsync)).toEqual(outcome(fromArrays));
    expect(outcome(fromArrays)).toEqual(["missing p/2", "missing q", "stale p/3 (size)", "unexpected r"]);

    let released = false;
    async function* failing() {
      try {
        yield [obj("b")];
        yield [obj("a")];
        yield [obj("c")];
      } finally {
        released = true;
      }
    }
    await expect(auditDiff(failing(), [], options)).rejects.toThrow(AuditInputError);
    expect(released).toBe(true);
  });
});

describe("audit diff: the cap", () => {
  it("keeps the first findings, counts them all, streams them all", async () => {
    const keys = Array.from({ length: 2_500 }, (_, i) => `k/${String(i).padStart(5, "0")}`);
    let streamed = 0;
    const result = await auditDiff(
      keys.map((k) => obj(k)),
      [],
      { listedAt: LISTED_AT, settleMs: SETTLE_MS, maxFindings: 1_000, onFinding: () => streamed++ },
    );
    expect(result.findings).toHaveLength(1_000);
    expect(result.findings[0]?.key).toBe("k/00000");
    expect(result.summary.findings.missing).toBe(2_500);
    expect(result.summary).toMatchObject({ totalFindings: 2_500, keptFindings: 1_000 });
    expect(streamed).toBe(2_500);
    const uncapped = await auditDiff(
      keys.slice(0, 5).map((k) => obj(k)),
      [],
      {
        listedAt: LISTED_AT,
        settleMs: 0,
        maxFindings: 0,
      },
    );
    expect(uncapped.findings).toEqual([]);
    expect(uncapped.summary.findings.missing).toBe(5);
  });
});

describe("audit diff: against a brute-force oracle on random small trees", () => {
  /** Seeded, so a failure names a reproducible case. */
  function prng(seed: number) {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const NAMES = ["a", "b", "a b", "a.b", "a+b", "ab", "a%2F", "\u00e9", "e\u0301", "🎉", "ｆ", "日本"];

  /** Findings by definition, from whole-set lookups: no merge, no order. */
  function oracle(s3: S3ListedObject[], instance: InstanceEntry[]): string[] {
    const files = new Set(s3.filter((o) => !o.key.endsWith("/")).map((o) => o.key));
    const sizes = new Map(s3.map((o) => [o.key, o.size]));
    const markers = new Set(s3.filter((o) => o.key.endsWith("/")).map((o) => o.key));
    const dirs = new Set(markers);
    for (const o of s3)
      for (let i = o.key.indexOf("/"); i >= 0; i = o.key.indexOf("/", i + 1)) dirs.add(o.key.slice(0, i + 1));
    const shown = new Map(instance.map((e) => [instanceKey(e), e]));
    const out: string[] = [];
    for (const f of files) {
      const e = shown.get(f);
      if (e) {
        if (e.size !== sizes.get(f)) out.push(`stale ${f} (size)`);
      } else if (shown.has(`${f}/`)) out.push(`type-mismatch ${f}`);
      else out.push(`missing ${f}`);
    }
    for (const d of dirs) {
      if (shown.has(d)) continue;
      if (shown.has(d.slice(0, -1))) out.push(`type-mismatch ${d}`);
      else if (markers.has(d)) out.push(`missing ${d}`);
    }
    for (const [k, e] of shown) {
      if (e.type === "dir" ? dirs.has(k) || files.has(e.path) : files.has(k) || dirs.has(`${k}/`)) continue;
      out.push(`unexpected ${k}`);
    }
    return out.sort();
  }

  it("finds exactly what the definition says, in 300 random cases", async () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const pick = () => NAMES[Math.floor(random() * NAMES.length)] as string;
      const keys = new Set<string>();
      for (let n = 1 + Math.floor(random() * 12); n > 0; n--) {
        const depth = 1 + Math.floor(random() * 3);
        const key = Array.from({ length: depth }, pick).join("/");
        keys.add(random() < 0.15 ? `${key}/` : key);
      }
      // No name both an object and a folder: s3fs shadowing has its own tests.
      const prefixes = new Set<string>();
      for (const k of keys)
        for (let i = k.indexOf("/"); i >= 0; i = k.indexOf("/", i + 1)) prefixes.add(k.slice(0, i));
      const s3 = [...keys]
        .filter((k) => k.endsWith("/") || !prefixes.has(k))
        .map((k) => obj(k, k.endsWith("/") ? 0 : Math.floor(random() * 3)));
      const view = new Map(viewOf(s3.map((o) => o.key)).map((e) => [e.path, e]));
      for (const o of s3) if (!o.key.endsWith("/")) (view.get(o.key) as InstanceEntry).size = o.size;
      // What goes wrong on the instance.
      for (const [path, e] of [...view]) {
        const roll = random();
        if (!view.has(path)) continue;
        if (e.type === "file" && roll < 0.1) view.delete(path);
        else if (e.type === "file" && roll < 0.2) e.size += 1;
        else if (e.type === "file" && roll < 0.25) view.set(path, dir(path));
        else if (e.type === "dir" && roll < 0.08)
          for (const p of [...view.keys()]) if (p === path || p.startsWith(`${path}/`)) view.delete(p);
      }
      if (random() < 0.4) {
        const parent = random() < 0.5 ? "" : `${pick()}/`;
        const extra = `${parent}${pick()}${random() < 0.5 ? "/x" : ""}`;
        const clash = [...view.keys()].some(
          (p) => p === extra || extra.startsWith(`${p}/`) || p.startsWith(`${extra}/`),
        );
        const parts = extra.split("/");
        const parentsAreDirs = parts.slice(0, -1).every((_, i) => {
          const p = parts.slice(0, i + 1).join("/");
          return !view.has(p) || view.get(p)?.type === "dir";
        });
        if (!clash && parentsAreDirs) {
          for (let i = 1; i < parts.length; i++) {
            const p = parts.slice(0, i).join("/");
            if (!view.has(p)) view.set(p, dir(p));
          }
          view.set(extra, ent(extra, "file", 1));
        }
      }
      const instance = [...view.values()];
      const expected = oracle(s3, instance);
      expect({ seed, findings: outcome(await audit(s3, instance)) }).toEqual({ seed, findings: expected });
      for (const line of expected) seen.add(line.split(" ")[0] as string);
    }
    // The cases did exercise every kind the oracle knows.
    expect([...seen].sort()).toEqual(["missing", "stale", "type-mismatch", "unexpected"]);
  });
});
