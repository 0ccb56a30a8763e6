// The cache-consistency audit's diff engine (issue 9): what S3 holds against what one instance shows
// through its s3fs mount. Pure: no AWS, no I/O. Both sides arrive as streams sorted the same way and
// are merge-joined, so a listing of millions of entries is judged in one pass, in memory bounded by
// the depth of the tree and one page of input.
//
// ## The order both inputs must follow
//
// Every entry has a key: an S3 object's key as listed; an instance entry's path relative to the mount
// root, followed by "/" when the entry is a directory (so the directory `a/b` has the key `a/b/`, like
// its folder marker object). Both inputs must come in strictly increasing order of these keys compared
// as UTF-8 bytes (equivalently: by Unicode code point). That is ListObjectsV2's own order, and
// `LC_ALL=C sort` order of the keys; it is not JavaScript's `<` on strings (UTF-16 code units), which
// puts 🎉 (U+1F389) before ｆ (U+FF46). A probe gets it without sorting the whole tree: walk
// depth-first, sort each directory's entries by their key (name, plus "/" for a directory) in byte
// order, and descend into a directory right where it sorts. An entry out of order, a repeated key,
// a malformed entry: `AuditInputError` naming the side, the entry's position (1-based) and its key.
// Nothing is judged from input that is not what the engine requires. (Names may hold newlines and
// tabs: a probe's records need a NUL terminator or an escape, and a sort by the key alone.)
// A slice of the bucket (the sweep) is audited the same way: both sides cut at the same keys. The
// instance side may leave out the parents of its first entries: a directory is known, on either
// side, from anything under it.
//
// ## How s3fs presents keys (the mapping)
//
// - `a/b/c` is the file `a/b/c`, and implies the directories `a` and `a/b`. An implied directory is
//   never reported missing: when it is absent, what is under it is, key by key.
// - `a/` (a folder marker) is the directory `a`, required like an object. A marker with content
//   (`a/`, size > 0) is still shown as a directory (s3fs treats every key ending in "/" as one), so
//   it is judged as a directory, and also reported `unrepresentable` (`folder-with-content`): no FTP
//   user can reach its bytes.
// - An object `a` and keys under `a/` at once: s3fs looks up `a` before `a/`, so it shows the file;
//   everything under `a/` (marker included) is unreachable: `unrepresentable` (`shadowed-by-object`),
//   never `missing`; an instance that shows a directory there is a `type-mismatch` on `a`.
// - Keys no file system path can name: a segment over 255 bytes of UTF-8 (NAME_MAX counts bytes, not
//   characters), an empty segment (leading "/", `a//b`), a `.` or `..` segment, a NUL character.
//   `unrepresentable`, with the reason; the segments before the bad one still imply directories
//   (s3fs lists `a/` for `a//b`).
// - Keys are opaque: no Unicode normalisation (`é` as NFC and as NFD are two keys and two files), no
//   percent-decoding (`a%2Fb` is one name), `+` is a plus, spaces are spaces.
// - The reserved prefix (`.ftpfleet/`, and a `.ftpfleet` entry itself) is skipped on both sides and
//   only counted: what lives there has its own checks.
// - On the instance, `link` and `other` entries are what s3fs makes of objects carrying mode metadata
//   (ListObjectsV2 cannot tell); they match an object of the same key. Links are counted (a hint for
//   the bucket's symlink check, which reads the metadata).
//
// ## In flight: the settle window
//
// The two snapshots are not taken at one instant (a probe of a large tree takes minutes), and files
// are uploaded, replaced and deleted meanwhile. A time is *recent* when it is at or after
// `listedAt − settleMs` (later included). Choose `listedAt` as the end of the later snapshot and
// `settleMs` to cover from the start of the earlier one, plus s3fs's own delay (1 s of stat cache with
// the safe options) and clock skew. No verdict is given on a key when either side's time is recent:
// - replaced during the audit: if the listing saw the new version, its LastModified is recent; if the
//   listing saw the old one and the probe the new one, the instance's mtime (s3fs shows the new
//   object's x-amz-meta-mtime, written by the uploader, or its LastModified) is recent. Either way, no
//   `stale`, no `type-mismatch`.
// - created during the audit: listed but not yet on the instance (recent LastModified), or on the
//   instance but not listed (recent mtime): no `missing`, no `unexpected`. A directory the instance
//   shows with nothing in S3 is judged after its contents: one recent entry below it spares it.
// - deleted during the audit: an entry the instance still shows that the listing no longer has is
//   spared when its mtime is recent. A deletion itself leaves no time in an unversioned bucket, so an
//   old object deleted between the two snapshots (and, rarer, a multipart upload, whose LastModified
//   is its initiation, or an uploader that set an old mtime) looks exactly like a real fault in two
//   snapshots. The findings are therefore candidates: confirm them with a second look taken later —
//   HeadObject and a stat of just those keys, fed to this same engine with a new `listedAt`. A
//   finding that both looks agree on, with nothing recent, is real.
//
// ## What is compared
//
// Type always (file vs directory) and, for files and links, size. Modification times only when the S3
// side carries `mtime`: what s3fs would show, x-amz-meta-mtime when the object has it, else
// LastModified — known from HeadObject, never from ListObjectsV2. Comparing the instance's mtime with
// LastModified would flag nearly every file uploaded over FTP: s3fs stores the file's own mtime in
// x-amz-meta-mtime, and clients set it (MFMT) to their local file's time, hours or years before the
// upload. With `mtime`, a difference above `mtimeToleranceMs` (default 1 s: s3fs keeps whole seconds)
// is `stale` too: the same-size overwrite a stale stat cache hides.
//
// ## Output
//
// Findings come roughly in key order (a directory's after what is under it), the first `maxFindings`
// kept, all counted, each passed to `onFinding` for a full report. `unrepresentable` ones are facts
// of the bucket, the same for every instance: a fleet report lists them once.
// Not recognised from a listing: old-style `name_$folder$` markers and zero-byte objects whose
// Content-Type says directory, which s3fs also shows as directories (nothing in this fleet writes
// them); they come out as `missing`/`unexpected` or `type-mismatch` candidates, which the workflow's
// second look can tell apart (HeadObject gives the Content-Type).

