import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  type DataPlaneScript,
  mountsUnder,
  probeLogin,
  runChecked,
  Sandbox,
  type SandboxInstance,
  scriptsDir,
  seedPureFtpdArtifact,
} from "@ftpfleet/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataPlaneSkip, putManifest, putObject, scratchDir, writeScratch } from "./helpers";

const skip = dataPlaneSkip("provisioning.test.ts");

/**
 * Paths inside the bucket mount are checked asynchronously only: the S3 server runs in this
 * process, and a synchronous call into s3fs would block the very event loop that must answer it.
 */
async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Every file, size and mtime under the root, not crossing into the bucket or bind mounts. */
async function snapshot(root: string): Promise<string> {
  return runChecked("bash", ["-c", 'find "$1" -xdev -printf "%p %s %T@\\n" | sort', "snapshot", root]);
}

describe.skipIf(skip)("provisioning scripts on a local instance", () => {
  let world: Sandbox;
  let instance: SandboxInstance;
  let s3: S3Client;
  const scratch = scratchDir();
  // Variants of a script written here still find the library they source.
  mkdirSync(join(scratch, "lib"));
  for (const library of ["common.sh", "packages.sh"]) {
    copyFileSync(join(scriptsDir, "lib", library), join(scratch, "lib", library));
  }
  const homes = () => join(instance.root, "srv/ftpfleet/home");
  const passwd = () => readFile(join(instance.root, "etc/ftpfleet/pure-ftpd/pureftpd.passwd"), "utf8");

  beforeAll(async () => {
    world = await Sandbox.create();
    s3 = world.s3Client();
    await putObject(s3, world, "projects/alpha/readme.txt", "alpha\n");
    await putManifest(s3, world, [
      { name: "alice", password: "a-pass", grants: [{ path: "projects/alpha", access: "ro" }] },
    ]);
    instance = await world.addInstance();
    await instance.provision();
  }, 60_000);

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
    await world?.stop();
  }, 60_000);

  const injections: [DataPlaneScript, Record<string, string>, string][] = [
    ["install-packages", { PureFtpdSource: "distro; touch /tmp/ftpfleet-pwned" }, "PureFtpdSource"],
    ["mount-bucket", { BucketName: "x; touch /tmp/ftpfleet-pwned" }, "BucketName"],
    ["mount-bucket", { BucketRegion: "us-east-1$(touch /tmp/ftpfleet-pwned)" }, "BucketRegion"],
    ["mount-bucket", { S3Endpoint: "http://h:1/`touch /tmp/ftpfleet-pwned`" }, "S3Endpoint"],
    ["build-pure-ftpd", { PureFtpdSource: "build\ntouch /tmp/ftpfleet-pwned" }, "PureFtpdSource"],
    ["configure-pure-ftpd", { PassivePorts: "30000:30099 -o x" }, "PassivePorts"],
    ["configure-pure-ftpd", { PassivePorts: "99999:100000" }, "PassivePorts"],
    ["configure-pure-ftpd", { PublicAddress: "10.0.0.300" }, "PublicAddress"],
    ["configure-pure-ftpd", { TlsMode: "on" }, "TlsMode"],
    ["apply-users", { UsersManifestKey: ".ftpfleet/../../etc/passwd.json" }, "UsersManifestKey"],
    ["apply-users", { UsersManifestKey: "users.json" }, "UsersManifestKey"],
    ["drain", { TimeoutSeconds: "10; reboot" }, "TimeoutSeconds"],
    [
      "fetch-certificate",
      { TlsCertificateParameter: "/tls;touch /tmp/ftpfleet-pwned" },
      "TlsCertificateParameter",
    ],
  ];
  const valid: Record<DataPlaneScript, () => Record<string, string>> = {
    "install-packages": () => ({ PureFtpdSource: "distro" }),
    "build-pure-ftpd": () => ({ PureFtpdSource: "distro" }),
    "mount-bucket": () => world.mountParameters(),
    "configure-pure-ftpd": () => ({
      PassivePorts: "30000:30019",
      PublicAddress: instance.address,
      TlsMode: "off",
    }),
    "apply-users": () => ({ UsersManifestKey: ".ftpfleet/users.json" }),
    drain: () => ({ TimeoutSeconds: "1" }),
    "fetch-certificate": () => ({ TlsCertificateParameter: "" }),
  };

  it.each(injections)("%s refuses %j with exit 2, naming %s, changing nothing", async (script, bad, name) => {
    const before = await snapshot(instance.root);
    const result = await instance.runScript(script, { ...valid[script](), ...bad });
    expect(result.code, result.stdout).toBe(2);
    expect(result.stderr).toContain(`invalid parameter ${name}`);
    expect(existsSync("/tmp/ftpfleet-pwned")).toBe(false);
    expect(await snapshot(instance.root)).toBe(before);
  });

  const hash = `$6$salt$${"a".repeat(86)}`;
  const user = (grants: unknown, extra: Record<string, unknown> = {}) => ({
    name: "mallory",
    passwordHash: hash,
    grants,
    ...extra,
  });
  const badManifests: [string, unknown][] = [
    ["a grant climbing out with ..", { version: 1, users: [user([{ path: "../etc", access: "ro" }])] }],
    ["a grant inside ..", { version: 1, users: [user([{ path: "a/../../etc", access: "ro" }])] }],
    ["the control folder", { version: 1, users: [user([{ path: ".ftpfleet", access: "rw" }])] }],
    ["an absolute path", { version: 1, users: [user([{ path: "/etc", access: "ro" }])] }],
    ["an empty segment", { version: 1, users: [user([{ path: "a//b", access: "ro" }])] }],
    ["a bad access", { version: 1, users: [user([{ path: "a", access: "rx" }])] }],
    [
      "nested grants",
      {
        version: 1,
        users: [
          user([
            { path: "a", access: "ro" },
            { path: "a/b", access: "rw" },
          ]),
        ],
      },
    ],
    ["an upper-case name", { version: 1, users: [{ ...user([]), name: "Root" }] }],
    ["a name with a colon", { version: 1, users: [{ ...user([]), name: "a:0:0" }] }],
    ["a plain password", { version: 1, users: [{ ...user([]), passwordHash: "secret" }] }],
    ["a hash with a colon", { version: 1, users: [{ ...user([]), passwordHash: `${hash}:0:0` }] }],
    ["duplicate users", { version: 1, users: [user([]), user([])] }],
    ["an unknown field", { version: 1, users: [user([], { shell: "/bin/sh" })] }],
    ["another version", { version: 2, users: [] }],
    ["an unknown layout", { version: 1, layout: "copy", users: [] }],
  ];

  it.each(badManifests)(
    "apply-users rejects a manifest with %s (exit 2, nothing changed)",
    async (_, manifest) => {
      await putObject(s3, world, ".ftpfleet/bad.json", JSON.stringify(manifest));
      const before = await snapshot(instance.root);
      const mounts = mountsUnder(homes());
      const result = await instance.runScript("apply-users", { UsersManifestKey: ".ftpfleet/bad.json" });
      expect(result.code, result.stdout).toBe(2);
      expect(result.stderr).toMatch(/^invalid manifest \.ftpfleet\/bad\.json: /);
      expect(await snapshot(instance.root)).toBe(before);
      expect(mountsUnder(homes())).toEqual(mounts);
    },
  );

  it("apply-users converges: removed users lose entry, mounts and home; changed grants are remounted", async () => {
    await putManifest(s3, world, [
      { name: "alice", password: "a-pass", grants: [{ path: "projects/alpha", access: "ro" }] },
      { name: "bob", password: "b-pass", grants: [{ path: "inbox/bob", access: "rw" }] },
    ]);
    const first = await instance.runScript("apply-users", {});
    expect(first.code, first.stderr).toBe(0);
    expect(await probeLogin(instance.address, "bob", "b-pass")).toBeGreaterThan(0);
    const bobMount = join(homes(), "bob/inbox/bob");
    expect(mountsUnder(bobMount).map((entry) => entry.target)).toEqual([bobMount]);

    await putManifest(s3, world, [
      { name: "alice", password: "a-pass", grants: [{ path: "projects/alpha", access: "rw" }] },
      { name: "carol", password: "c-pass", grants: [{ path: "inbox/carol", access: "rw" }] },
    ]);
    const second = await instance.runScript("apply-users", {});
    expect(second.code, second.stderr).toBe(0);
    expect(await passwd()).not.toMatch(/^bob:/m);
    expect(existsSync(join(homes(), "bob"))).toBe(false);
    expect(mountsUnder(join(homes(), "bob"))).toEqual([]);
    await expect(probeLogin(instance.address, "bob", "b-pass")).rejects.toThrow(/login refused/);
    expect(await probeLogin(instance.address, "carol", "c-pass")).toBeGreaterThan(0);
    const options = await runChecked("findmnt", [
      "-n",
      "-o",
      "VFS-OPTIONS",
      join(homes(), "alice/projects/alpha"),
    ]);
    expect(options.split(",")[0]).toBe("rw");
    // The bucket folder of carol's new rw grant exists for every client.
    expect(second.stdout).toContain("created bucket folder inbox/carol");

    const again = await instance.runScript("apply-users", {});
    expect(again.stdout).toContain("0 new mount(s)");
  });

  it("the symlink layout is opt-in, warns, and switches to virtualchroot; bind switches back", async () => {
    await putManifest(
      s3,
      world,
      [{ name: "alice", password: "a-pass", grants: [{ path: "projects/alpha", access: "ro" }] }],
      {
        layout: "symlink",
      },
    );
    const args = join(instance.root, "etc/ftpfleet/pure-ftpd/args");
    const linked = await instance.runScript("apply-users", {});
    expect(linked.code, linked.stderr).toBe(0);
    expect(linked.stderr).toMatch(/WARNING: layout=symlink.*read files of this host/);
    expect((await readFile(args, "utf8")).split("\n")[0]).toMatch(/pure-ftpd-virtualchroot$/);
    expect(existsSync(join(instance.root, "run/ftpfleet/restart-required"))).toBe(true);
    const link = await runChecked("readlink", [join(homes(), "alice/projects/alpha")]);
    expect(link.trim()).toBe(join(instance.root, "mnt/ftpfleet/bucket-ro/projects/alpha"));

    await putManifest(s3, world, [
      { name: "alice", password: "a-pass", grants: [{ path: "projects/alpha", access: "ro" }] },
    ]);
    const bound = await instance.runScript("apply-users", {});
    expect(bound.code, bound.stderr).toBe(0);
    expect((await readFile(args, "utf8")).split("\n")[0]).toMatch(/\/pure-ftpd$/);
    expect(mountsUnder(join(instance.root, "mnt/ftpfleet/bucket-ro"))).toEqual([]);
    const alpha = join(homes(), "alice/projects/alpha");
    expect(mountsUnder(alpha).map((entry) => entry.target)).toEqual([alpha]);
  });

  describe("build-pure-ftpd.sh (the build path, with its artifact cache)", () => {
    let builder: SandboxInstance;
    const build = { PureFtpdSource: "build" };
    const missingSource = () => ({ FTPFLEET_PUREFTPD_SOURCE_URL: `file://${scratch}/not-there.tar.gz` });

    beforeAll(async () => {
      builder = await world.addInstance();
      await builder.runScriptChecked("install-packages", { PureFtpdSource: "build" });
      await builder.runScriptChecked("mount-bucket", world.mountParameters());
    }, 30_000);

    let knownArtifact: string | undefined;
    const artifactOf = (stdout: string) => /cache miss: (\S+)/.exec(stdout)?.[1];

    it("refuses a source whose checksum does not match, installing nothing", async () => {
      writeScratch(scratch, "fake.tar.gz", "not the pure-ftpd release\n");
      const result = await builder.runScript("build-pure-ftpd", build, {
        FTPFLEET_PUREFTPD_SOURCE_URL: `file://${scratch}/fake.tar.gz`,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/checksum mismatch/);
      const artifact = artifactOf(result.stdout);
      knownArtifact = artifact;
      expect(artifact).toMatch(/\/\.ftpfleet\/artifacts\/pure-ftpd-1\.0\.52-[0-9a-f]{16}\.tar\.gz$/);
      expect(await exists(artifact ?? "")).toBe(false);
      expect(existsSync(join(builder.root, "usr/local"))).toBe(false);
    });

    it("installs from a cached artifact without compiling, and the daemon it installs serves", async () => {
      // The artifact another instance would have built; here made of Debian's binaries.
      const artifact = await seedPureFtpdArtifact(builder, scratch);
      expect(artifact).toBe(knownArtifact);
      const hit = await builder.runScript("build-pure-ftpd", build, missingSource());
      expect(hit.code, hit.stderr).toBe(0);
      expect(hit.stdout).toContain("installed from cached artifact");
      expect(hit.stdout).not.toContain("cache miss");
      expect(existsSync(join(builder.root, "usr/local/sbin/pure-ftpd"))).toBe(true);
      const again = await builder.runScript("build-pure-ftpd", build, missingSource());
      expect(again.stdout).toContain("already installed");

      await builder.runScriptChecked("configure-pure-ftpd", {
        PassivePorts: "30000:30019",
        PublicAddress: builder.address,
        TlsMode: "off",
      });
      const args = await readFile(join(builder.root, "etc/ftpfleet/pure-ftpd/args"), "utf8");
      expect(args.split("\n")[0]).toBe(join(builder.root, "usr/local/sbin/pure-ftpd"));
      await builder.runScriptChecked("apply-users", {});
      await builder.startFtpd();
      expect(await probeLogin(builder.address, "alice", "a-pass")).toBeGreaterThan(0);
    });

    it("keys the cache by version and configure flags", async () => {
      const source = await readFile(join(scriptsDir, "build-pure-ftpd.sh"), "utf8");
      const variant = async (name: string, text: string) => {
        const path = writeScratch(scratch, name, text);
        const result = await builder.runScriptFile(path, build, missingSource());
        expect(result.code).toBe(1);
        return artifactOf(result.stdout);
      };
      const newer = await variant("version.sh", source.replace("version=1.0.52", "version=1.0.53"));
      const flags = await variant(
        "flags.sh",
        source.replace("--with-ftpwho)", "--with-ftpwho --with-altlog)"),
      );
      expect(newer).toMatch(/pure-ftpd-1\.0\.53-[0-9a-f]{16}\.tar\.gz$/);
      expect(flags).toMatch(/pure-ftpd-1\.0\.52-[0-9a-f]{16}\.tar\.gz$/);
      expect(new Set([knownArtifact, newer, flags]).size).toBe(3);
    });

    it("refuses a cached artifact holding paths outside usr/local, extracting nothing", async () => {
      const source = await readFile(join(scriptsDir, "build-pure-ftpd.sh"), "utf8");
      const path = writeScratch(scratch, "evil.sh", source.replace("version=1.0.52", "version=6.6.6"));
      const miss = await builder.runScriptFile(path, build, missingSource());
      const artifact = artifactOf(miss.stdout) ?? "";
      await runChecked("bash", [
        "-c",
        `set -e; mkdir -p "$1/etc" "$1/usr/local/sbin"; echo evil > "$1/etc/evil"; echo x > "$1/usr/local/sbin/pure-ftpd"
         tar -czf "$2" -C "$1" etc usr; sha256sum "$2" | cut -d" " -f1 > "$2.sha256"`,
        "artifact",
        join(scratch, "evil-tree"),
        artifact,
      ]);
      const result = await builder.runScriptFile(path, build, missingSource());
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/paths outside usr\/local; refusing it/);
      expect(existsSync(join(builder.root, "etc/evil"))).toBe(false);
    });
  });
});
