import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { machine } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  ARTIFACT_PREFIX,
  probeLogin,
  processesIn,
  runChecked,
  runCommand,
  Sandbox,
  type SandboxInstance,
  scriptsDir,
  sealArtifact,
  unsealArtifact,
  VENDORED_SOURCES,
} from "@ftpfleet/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataPlaneSkip, putManifest, scratchDir, writeScratch } from "./helpers";

const skip = dataPlaneSkip("builds.test.ts");

/** This machine's OS release and architecture, as build-daemons.sh names artifacts by them. */
function platform(): string {
  const release = readFileSync("/etc/os-release", "utf8");
  const field = (name: string) => new RegExp(`^${name}="?([^"\\n]*)"?$`, "m").exec(release)?.[1] ?? "";
  return `${field("ID")}${field("VERSION_ID")}-${machine()}`;
}

describe.skipIf(skip)(
  "build-daemons.sh: s3fs 1.95 and pure-ftpd 1.0.54 from pinned sources, cached sealed",
  () => {
    let world: Sandbox;
    let s3: S3Client;
    const scratch = scratchDir();
    // Every compiler driver and make, in front of the step's PATH, logs which instance ran it.
    const shims = join(scratch, "shims");
    const compilerLog = join(scratch, "compilers.log");
    mkdirSync(shims);
    for (const program of ["cc", "gcc", "g++", "c++", "make"]) {
      writeFileSync(
        join(shims, program),
        `#!/bin/sh\necho "$FTPFLEET_ROOT ${program}" >>"${compilerLog}"\nexec /usr/bin/${program} "$@"\n`,
        { mode: 0o755 },
      );
    }
    const env = { PATH: `${shims}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` };
    /** The instances that ran a compiler or make since `since` lines of the log. */
    const compiledBy = (since = 0): string[] => [
      ...new Set(
        (existsSync(compilerLog) ? readFileSync(compilerLog, "utf8") : "")
          .split("\n")
          .slice(since)
          .filter(Boolean)
          .map((line) => line.split(" ")[0] ?? ""),
      ),
    ];
    const logLines = () =>
      existsSync(compilerLog) ? readFileSync(compilerLog, "utf8").split("\n").length - 1 : 0;

    const build = (instance: SandboxInstance, parameters: Record<string, string> = {}, path?: string) => {
      const all = { ...world.buildParameters(), ...parameters };
      return path === undefined
        ? instance.runScript("build-daemons", all, env)
        : instance.runScriptFile(path, all, env);
    };
    /** Sources that are not there: a run gets as far as naming its artifact, then fails. */
    const missing = "bucket:.ftpfleet/sources/not-there.tar.gz";
    const onlyS3fs = { PureFtpdSource: "distro" };
    const onlyPureFtpd = { S3fsSource: "distro" };
    const artifactKeys = async () =>
      (
        (await s3.send(new ListObjectsV2Command({ Bucket: world.bucket, Prefix: ARTIFACT_PREFIX })))
          .Contents ?? []
      )
        .map((object) => object.Key ?? "")
        .filter((key) => !key.endsWith("/"))
        .sort();
    const getArtifact = async (name: string) => {
      const out = await s3.send(
        new GetObjectCommand({ Bucket: world.bucket, Key: `${ARTIFACT_PREFIX}${name}` }),
      );
      return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
    };
    const putArtifact = (name: string, body: Buffer) =>
      s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: `${ARTIFACT_PREFIX}${name}`, Body: body }));
    /** The members of a .tar.gz payload. */
    const members = async (payload: Buffer) => {
      const file = writeScratch(scratch, "payload.tar.gz", payload);
      return (await runChecked("tar", ["-tzf", file])).split("\n").filter(Boolean);
    };
    const s3fsName = new RegExp(`^s3fs-1\\.95-${platform()}-[0-9a-f]{16}\\.tar\\.gz\\.sealed$`);
    const pureFtpdName = new RegExp(`^pure-ftpd-1\\.0\\.54-${platform()}-[0-9a-f]{16}\\.tar\\.gz\\.sealed$`);
    /** The artifact a run looked for, installed or said was there. */
    const artifactOf = (stdout: string) =>
      /(?:cache miss: |from cached artifact |already installed: |and cached )(\S+)/.exec(stdout)?.[1];
    const versions = async (instance: SandboxInstance) => {
      const said: string[] = [];
      for (const daemon of ["pure-ftpd", "pure-ftpd-virtualchroot"]) {
        const help = await runCommand(join(instance.root, "usr/local/sbin", daemon), ["--help"]);
        said.push(
          `${daemon}: ${help.stdout.split("\n")[0]}${help.stdout.includes("--quota") ? " quotas" : ""}`,
        );
      }
      const s3fs = await runCommand(join(instance.root, "usr/local/bin/s3fs"), ["--version"]);
      said.push(`s3fs: ${/V[0-9.]+/.exec(s3fs.stdout)?.[0]}`);
      return said;
    };
    let s3fsArtifact = "";
    let pureFtpdArtifact = "";

    beforeAll(async () => {
      world = await Sandbox.create();
      s3 = world.s3Client();
      // Variants of the step written here still find the libraries they source.
      cpSync(join(scriptsDir, "lib"), join(scratch, "lib"), { recursive: true });
    }, 30_000);

    afterAll(async () => {
      await world?.stop();
      await rm(scratch, { recursive: true, force: true });
    }, 60_000);

    it.each([
      ["s3fs", "S3fsSourceSha256", VENDORED_SOURCES.s3fs, onlyS3fs],
      ["pure-ftpd", "PureFtpdSourceSha256", VENDORED_SOURCES.pureFtpd, onlyPureFtpd],
    ] as const)(
      "refuses a %s source whose checksum does not match: exit 1, expected and actual, nothing extracted, installed or cached",
      async (_, parameter, source, only) => {
        const instance = await world.addInstance();
        const wrong = "ab".repeat(32);
        const before = logLines();
        const result = await build(instance, { ...only, [parameter]: wrong });
        expect(result.code, result.stdout).toBe(1);
        expect(result.stderr).toContain(
          `checksum mismatch for bucket:${source.key}: expected ${wrong}, actual ${source.sha256};` +
            " nothing extracted or installed",
        );
        expect(existsSync(join(instance.root, "usr/local"))).toBe(false);
        expect(compiledBy(before)).toEqual([]);
        expect(await artifactKeys()).toEqual([]);
      },
    );

    it("two instances building at once from an empty cache both compile and end installed; each artifact is published once (If-None-Match), sealed with the fleet's key", async () => {
      const a = await world.addInstance();
      const b = await world.addInstance();
      const before = logLines();
      const runs = await Promise.all([a, b].map((instance) => build(instance)));
      for (const run of runs) expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
      const out = runs.map((run) => run.stdout);
      console.info(`concurrent cold builds:\n${out.join("\n")}`);
      // s3fs: both looked before either had finished compiling.
      expect(compiledBy(before).sort()).toEqual([a.root, b.root].sort());
      expect(out.filter((text) => /built s3fs 1\.95 in [0-9.]+ s and cached /.test(text))).toHaveLength(1);
      expect(
        out.filter((text) => /built s3fs 1\.95 in [0-9.]+ s; \S+ was published meanwhile/.test(text)),
      ).toHaveLength(1);
      // pure-ftpd: the second either compiled too and lost the race, or found the first's artifact.
      expect(
        out.filter((text) => /built pure-ftpd 1\.0\.54 in [0-9.]+ s and cached /.test(text)),
      ).toHaveLength(1);
      for (const text of out) {
        expect(text).toMatch(
          /built pure-ftpd 1\.0\.54 in [0-9.]+ s( and cached|; \S+ was published meanwhile)|installed pure-ftpd 1\.0\.54 from cached artifact/,
        );
      }

      const keys = await artifactKeys();
      expect(keys).toHaveLength(2);
      const names = keys.map((key) => key.slice(ARTIFACT_PREFIX.length));
      s3fsArtifact = names.find((name) => s3fsName.test(name)) ?? "";
      pureFtpdArtifact = names.find((name) => pureFtpdName.test(name)) ?? "";
      expect([s3fsArtifact, pureFtpdArtifact].sort()).toEqual([...names].sort());
      for (const [name, programs] of [
        [s3fsArtifact, ["usr/local/bin/s3fs"]],
        [
          pureFtpdArtifact,
          [
            "usr/local/sbin/pure-ftpd",
            "usr/local/sbin/pure-ftpd-virtualchroot",
            "usr/local/sbin/pure-ftpwho",
            "usr/local/bin/pure-pw",
          ],
        ],
      ] as const) {
        const payload = unsealArtifact(world.artifactKey, name, await getArtifact(name));
        expect(payload, `${name} is sealed with the fleet's key`).toBeDefined();
        expect(await members(payload ?? Buffer.alloc(0))).toEqual(expect.arrayContaining([...programs]));
      }
      for (const instance of [a, b]) {
        expect(await versions(instance)).toEqual([
          "pure-ftpd: pure-ftpd v1.0.54 [privsep]",
          "pure-ftpd-virtualchroot: pure-ftpd v1.0.54 [privsep]",
          "s3fs: V1.95",
        ]);
      }
    }, 300_000);

    it("a third instance installs both from the artifacts without compiling, mounts the bucket with the built s3fs and its options, and serves", async () => {
      const c = await world.addInstance();
      await putManifest(s3, world, [
        { name: "alice", password: "a-pass", grants: [{ path: "inbox", access: "rw" }] },
      ]);
      const before = logLines();
      const installed = await build(c);
      expect(installed.code, installed.stderr).toBe(0);
      expect(installed.stdout).toContain(
        `installed s3fs 1.95 from cached artifact ${s3fsArtifact} (MAC verified, no build)`,
      );
      expect(installed.stdout).toContain(
        `installed pure-ftpd 1.0.54 from cached artifact ${pureFtpdArtifact} (MAC verified, no build)`,
      );
      expect(installed.stdout).not.toMatch(/cache miss|built /);
      console.info(`install from artifacts: ${installed.ms.toFixed(0)} ms`);
      expect(compiledBy(before)).toEqual([]);
      expect(await versions(c)).toEqual([
        "pure-ftpd: pure-ftpd v1.0.54 [privsep]",
        "pure-ftpd-virtualchroot: pure-ftpd v1.0.54 [privsep]",
        "s3fs: V1.95",
      ]);

      const report = await c.provision({ env });
      console.info(
        `provision with cached artifacts: ${report.steps.map((s) => `${s.script} ${s.ms.toFixed(0)} ms`).join(", ")}`,
      );
      expect(compiledBy(before)).toEqual([]);
      const s3fs = (await processesIn(c.namespace.name)).filter((p) => p.program === "s3fs");
      expect(s3fs).toHaveLength(1);
      expect(await runChecked("readlink", [`/proc/${s3fs[0]?.pid}/exe`])).toBe(
        `${join(c.root, "usr/local/bin/s3fs")}\n`,
      );
      // DESIGN.md §3's safe row, the negative cache off (>= 1.92), no payload hashing (>= 1.91), no data cache.
      const fstab = await readFile(join(c.root, "etc/fstab"), "utf8");
      const options = fstab.split(/\s+/)[3]?.split(",") ?? [];
      expect(options).toEqual(
        expect.arrayContaining([
          "stat_cache_expire=1",
          "attr_timeout=0",
          "entry_timeout=0",
          "negative_timeout=0",
          "disable_noobj_cache",
          "enable_unsigned_payload",
        ]),
      );
      expect(options.filter((option) => /^(use_cache|kernel_cache|enable_noobj_cache)/.test(option))).toEqual(
        [],
      );
      expect(await probeLogin(c.address, "alice", "a-pass")).toBeGreaterThan(0);
    }, 60_000);

    it.each([
      ["keeping the genuine MAC line", true],
      ["without a MAC line", false],
    ])(
      "never installs an artifact a bucket writer replaced (%s): builds from source instead",
      async (_, keepMacLine) => {
        const genuine = await getArtifact(s3fsArtifact);
        const evil = await runChecked("bash", [
          "-c",
          `set -euo pipefail; d="$1"; mkdir -p "$d/usr/local/bin"; printf '#!/bin/sh\\necho pwned\\n' >"$d/usr/local/bin/s3fs"
         chmod 0755 "$d/usr/local/bin/s3fs"; tar -czf - -C "$d" usr | base64 -w0`,
          "evil",
          join(scratch, "evil-tree"),
        ]);
        const macLine = genuine.subarray(0, genuine.indexOf(0x0a) + 1);
        await putArtifact(
          s3fsArtifact,
          Buffer.concat([keepMacLine ? macLine : Buffer.alloc(0), Buffer.from(evil, "base64")]),
        );
        const victim = await world.addInstance();
        try {
          const result = await build(victim, { ...onlyS3fs, S3fsSourceUrl: missing });
          expect(result.code).toBe(1);
          expect(result.stderr).toMatch(keepMacLine ? /does not match its MAC/ : /carries no MAC/);
          expect(result.stderr).toContain(
            `cached artifact ${s3fsArtifact} was NOT installed; building from source to replace it`,
          );
          expect(result.stderr).toContain("no source object .ftpfleet/sources/not-there.tar.gz");
          expect(existsSync(join(victim.root, "usr/local"))).toBe(false);
        } finally {
          await putArtifact(s3fsArtifact, genuine);
        }
      },
    );

    it("replaces an artifact that is not trusted with its own build, over that very object (If-Match)", async () => {
      const genuine = await getArtifact(s3fsArtifact);
      await putArtifact(
        s3fsArtifact,
        Buffer.concat([Buffer.from("ftpfleet-artifact v1 hmac-sha256 0\n"), genuine]),
      );
      const rebuilder = await world.addInstance();
      const result = await build(rebuilder, onlyS3fs);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain("carries no MAC");
      expect(result.stdout).toMatch(new RegExp(`built s3fs 1\\.95 in [0-9.]+ s and cached ${s3fsArtifact}`));
      expect(unsealArtifact(world.artifactKey, s3fsArtifact, await getArtifact(s3fsArtifact))).toBeDefined();
    }, 120_000);

    it("without an artifact key, neither trusts the cache nor writes to it", async () => {
      const keyless = await world.addInstance();
      await rm(join(keyless.root, "etc/ftpfleet/artifact.key"));
      const before = await artifactKeys();
      const result = await build(keyless, { ...onlyS3fs, S3fsSourceUrl: missing });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/no artifact key .* neither trusted nor written/);
      expect(result.stderr).toContain("no source object");
      expect(existsSync(join(keyless.root, "usr/local"))).toBe(false);
      expect(await artifactKeys()).toEqual(before);
    });

    it("names each artifact by component, version, OS release, architecture and a digest of recipe, source checksum and configure flags", async () => {
      const namer = await world.addInstance();
      const step = await readFile(join(scriptsDir, "build-daemons.sh"), "utf8");
      const library = await readFile(join(scriptsDir, "lib/build.sh"), "utf8");
      /** The name a run of `script` (a variant of the step, or of lib/build.sh) looks for. */
      const nameOf = async (
        parameters: Record<string, string>,
        variant: { step?: string; library?: string } = {},
      ): Promise<string> => {
        const dir = join(scratch, `variant-${Math.random().toString(16).slice(2)}`);
        cpSync(join(scriptsDir, "lib"), join(dir, "lib"), { recursive: true });
        writeFileSync(join(dir, "lib/build.sh"), variant.library ?? library);
        const path = writeScratch(dir, "build-daemons.sh", variant.step ?? step);
        const result = await build(namer, parameters, path);
        const name = artifactOf(result.stdout);
        expect(name, `${result.stdout}\n${result.stderr}`).toBeDefined();
        return name ?? "";
      };
      const s3fs = { ...onlyS3fs, S3fsSourceUrl: missing };
      const pureFtpd = { ...onlyPureFtpd, PureFtpdSourceUrl: missing };
      const osRelease = writeScratch(
        scratch,
        "os-release",
        'PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nVERSION_ID="24.04"\n',
      );
      const names = {
        s3fs: await nameOf(s3fs),
        pureFtpd: await nameOf(pureFtpd),
        version: await nameOf(s3fs, { step: step.replace("version=1.95", "version=1.96") }),
        flags: await nameOf(s3fs, {
          step: step.replace("--with-openssl)", "--with-openssl --enable-debug)"),
        }),
        checksum: await nameOf({ ...s3fs, S3fsSourceSha256: "cd".repeat(32) }),
        recipe: await nameOf(s3fs, { library: library.replace("build_recipe=1", "build_recipe=2") }),
        os: await nameOf(s3fs, {
          library: library.replace("os_release=/etc/os-release", `os_release=${osRelease}`),
        }),
        arch: await nameOf(s3fs, { library: library.replace('arch="$(uname -m)"', "arch=aarch64") }),
      };
      // The real ones: what the first builders published.
      expect(names.s3fs).toBe(s3fsArtifact);
      expect(names.pureFtpd).toBe(pureFtpdArtifact);
      const digest = (name: string) => /-([0-9a-f]{16})\.tar\.gz\.sealed$/.exec(name)?.[1];
      expect(names.version).toMatch(new RegExp(`^s3fs-1\\.96-${platform()}-`));
      expect(names.os).toBe(names.s3fs.replace(platform(), `ubuntu24.04-${machine()}`));
      expect(names.arch).toBe(names.s3fs.replace(`-${machine()}-`, "-aarch64-"));
      for (const changed of [names.flags, names.checksum, names.recipe]) {
        expect(changed).toMatch(new RegExp(`^s3fs-1\\.95-${platform()}-`));
        expect(digest(changed)).not.toBe(digest(names.s3fs));
      }
      expect(new Set(Object.values(names)).size).toBe(Object.keys(names).length);
    });

    // Each holds a usr/local/bin/s3fs too, ahead of the hostile member: nothing may be extracted.
    const hostileArchives: [string, string, RegExp][] = [
      [
        "a path outside usr/local",
        `mkdir -p etc usr/local/bin; echo x > usr/local/bin/s3fs; echo evil > etc/evil
       tar -czf "$OUT" usr etc`,
        /paths outside usr\/local/,
      ],
      [
        "a .. segment",
        `mkdir -p usr/local/bin usr/local/x; echo x > usr/local/bin/s3fs; echo evil > usr/local/x/evil
       tar -czf "$OUT" --transform 's,^usr/local/x/evil$,usr/local/../../etc/evil,' usr/local/bin/s3fs usr/local/x/evil`,
        /a path with an empty, \. or \.\. segment \(usr\/local\/\.\.\/\.\.\/etc\/evil\)/,
      ],
      [
        "an absolute path",
        `mkdir -p usr/local/bin usr/local/x; echo x > usr/local/bin/s3fs; echo evil > usr/local/x/evil
       tar -czf "$OUT" --absolute-names --transform 's,^usr/local/x/evil$,/etc/evil,' usr/local/bin/s3fs usr/local/x/evil`,
        /an absolute path \(\/etc\/evil\)/,
      ],
      [
        "a symlink pointing out",
        `mkdir -p usr/local/bin; echo x > usr/local/bin/s3fs; ln -s ../../../etc usr/local/up
       tar -czf "$OUT" usr/local/bin/s3fs usr/local/up`,
        /links or special files/,
      ],
      [
        "a hard link pointing out",
        `mkdir -p usr/local/bin; echo x > usr/local/bin/s3fs; echo y > usr/local/a; ln usr/local/a usr/local/bin/b
       tar -czf "$OUT" --transform 'flags=h;s,^usr/local/a$,etc/evil,' usr/local/bin/s3fs usr/local/a usr/local/bin/b`,
        /links or special files/,
      ],
    ];

    it.each(hostileArchives)(
      "refuses a validly sealed artifact holding %s, before extracting anything",
      async (_, commands, reason) => {
        const out = join(scratch, "hostile.tar.gz");
        await runChecked("bash", [
          "-c",
          `set -euo pipefail; rm -rf "$1"; mkdir -p "$1"; cd "$1"; OUT="$2"; ${commands}`,
          "hostile",
          join(scratch, "hostile-tree"),
          out,
        ]);
        const genuine = await getArtifact(s3fsArtifact);
        // Sealed with the fleet's key: only the member check stands between it and the root.
        await putArtifact(s3fsArtifact, sealArtifact(world.artifactKey, s3fsArtifact, await readFile(out)));
        const victim = await world.addInstance();
        try {
          const result = await build(victim, { ...onlyS3fs, S3fsSourceUrl: missing });
          expect(result.code).toBe(1);
          expect(result.stderr).toMatch(reason);
          expect(result.stderr).toMatch(/refusing it/);
          expect(result.stderr).toMatch(/was NOT installed/);
          expect(existsSync(join(victim.root, "usr/local"))).toBe(false);
          expect(existsSync(join(victim.root, "etc/evil"))).toBe(false);
        } finally {
          await putArtifact(s3fsArtifact, genuine);
        }
      },
    );
  },
);