import { RESERVED_PREFIX } from "../users/manifest";

/** Not audited on instances: the fleet's own objects (`.ftpfleet/`), which have their own checks. */
export const AUDIT_SKIPPED_PREFIX = `${RESERVED_PREFIX}/`;
/** NAME_MAX on Linux: one path segment, in bytes. */
export const NAME_MAX_BYTES = 255;
export const DEFAULT_MAX_FINDINGS = 1_000;
export const DEFAULT_MTIME_TOLERANCE_MS = 1_000;

/** One object as ListObjectsV2 lists it. Times are epoch milliseconds. */
export interface S3ListedObject {
  key: string;
  size: number;
  lastModified: number;
  etag: string;
  /** What s3fs shows as the file's mtime (x-amz-meta-mtime, else LastModified), in ms; only from
   * HeadObject. When present, it is compared with the instance's mtime. */
  mtime?: number;
}

export type InstanceEntryType = "file" | "dir" | "link" | "other";

/** One entry the probe found under the mount: path relative to the mount root (no leading "./", no
 * trailing "/"), its type, size in bytes and mtime in epoch milliseconds. */
export interface InstanceEntry {
  path: string;
  type: InstanceEntryType;
  size: number;
  mtime: number;
}

export type AuditFindingKind = "missing" | "unexpected" | "stale" | "type-mismatch" | "unrepresentable";
export const AUDIT_FINDING_KINDS: readonly AuditFindingKind[] = [
  "missing",
  "unexpected",
  "stale",
  "type-mismatch",
  "unrepresentable",
];

export type UnrepresentableReason =
  | "segment-too-long"
  | "empty-segment"
  | "dot-segment"
  | "nul-character"
  | "shadowed-by-object"
  | "folder-with-content";

/** What S3 says about a key: how s3fs presents it, and the object listed (null for a directory no
 * object stands for: implied by keys under it). */
export interface S3Says {
  shows: "file" | "dir" | "nothing";
  object: S3ListedObject | null;
}

/** What the instance shows there (entry null: nothing, or a directory known only by entries under it). */
export interface InstanceSays {
  shows: InstanceEntryType | "nothing";
  entry: InstanceEntry | null;
}

export interface AuditFinding {
  kind: AuditFindingKind;
  /** The S3 key; a directory's is its folder key, ending in "/". */
  key: string;
  /** The path under the mount, or null when no path can name the key. */
  path: string | null;
  s3: S3Says;
  instance: InstanceSays;
  /** unrepresentable: why; stale: what differs. */
  reason?: UnrepresentableReason | "size" | "mtime";
  /** One line for a report. */
  detail: string;
}

export interface AuditSummary {
  /** Entries read, reserved ones included. */
  s3Objects: number;
  instanceEntries: number;
  /** Entries skipped under the reserved prefix. */
  reserved: { s3: number; instance: number };
  /** Keys where both sides were compared and agree (objects and directories). */
  matched: number;
  /** Verdicts not given because a side's time is inside the settle window. */
  inFlight: number;
  /** Instance entries that are symbolic links. */
  links: number;
  findings: Record<AuditFindingKind, number>;
  totalFindings: number;
  /** How many of them `findings` holds (the first ones, up to `maxFindings`). */
  keptFindings: number;
}

export interface AuditDiffResult {
  findings: AuditFinding[];
  summary: AuditSummary;
}

export interface AuditDiffOptions {
  /** The end of the later snapshot, epoch ms. */
  listedAt: number;
  /** Times at or after `listedAt − settleMs` are in flight. */
  settleMs: number;
  mtimeToleranceMs?: number;
  /** Findings kept in the result; all are counted. */
  maxFindings?: number;
  /** Skipped on both sides; null audits everything. Must end with "/". */
  reservedPrefix?: string | null;
  /** Called with every finding, kept or not (to stream a full report). */
  onFinding?: (finding: AuditFinding) => void;
}

