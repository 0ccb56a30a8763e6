# ftpfleet audit probe: what this instance serves through its bucket mount (audit-probe.sh runs it
# as `python3 -c PROGRAM MOUNT REQUEST_KEY INSTANCE_ID` and writes its standard output to the bucket).
# The request (JSON, written by the control plane) asks for any of:
#   canary  {key, size, sha256, notBefore, waitMs}: from notBefore on, stat the object through the
#           mount, then read it until its content is the one written, or waitMs passes; answer the
#           size stat showed, what the first read served, and when it was first seen whole.
#   stat    [key, ...]: lstat each key through the mount (a key ending in "/" is a directory), and
#           read files up to hashMaxBytes whole (size read, MD5): the second look at candidates.
#   sweep   {after, through, maxEntries, skip}: every entry whose key is in (after, through]
#           (through null: to the end; the folder `skip` left out), in the diff engine's order: UTF-8 byte order of keys, a directory's
#           key ending in "/", depth first. Only directories whose keys can hold keys in the range
#           are read, so a slice of a huge bucket costs what the slice costs.
# Times are epoch milliseconds. Standard library only: python3 is on every Debian and Ubuntu image.
import hashlib
import json
import os
import stat
import sys
import time

mount, request_key, instance_id = sys.argv[1], sys.argv[2], sys.argv[3]


def now_ms():
    return int(time.time() * 1000)


def fs_path(key):
    return os.path.join(mount, key.rstrip("/")) if key else mount


def kind(mode):
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def digest_of(path, algorithm="sha256", limit=None):
    digest = hashlib.new(algorithm)
    size = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            if limit is not None and size > limit:
                return None, size
            digest.update(chunk)
    return digest.hexdigest(), size


def error_text(error):
    return f"{type(error).__name__}: {error.strerror or error}" if isinstance(error, OSError) else str(error)


def canary(spec):
    # Past notBefore, every cache the safe mount options allow has expired: what is served from
    # then on must be the object as written.
    pause = spec.get("notBefore", 0) / 1000 - time.time()
    if pause > 0:
        time.sleep(min(pause, 30))
    path = fs_path(spec["key"])
    try:
        # The size a listing (LIST, SIZE) would show, asked before any open refreshes it.
        stat_size = os.lstat(path).st_size
    except OSError:
        stat_size = None
    deadline = time.monotonic() + spec.get("waitMs", 5000) / 1000
    reads = 0
    first = None
    seen = {"size": None, "sha256": None}
    while True:
        reads += 1
        try:
            digest, size = digest_of(path)
            seen = {"size": size, "sha256": digest}
        except OSError as error:
            seen = {"size": None, "sha256": None, "error": error_text(error)}
        if first is None:
            first = {"size": seen["size"], "sha256": seen["sha256"]}
        done = seen["sha256"] == spec["sha256"] and seen["size"] == spec["size"]
        if done or time.monotonic() >= deadline:
            # A listing after a download, as clients do: s3fs closes a file by dropping what it
            # knew of it, and keeps what this stat learns for as long as its stat cache lasts
            # (1 s with the safe options, 900 s by default): the next look sees if it lasts.
            try:
                os.lstat(path)
            except OSError:
                pass
            answer = {"ok": done, "reads": reads, "statSize": stat_size, "first": first, **seen}
            return {**answer, "seenAt": now_ms()} if done else answer
        time.sleep(0.1)


def stat_key(key, hash_max):
    path = fs_path(key)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {"key": key, "type": "nothing"}
    except OSError as error:
        return {"key": key, "type": "error", "error": error_text(error)}
    answer = {"key": key, "type": kind(st.st_mode), "size": st.st_size, "mtime": int(st.st_mtime * 1000)}
    if answer["type"] == "file" and st.st_size <= hash_max:
        try:
            # MD5: what S3's ETag of a single-part upload is.
            answer["md5"], answer["readSize"] = digest_of(path, "md5")
        except OSError as error:
            answer["error"] = error_text(error)
    return answer


def utf8(key):
    return key.encode("utf-8", "surrogateescape")


def sweep(spec):
    after = utf8(spec.get("after") or "")
    through = spec.get("through")
    through = None if through is None else utf8(through)
    limit = spec.get("maxEntries", 100000)
    skip = utf8(spec.get("skip") or "")
    entries, errors = [], []
    state = {"complete": True}

    def in_range(key):
        return key > after and (through is None or key <= through)

    def walk(prefix):
        # prefix: the directory's key ("" for the mount root, else ending in "/").
        try:
            with os.scandir(fs_path(prefix.decode("utf-8", "surrogateescape"))) as it:
                listed = list(it)
        except FileNotFoundError:
            # Deleted since its parent was listed: what a client sees now, not a fault.
            return True
        except OSError as error:
            errors.append({"key": prefix.decode("utf-8", "surrogateescape"), "error": error_text(error)})
            return True
        items = []
        for entry in listed:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted between the listing and the stat
            except OSError as error:
                errors.append({"key": (prefix + os.fsencode(entry.name)).decode("utf-8", "surrogateescape"),
                               "error": error_text(error)})
                continue
            name = os.fsencode(entry.name)
            what = kind(st.st_mode)
            items.append((prefix + name + (b"/" if what == "dir" else b""), what, st))
        items.sort(key=lambda item: item[0])
        for key, what, st in items:
            if key == skip:
                continue
            if through is not None and key > through and not through.startswith(key):
                return False
            if what == "dir" and key <= after and not after.startswith(key):
                continue
            if in_range(key):
                if len(entries) >= limit:
                    state["complete"] = False
                    return False
                path = key.decode("utf-8", "surrogateescape")
                entries.append({"path": path.rstrip("/") if what == "dir" else path, "type": what,
                                "size": st.st_size, "mtime": int(st.st_mtime * 1000)})
            elif what != "dir" and key <= after:
                continue
            if what == "dir" and not walk(key):
                return False
        return True

    walk(b"")
    return {"entries": entries, "errors": errors, "complete": state["complete"]}


def main():
    started = now_ms()
    with open(fs_path(request_key), encoding="utf-8") as f:
        request = json.load(f)
    if request.get("version") != 1:
        raise SystemExit(f"unsupported request version {request.get('version')!r}")
    answer = {"version": 1, "instanceId": instance_id, "runId": request.get("runId"), "startedAt": started}
    if request.get("canary"):
        answer["canary"] = canary(request["canary"])
    if request.get("stat"):
        hash_max = request.get("hashMaxBytes", 1 << 20)
        answer["stat"] = [stat_key(key, hash_max) for key in request["stat"]]
    if request.get("sweep"):
        answer["sweep"] = sweep(request["sweep"])
    answer["finishedAt"] = now_ms()
    json.dump(answer, sys.stdout, separators=(",", ":"))


main()