/** An input the engine cannot judge from: out of order, repeated or malformed. */
export class AuditInputError extends Error {
  override readonly name = "AuditInputError";
  constructor(
    readonly side: "s3" | "instance",
    /** 1-based position in that side's input (the probe's line number when it writes one per line). */
    readonly entry: number,
    readonly key: string,
    problem: string,
  ) {
    super(
      `${side === "s3" ? "S3 listing" : "instance listing"} entry ${entry} (${JSON.stringify(key)}): ${problem}`,
    );
  }
}

/** Items, or (async only) pages of items: ListObjectsV2 pages can be passed as they arrive. */
export type AuditSource<T> = Iterable<T> | AsyncIterable<T | readonly T[]>;

// --- key order -----------------------------------------------------------------------------------

/** Strings holding a UTF-16 unit at or above U+D800: the only ones whose `<` order can differ from
 * code point order. */
const WIDE = /[\uD800-\uFFFF]/;

/** Compares two keys as their UTF-8 bytes compare (S3's order): negative, 0 or positive. */
export function compareKeys(a: string, b: string): number {
  return compare(a, WIDE.test(a), b, WIDE.test(b));
}

function compare(a: string, aWide: boolean, b: string, bWide: boolean): number {
  if (a === b) return 0;
  // UTF-16 order differs from code point order only where a surrogate meets a unit ≥ U+E000.
  if (!aWide || !bWide) return a < b ? -1 : 1;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

/** The key an instance entry sorts by: its path, plus "/" for a directory. */
export function instanceKey(entry: Pick<InstanceEntry, "path" | "type">): string {
  return entry.type === "dir" ? `${entry.path}/` : entry.path;
}

// --- key shape -----------------------------------------------------------------------------------

interface KeyShape {
  reason: UnrepresentableReason | undefined;
  /** Length of the longest prefix made of valid segments, each followed by "/": the directories
   * the key implies (its own, for a folder key). */
  dirEnd: number;
}

function utf8Length(s: string, from: number, to: number): number {
  let bytes = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    // A surrogate pair (two units) is 4 bytes.
    bytes += c < 0x80 ? 1 : c < 0x800 || (c >= 0xd800 && c < 0xe000) ? 2 : 3;
  }
  return bytes;
}

function segmentProblem(
  key: string,
  from: number,
  to: number,
  nulAt: number,
): UnrepresentableReason | undefined {
  const length = to - from;
  if (length === 0) return "empty-segment";
  if (nulAt >= from && nulAt < to) return "nul-character";
  if (key.charCodeAt(from) === 0x2e && (length === 1 || (length === 2 && key.charCodeAt(from + 1) === 0x2e)))
    return "dot-segment";
  // ≤ 85 UTF-16 units are ≤ 255 bytes; more than 255 units are more than 255 bytes.
  if (length > NAME_MAX_BYTES || (length > 85 && utf8Length(key, from, to) > NAME_MAX_BYTES))
    return "segment-too-long";
  return undefined;
}

function shapeOf(key: string): KeyShape {
  const nulAt = key.indexOf("\0");
  let from = 0;
  let dirEnd = 0;
  for (;;) {
    const slash = key.indexOf("/", from);
    // A folder key's trailing "/" ends it; its last segment was checked.
    if (slash < 0 && from === key.length && from > 0) return { reason: undefined, dirEnd };
    const reason = segmentProblem(key, from, slash < 0 ? key.length : slash, nulAt);
    if (reason !== undefined || slash < 0) return { reason, dirEnd };
    dirEnd = slash + 1;
    from = dirEnd;
  }
}

/** Why s3fs cannot show `key` as a path, judging the key alone (not `shadowed-by-object`, which
 * depends on the other keys, nor `folder-with-content`, which depends on the size). */
export function whyUnrepresentable(key: string): UnrepresentableReason | undefined {
  return shapeOf(key).reason;
}

// --- the merge -----------------------------------------------------------------------------------

class Reader<T> {
  private readonly sync: Iterator<T> | undefined;
  private readonly async: AsyncIterator<T | readonly T[]> | undefined;
  private page: readonly T[] = [];
  private at = 0;
  private ended = false;
  count = 0;

  constructor(source: AuditSource<T>) {
    if (Symbol.asyncIterator in source) this.async = source[Symbol.asyncIterator]();
    else this.sync = (source as Iterable<T>)[Symbol.iterator]();
  }

  /** True when `take` can answer at once. */
  get ready(): boolean {
    return this.sync !== undefined || this.ended || this.at < this.page.length;
  }

  async fill(): Promise<void> {
    while (this.async && !this.ended && this.at >= this.page.length) {
      const next = await this.async.next();
      if (next.done) this.ended = true;
      else {
        this.page = Array.isArray(next.value) ? (next.value as readonly T[]) : [next.value as T];
        this.at = 0;
      }
    }
  }

  /** The next item, undefined at the end; only when `ready`. */
  take(): T | undefined {
    let item: T | undefined;
    if (this.sync) {
      const next = this.sync.next();
      if (next.done) this.ended = true;
      else item = next.value;
    } else if (this.at < this.page.length) item = this.page[this.at++];
    if (item !== undefined) this.count++;
    return item;
  }

  /** Lets the source release what it holds (an open stream) when the engine stops early. */
  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.sync) this.sync.return?.();
    else await this.async?.return?.();
  }
}

interface S3Item {
  key: string;
  wide: boolean;
  object: S3ListedObject;
  folder: boolean;
  shape: KeyShape;
}

interface InstanceItem {
  key: string;
  wide: boolean;
  entry: InstanceEntry;
  dirEnd: number;
}

/** A non-directory name seen on either side, kept until the merge has passed `name/`: a directory of
 * that name on the other side is a type mismatch, and S3 keys under it are shadowed. */
interface Leaf {
  name: string;
  s3: S3ListedObject | undefined;
  instance: InstanceEntry | undefined;
  /** Both sides had it: judged when seen. */
  paired: boolean;
  /** The S3 object is itself shadowed (already reported). */
  hidden: boolean;
}

/** A directory the merge is inside: its key (`prefix`), what each side says of it, and the leaf of the
 * same name if one side had a non-directory there. */
interface Frame {
  prefix: string;
  leaf: Leaf | undefined;
  /** Under a name S3 shows as a file: nothing here is judged. */
  parentHidden: boolean;
  /** parentHidden, or this very name is an S3 object. */
  hidden: boolean;
  s3Marker: S3ListedObject | undefined;
  s3Implied: boolean;
  instanceDir: InstanceEntry | undefined;
  instanceImplied: boolean;
  /** Something under it is in flight. */
  busyBelow: boolean;
}

const SLASH = 0x2f;

/** The next item is on a page not read yet. */
const WAIT = Symbol("wait");

const NONE_S3: S3Says = { shows: "nothing", object: null };
const NONE_INSTANCE: InstanceSays = { shows: "nothing", entry: null };

class AuditDiff {
  private readonly since: number;
  private readonly tolerance: number;
  private readonly maxFindings: number;
  private readonly reserved: string | null;
  private readonly reservedName: string | null;
  private readonly onFinding: ((finding: AuditFinding) => void) | undefined;
  private readonly frames: Frame[] = [];
  private readonly leaves: Leaf[] = [];
  private activating: Leaf | undefined;
  readonly findings: AuditFinding[] = [];
  readonly summary: AuditSummary = {
    s3Objects: 0,
    instanceEntries: 0,
    reserved: { s3: 0, instance: 0 },
    matched: 0,
    inFlight: 0,
    links: 0,
    findings: { missing: 0, unexpected: 0, stale: 0, "type-mismatch": 0, unrepresentable: 0 },
    totalFindings: 0,
    keptFindings: 0,
  };

  constructor(options: AuditDiffOptions) {
    const { listedAt, settleMs } = options;
    if (!Number.isFinite(listedAt)) throw new RangeError("listedAt must be a time in epoch milliseconds");
    if (!Number.isFinite(settleMs) || settleMs < 0) throw new RangeError("settleMs must be ≥ 0");
    this.since = listedAt - settleMs;
    this.tolerance = options.mtimeToleranceMs ?? DEFAULT_MTIME_TOLERANCE_MS;
    this.maxFindings = options.maxFindings ?? DEFAULT_MAX_FINDINGS;
    const reserved = options.reservedPrefix === undefined ? AUDIT_SKIPPED_PREFIX : options.reservedPrefix;
    if (reserved !== null && (!reserved.endsWith("/") || reserved.length < 2))
      throw new RangeError('reservedPrefix must be a folder key ending in "/"');
    this.reserved = reserved;
    this.reservedName = reserved === null ? null : reserved.slice(0, -1);
    this.onFinding = options.onFinding;
  }

  isReserved(key: string): boolean {
    return this.reserved !== null && (key.startsWith(this.reserved) || key === this.reservedName);
  }

  private recent(time: number | undefined): boolean {
    return time !== undefined && time >= this.since;
  }

  // --- one step of the merge: move to `key`, then judge what is there ---

  /** Moves the merge to `key`: settles the leaves and directories it has passed, opens the
   * directories it enters (up to `dirEnd`). */
  private moveTo(key: string, dirEnd: number): void {
    // Leaves nest: the top one's `name/` comes first. `key` is past every name pushed so far.
    const leaves = this.leaves;
    while (leaves.length > 0) {
      const leaf = leaves[leaves.length - 1] as Leaf;
      if (key.startsWith(leaf.name)) {
        const next = key.charCodeAt(leaf.name.length);
        if (next < SLASH) break; // `name ` or `name.txt`: before `name/`
        if (next === SLASH) {
          leaves.pop();
          this.activating = leaf;
          break;
        }
      }
      leaves.pop();
      this.settleLeaf(leaf);
    }
    const frames = this.frames;
    while (frames.length > 0 && !key.startsWith((frames[frames.length - 1] as Frame).prefix))
      this.close(frames.pop() as Frame);
    let from = frames.length > 0 ? (frames[frames.length - 1] as Frame).prefix.length : 0;
    while (from < dirEnd) {
      const slash = key.indexOf("/", from);
      const prefix = key.slice(0, slash + 1);
      const parent = frames[frames.length - 1];
      let leaf: Leaf | undefined;
      if (
        this.activating !== undefined &&
        this.activating.name.length === slash &&
        prefix.startsWith(this.activating.name)
      ) {
        leaf = this.activating;
        this.activating = undefined;
      }
      const parentHidden = parent?.hidden ?? false;
      frames.push({
        prefix,
        leaf,
        parentHidden,
        hidden: parentHidden || leaf?.s3 !== undefined,
        s3Marker: undefined,
        s3Implied: false,
        instanceDir: undefined,
        instanceImplied: false,
        busyBelow: false,
      });
      from = slash + 1;
    }
    if (this.activating) {
      // Cannot happen: a key under `name/` opens the frame `name/`. Settled rather than lost.
      this.settleLeaf(this.activating);
      this.activating = undefined;
    }
  }

  private top(): Frame | undefined {
    return this.frames[this.frames.length - 1];
  }

  private busy(frame: Frame | undefined): void {
    if (frame) frame.busyBelow = true;
  }

  private pushLeaf(leaf: Leaf): void {
    this.leaves.push(leaf);
  }

  private leafOf(key: string, s3?: S3ListedObject, instance?: InstanceEntry): Leaf {
    return {
      name: key,
      s3,
      instance,
      paired: s3 !== undefined && instance !== undefined,
      hidden: false,
    };
  }

  both(s: S3Item, i: InstanceItem): void {
    this.moveTo(s.key, s.shape.dirEnd);
    if (s.shape.reason !== undefined) {
      // Cannot be: a valid instance path equals no unrepresentable key. Judge each side alone.
      this.s3Only(s, false);
      this.instanceOnly(i, false);
      return;
    }
    if (s.folder) {
      (this.top() as Frame).instanceDir = i.entry;
      this.folderMarker(s);
      return;
    }
    const parent = this.top();
    const leaf = this.leafOf(s.key, s.object, i.entry);
    this.pushLeaf(leaf);
    if (parent) {
      parent.s3Implied = true;
      parent.instanceImplied = true;
    }
    if (i.entry.type === "link") this.summary.links++;
    if (parent?.hidden) {
      leaf.hidden = true;
      this.unrepresentable(s, "shadowed-by-object", this.shadowingName(parent));
      return;
    }
    if (this.recent(s.object.lastModified) || this.recent(i.entry.mtime)) {
      this.summary.inFlight++;
      this.busy(parent);
      return;
    }
    const { object } = s;
    const { entry } = i;
    const sizeDiffers = entry.type !== "other" && entry.size !== object.size;
    const mtimeDiffers = object.mtime !== undefined && Math.abs(entry.mtime - object.mtime) > this.tolerance;
    if (!sizeDiffers && !mtimeDiffers) {
      this.summary.matched++;
      return;
    }
    if (!this.wanted()) {
      this.count("stale");
      return;
    }
    const differences: string[] = [];
    if (sizeDiffers)
      differences.push(`S3 holds ${bytes(object.size)}, the instance shows ${bytes(entry.size)}`);
    if (mtimeDiffers)
      differences.push(
        `S3's mtime is ${time(object.mtime as number)}, the instance shows ${time(entry.mtime)} ` +
          `(tolerance ${this.tolerance} ms)`,
      );
    this.report({
      kind: "stale",
      key: s.key,
      path: entry.path,
      s3: { shows: "file", object },
      instance: { shows: entry.type, entry },
      reason: sizeDiffers ? "size" : "mtime",
      detail: `${differences.join("; ")}`,
    });
  }

  s3Only(s: S3Item, move = true): void {
    if (move) this.moveTo(s.key, s.shape.dirEnd);
    const { reason } = s.shape;
    if (reason !== undefined) {
      const near = this.top();
      if (near) near.s3Implied = true;
      this.unrepresentable(s, reason);
      return;
    }
    if (s.folder) {
      this.folderMarker(s);
      return;
    }
    const parent = this.top();
    if (parent) parent.s3Implied = true;
    const leaf = this.leafOf(s.key, s.object);
    this.pushLeaf(leaf);
    if (parent?.hidden) {
      leaf.hidden = true;
      this.unrepresentable(s, "shadowed-by-object", this.shadowingName(parent));
      return;
    }
    if (this.recent(s.object.lastModified)) this.busy(parent);
  }

  instanceOnly(i: InstanceItem, move = true): void {
    if (move) this.moveTo(i.key, i.dirEnd);
    if (i.entry.type === "dir") {
      (this.top() as Frame).instanceDir = i.entry;
      return;
    }
    if (i.entry.type === "link") this.summary.links++;
    const parent = this.top();
    if (parent) parent.instanceImplied = true;
    this.pushLeaf(this.leafOf(i.key, undefined, i.entry));
    if (this.recent(i.entry.mtime)) this.busy(parent);
  }

  /** The nearest name S3 shows as a file above `frame` (inclusive). */
  /** A folder marker object: the directory it names, unless an object of that name hides it. */
  private folderMarker(s: S3Item): void {
    const frame = this.top() as Frame;
    if (frame.hidden) {
      this.unrepresentable(s, "shadowed-by-object", this.shadowingName(frame));
      return;
    }
    frame.s3Marker = s.object;
    if (s.object.size > 0) this.unrepresentable(s, "folder-with-content");
  }

  private shadowingName(frame: Frame): string | undefined {
    for (let at = this.frames.length - 1; at >= 0; at--) {
      const f = this.frames[at] as Frame;
      if (!f.parentHidden && f.leaf?.s3) return f.leaf.name;
    }
    return frame.leaf?.name;
  }

  /** A non-directory whose `name/` the merge has passed: no directory of that name on either side. */
  private settleLeaf(leaf: Leaf): void {
    if (leaf.paired || leaf.hidden) return;
    if (leaf.s3) {
      if (this.recent(leaf.s3.lastModified)) this.summary.inFlight++;
      else this.missing(leaf.name, { shows: "file", object: leaf.s3 });
    } else if (leaf.instance) {
      if (this.recent(leaf.instance.mtime)) this.summary.inFlight++;
      else this.unexpected(leaf.name, leaf.instance);
    }
  }

  /** A directory the merge has left: judged now that everything under it has been seen. */
  private close(frame: Frame): void {
    const parent = this.top();
    const s3Dir = frame.s3Marker !== undefined || frame.s3Implied;
    const instanceDir = frame.instanceDir !== undefined || frame.instanceImplied;
    const leaf = frame.leaf;
    const busy =
      frame.busyBelow ||
      this.recent(frame.s3Marker?.lastModified) ||
      this.recent(frame.instanceDir?.mtime) ||
      this.recent(leaf?.s3?.lastModified) ||
      this.recent(leaf?.instance?.mtime);
    if (parent) {
      if (s3Dir) parent.s3Implied = true;
      if (instanceDir) parent.instanceImplied = true;
      if (busy) parent.busyBelow = true;
    }
    if (frame.parentHidden || leaf?.paired) return;
    const path = frame.prefix.slice(0, -1);
    const instanceSays: InstanceSays = { shows: "dir", entry: frame.instanceDir ?? null };
    if (leaf?.s3) {
      // S3 shows a file here; the instance has no file of that name.
      if (instanceDir) {
        if (busy) this.summary.inFlight++;
        else this.mismatch(path, path, { shows: "file", object: leaf.s3 }, instanceSays);
      } else if (this.recent(leaf.s3.lastModified)) this.summary.inFlight++;
      else this.missing(path, { shows: "file", object: leaf.s3 });
      return;
    }
    if (leaf?.instance) {
      // The instance shows a non-directory here; S3 has no object of that name.
      if (s3Dir) {
        if (busy) this.summary.inFlight++;
        else
          this.mismatch(
            frame.prefix,
            path,
            { shows: "dir", object: frame.s3Marker ?? null },
            { shows: leaf.instance.type, entry: leaf.instance },
          );
      } else if (this.recent(leaf.instance.mtime)) this.summary.inFlight++;
      else this.unexpected(path, leaf.instance);
      return;
    }
    if (s3Dir && instanceDir) this.summary.matched++;
    else if (frame.s3Marker) {
      if (this.recent(frame.s3Marker.lastModified)) this.summary.inFlight++;
      else this.missing(frame.prefix, { shows: "dir", object: frame.s3Marker }, path);
    } else if (frame.instanceDir) {
      if (busy) this.summary.inFlight++;
      else this.unexpected(frame.prefix, frame.instanceDir);
    }
  }

  finish(): void {
    while (this.leaves.length > 0) this.settleLeaf(this.leaves.pop() as Leaf);
    while (this.frames.length > 0) this.close(this.frames.pop() as Frame);
  }

  // --- findings ---

  private report(finding: AuditFinding): void {
    this.summary.findings[finding.kind]++;
    this.summary.totalFindings++;
    if (this.findings.length < this.maxFindings) {
      this.findings.push(finding);
      this.summary.keptFindings++;
    }
    this.onFinding?.(finding);
  }

  /** True when a finding built now would be used (kept, or streamed): building the detail costs. */
  private wanted(): boolean {
    return this.findings.length < this.maxFindings || this.onFinding !== undefined;
  }

  private count(kind: AuditFindingKind): void {
    this.summary.findings[kind]++;
    this.summary.totalFindings++;
  }

  private missing(key: string, s3: S3Says, path = key): void {
    if (!this.wanted()) {
      this.count("missing");
      return;
    }
    const object = s3.object as S3ListedObject;
    this.report({
      kind: "missing",
      key,
      path,
      s3,
      instance: NONE_INSTANCE,
      detail:
        s3.shows === "dir"
          ? `S3 holds the folder marker ${JSON.stringify(key)} (modified ${time(object.lastModified)}); the instance shows no directory ${JSON.stringify(path)}`
          : `S3 holds ${JSON.stringify(key)} (${bytes(object.size)}, modified ${time(object.lastModified)}); the instance shows nothing there`,
    });
  }

  private unexpected(key: string, entry: InstanceEntry): void {
    if (!this.wanted()) {
      this.count("unexpected");
      return;
    }
    const dir = entry.type === "dir";
    this.report({
      kind: "unexpected",
      key,
      path: entry.path,
      s3: NONE_S3,
      instance: { shows: entry.type, entry },
      detail:
        `the instance shows ${article(entry.type)} ${JSON.stringify(entry.path)} ` +
        `(${dir ? "" : `${bytes(entry.size)}, `}mtime ${time(entry.mtime)}); ` +
        `S3 holds no such key${dir ? " and nothing under it" : ""}`,
    });
  }

  private mismatch(key: string, path: string, s3: S3Says, instance: InstanceSays): void {
    if (!this.wanted()) {
      this.count("type-mismatch");
      return;
    }
    const s3Text =
      s3.shows === "file"
        ? `an object (${bytes((s3.object as S3ListedObject).size)})`
        : s3.object
          ? "a folder marker"
          : `keys under ${JSON.stringify(key)}`;
    this.report({
      kind: "type-mismatch",
      key,
      path,
      s3,
      instance,
      detail: `S3 holds ${s3Text}, which s3fs shows as a ${s3.shows === "file" ? "file" : "directory"}; the instance shows ${article(instance.shows as InstanceEntryType)}${instance.entry ? "" : " (entries under it)"}`,
    });
  }

  private unrepresentable(s: S3Item, reason: UnrepresentableReason, shadowedBy?: string): void {
    if (!this.wanted()) {
      this.count("unrepresentable");
      return;
    }
    const folder = reason === "folder-with-content";
    const nameable = reason === "shadowed-by-object" || folder;
    this.report({
      kind: "unrepresentable",
      key: s.key,
      path: nameable ? (s.folder ? s.key.slice(0, -1) : s.key) : null,
      s3: { shows: folder ? "dir" : "nothing", object: s.object },
      instance: NONE_INSTANCE,
      reason,
      detail: reasonText(s.key, reason, s.object, shadowedBy),
    });
  }
}

function reasonText(
  key: string,
  reason: UnrepresentableReason,
  object: S3ListedObject,
  shadowedBy?: string,
): string {
  switch (reason) {
    case "segment-too-long": {
      const longest = Math.max(...key.split("/").map((segment) => Buffer.byteLength(segment, "utf8")));
      return `a path segment of ${longest} bytes of UTF-8: a file name holds at most ${NAME_MAX_BYTES}`;
    }
    case "empty-segment":
      return 'an empty path segment (a leading "/" or "//"): no path names it';
    case "dot-segment":
      return 'a "." or ".." segment: the file system resolves it, no path names the key';
    case "nul-character":
      return "a NUL character: no file name holds one";
    case "shadowed-by-object":
      return `S3 also holds the object ${JSON.stringify(shadowedBy ?? "")}: s3fs shows that file, so nothing under ${JSON.stringify(`${shadowedBy ?? ""}/`)} is reachable`;
    case "folder-with-content":
      return `a folder marker with ${bytes(object.size)} of content: s3fs shows a directory, the content is unreachable over FTP`;
  }
}

function bytes(n: number): string {
  return `${n} byte${n === 1 ? "" : "s"}`;
}

function time(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}

function article(type: InstanceEntryType): string {
  return type === "dir"
    ? "a directory"
    : type === "file"
      ? "a file"
      : type === "link"
        ? "a symbolic link"
        : "a special file";
}

// --- input checks --------------------------------------------------------------------------------

const TYPES = new Set<string>(["file", "dir", "link", "other"]);

function s3Item(object: S3ListedObject, entry: number): S3Item {
  const { key } = object;
  if (typeof key !== "string" || key.length === 0)
    throw new AuditInputError("s3", entry, String(key), "a key must be a non-empty string");
  if (!(object.size >= 0) || !Number.isFinite(object.size))
    throw new AuditInputError("s3", entry, key, `size ${object.size} is not a byte count`);
  if (!Number.isFinite(object.lastModified))
    throw new AuditInputError("s3", entry, key, "lastModified must be epoch milliseconds");
  return { key, wide: WIDE.test(key), object, folder: key.endsWith("/"), shape: shapeOf(key) };
}

function instanceItem(value: InstanceEntry, entry: number): InstanceItem {
  const { path, type } = value;
  if (typeof path !== "string" || path.length === 0)
    throw new AuditInputError("instance", entry, String(path), "a path must be a non-empty string");
  if (!TYPES.has(type))
    throw new AuditInputError(
      "instance",
      entry,
      path,
      `type ${JSON.stringify(type)} is not file, dir, link or other`,
    );
  if (path.endsWith("/") || shapeOf(path).reason !== undefined)
    throw new AuditInputError(
      "instance",
      entry,
      path,
      'a path relative to the mount root, without "./", empty, "." or ".." segments or a trailing "/"',
    );
  if (!(value.size >= 0) || !Number.isFinite(value.mtime))
    throw new AuditInputError(
      "instance",
      entry,
      path,
      "size must be a byte count and mtime epoch milliseconds",
    );
  const key = type === "dir" ? `${path}/` : path;
  return {
    key,
    wide: WIDE.test(key),
    entry: value,
    dirEnd: type === "dir" ? key.length : path.lastIndexOf("/") + 1,
  };
}

function outOfOrder(side: "s3" | "instance", entry: number, key: string, previous: string): AuditInputError {
  return new AuditInputError(
    side,
    entry,
    key,
    key === previous
      ? "repeats the previous key: each key must appear once"
      : `out of order: sorts before the previous key ${JSON.stringify(previous)} ` +
          '(required: strictly increasing UTF-8 byte order of the keys, a directory\'s key ending in "/")',
  );
}

// --- the entry point -----------------------------------------------------------------------------

/** Diffs what S3 holds (ListObjectsV2 entries, in S3's order) against what one instance shows through
 * its mount (the probe's entries, in the same order of their keys): findings and a summary. One pass;
 * memory: the directories and pending names along the current key, one page of each input, the kept
 * findings. Throws AuditInputError on input out of order, repeated or malformed. */
export async function auditDiff(
  s3: AuditSource<S3ListedObject>,
  instance: AuditSource<InstanceEntry>,
  options: AuditDiffOptions,
): Promise<AuditDiffResult> {
  const diff = new AuditDiff(options);
  const left = new Reader(s3);
  const right = new Reader(instance);
  let lastS3: S3Item | undefined;
  let lastInstance: InstanceItem | undefined;

  // Synchronous while a page lasts (WAIT: the next page must be awaited), so arrays and sync
  // iterables cost no promise per entry.
  const pullS3 = (): S3Item | undefined | typeof WAIT => {
    for (;;) {
      if (!left.ready) return WAIT;
      const object = left.take();
      if (object === undefined) return undefined;
      const item = s3Item(object, left.count);
      if (lastS3 && compare(lastS3.key, lastS3.wide, item.key, item.wide) >= 0)
        throw outOfOrder("s3", left.count, item.key, lastS3.key);
      lastS3 = item;
      if (!diff.isReserved(item.key)) return item;
      diff.summary.reserved.s3++;
    }
  };
  const pullInstance = (): InstanceItem | undefined | typeof WAIT => {
    for (;;) {
      if (!right.ready) return WAIT;
      const entry = right.take();
      if (entry === undefined) return undefined;
      const item = instanceItem(entry, right.count);
      if (lastInstance && compare(lastInstance.key, lastInstance.wide, item.key, item.wide) >= 0)
        throw outOfOrder("instance", right.count, item.key, lastInstance.key);
      lastInstance = item;
      if (!diff.isReserved(item.entry.path)) return item;
      diff.summary.reserved.instance++;
    }
  };

  try {
    let s: S3Item | undefined | typeof WAIT = WAIT;
    let i: InstanceItem | undefined | typeof WAIT = WAIT;
    for (;;) {
      if (s === WAIT) s = pullS3();
      while (s === WAIT) {
        await left.fill();
        s = pullS3();
      }
      if (i === WAIT) i = pullInstance();
      while (i === WAIT) {
        await right.fill();
        i = pullInstance();
      }
      if (s === undefined && i === undefined) break;
      const order = s === undefined ? 1 : i === undefined ? -1 : compare(s.key, s.wide, i.key, i.wide);
      if (order === 0) {
        diff.both(s as S3Item, i as InstanceItem);
        s = WAIT;
        i = WAIT;
      } else if (order < 0) {
        diff.s3Only(s as S3Item);
        s = WAIT;
      } else {
        diff.instanceOnly(i as InstanceItem);
        i = WAIT;
      }
    }
    diff.finish();
  } finally {
    await Promise.all([left.close(), right.close()]);
  }
  diff.summary.s3Objects = left.count;
  diff.summary.instanceEntries = right.count;
  return { findings: diff.findings, summary: diff.summary };
}
