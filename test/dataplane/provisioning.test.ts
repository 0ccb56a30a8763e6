import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { systemClock, until } from "@ftpfleet/core";
import { bundleDocument } from "@ftpfleet/core/documents";
import {
  type DataPlaneScript,
  ftpLogin,
  mountsUnder,
  probeLogin,
  runChecked,
  runCommand,
  Sandbox,
  type SandboxInstance,
  scriptsDir,
} from "@ftpfleet/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { manifestCases } from "../fixtures/manifest-cases";
import {
  dataPlaneSkip,
  type Grant,
  getObject,
  mountAccess,
  putManifest,
  putObject,
  scratchDir,
  sha512Crypt,
  writeScratch,
} from "./helpers";

const skip = dataPlaneSkip("provisioning.test.ts");

type FtpSession = Awaited<ReturnType<typeof ftpLogin>>;

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
  for (const library of readdirSync(join(scriptsDir, "lib"))) {
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
    // The document's defaults: s3fs and pure-ftpd built (the vendored sources), here compiled once;
    // every later instance of this file installs the artifacts this one cached.
    await instance.provision();
  }, 240_000);

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
    await world?.stop();
  }, 60_000);

  const injections: [DataPlaneScript, Record<string, string>, string][] = [
    ["install-packages", { PureFtpdSource: "distro; touch /tmp/ftpfleet-pwned" }, "PureFtpdSource"],
    ["install-packages", { S3fsSource: "build$(touch /tmp/ftpfleet-pwned)" }, "S3fsSource"],
    ["mount-bucket", { BucketName: "x; touch /tmp/ftpfleet-pwned" }, "BucketName"],
    ["mount-bucket", { BucketRegion: "us-east-1$(touch /tmp/ftpfleet-pwned)" }, "BucketRegion"],
    ["mount-bucket", { S3Endpoint: "http://h:1/`touch /tmp/ftpfleet-pwned`" }, "S3Endpoint"],
    ["build-daemons", { PureFtpdSource: "build\ntouch /tmp/ftpfleet-pwned" }, "PureFtpdSource"],
    ["build-daemons", { S3fsSource: "build; touch /tmp/ftpfleet-pwned" }, "S3fsSource"],
    [
      "build-daemons",
      { PureFtpdSourceUrl: "https://example.com/p.tar.gz;touch /tmp/ftpfleet-pwned" },
      "PureFtpdSourceUrl",
    ],
    ["build-daemons", { S3fsSourceUrl: "bucket:.ftpfleet/sources/../users.json" }, "S3fsSourceUrl"],
    ["build-daemons", { S3fsSourceUrl: "file:///etc/passwd" }, "S3fsSourceUrl"],
    ["build-daemons", { S3fsSourceUrl: "http://example.com/s3fs.tar.gz" }, "S3fsSourceUrl"],
    ["build-daemons", { PureFtpdSourceSha256: "DC91".repeat(16) }, "PureFtpdSourceSha256"],
    ["build-daemons", { S3fsSourceSha256: "0c97`touch /tmp/ftpfleet-pwned`" }, "S3fsSourceSha256"],
    ["configure-pure-ftpd", { PassivePorts: "30000:30099 -o x" }, "PassivePorts"],
    ["configure-pure-ftpd", { PassivePorts: "99999:100000" }, "PassivePorts"],
    ["configure-pure-ftpd", { PublicAddress: "10.0.0.300" }, "PublicAddress"],
    ["configure-pure-ftpd", { TlsMode: "on" }, "TlsMode"],
    ["configure-pure-ftpd", { MaxClients: "50 --anonymousonly" }, "MaxClients"],
    ["configure-pure-ftpd", { MaxClientsPerIp: "0" }, "MaxClientsPerIp"],
    ["configure-pure-ftpd", { PassivePorts: "30000:30000" }, "PassivePorts"],
    ["configure-pure-ftpd", { MaxClients: "5", MaxClientsPerIp: "6" }, "MaxClientsPerIp"],
    ["build-daemons", { ArtifactKeyParameter: "/key;touch /tmp/ftpfleet-pwned" }, "ArtifactKeyParameter"],
    ["apply-users", { UsersManifestKey: ".ftpfleet/../../etc/passwd.json" }, "UsersManifestKey"],
    ["apply-users", { UsersManifestKey: "users.json" }, "UsersManifestKey"],
    ["drain", { TimeoutSeconds: "10; reboot" }, "TimeoutSeconds"],
    ["audit-probe", { RequestKey: ".ftpfleet/audit/runs/r1/check/../../../users.json" }, "RequestKey"],
    ["audit-probe", { RequestKey: "inbox/request.json" }, "RequestKey"],
    [
      "fetch-certificate",
      { TlsCertificateParameter: "/tls;touch /tmp/ftpfleet-pwned" },
      "TlsCertificateParameter",
    ],
    ["configure-health", { HealthPort: "80" }, "HealthPort"],
    ["configure-health", { HealthPort: "8021;reboot" }, "HealthPort"],
  ];
  const valid: Record<DataPlaneScript, () => Record<string, string>> = {
    "install-packages": () => ({ PureFtpdSource: "build", S3fsSource: "build" }),
    // Both built, already installed (exit 0 with nothing to do): only the bad value can make it 2.
    "build-daemons": () => world.buildParameters(),
    "mount-bucket": () => world.mountParameters(),
    "configure-pure-ftpd": () => ({
      PassivePorts: "30000:30019",
      PublicAddress: instance.address,
      TlsMode: "off",
    }),
    "apply-users": () => ({ UsersManifestKey: ".ftpfleet/users.json" }),
    drain: () => ({ TimeoutSeconds: "1" }),
    "audit-probe": () => ({ RequestKey: ".ftpfleet/audit/runs/r1/check/request.json" }),
    // Its only input is the environment's FTPFLEET_ROOT; invalid there is checked by every script.
    "unmount-bucket": () => ({}),
    "fetch-certificate": () => ({ TlsCertificateParameter: "" }),
    "configure-health": () => ({ HealthPort: "8021" }),
  };

  it.each(injections)("%s refuses %j with exit 2, naming %s, changing nothing", async (script, bad, name) => {
    const before = await snapshot(instance.root);
    const result = await instance.runScript(script, { ...valid[script](), ...bad });
    expect(result.code, result.stdout).toBe(2);
    expect(result.stderr).toContain(`invalid parameter ${name}`);
    expect(existsSync("/tmp/ftpfleet-pwned")).toBe(false);
    expect(await snapshot(instance.root)).toBe(before);
  });

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

  describe("the manifest rules (test/fixtures/manifest-cases.json) on a real instance", () => {
    let judge: SandboxInstance;
    const key = ".ftpfleet/case.json";

    beforeAll(async () => {
      judge = await world.addInstance();
      await judge.provision();
    }, 60_000);

    // The same table test/users.test.ts runs against the TypeScript schema.
    it.each(manifestCases)("$case", async ({ manifest, field, names }) => {
      const judgeHomes = join(judge.root, "srv/ftpfleet/home");
      await putObject(s3, world, key, JSON.stringify(manifest));
      const before = await snapshot(judge.root);
      const mounts = mountsUnder(judgeHomes);
      const result = await judge.runScript("apply-users", { UsersManifestKey: key });
      if (field === undefined) {
        expect(result.code, result.stderr).toBe(0);
        const passwd = await readFile(join(judge.root, "etc/ftpfleet/pure-ftpd/pureftpd.passwd"), "utf8");
        const applied = passwd.split("\n").filter(Boolean);
        expect(applied.map((line) => line.split(":")[0]).sort()).toEqual([...names].sort());
        const revision = (manifest as { revision?: number }).revision ?? 0;
        expect(result.stdout).toMatch(new RegExp(`, revision ${revision}\n$`));
        return;
      }
      expect(result.code, result.stdout + result.stderr).toBe(2);
      expect(result.stderr.startsWith(`invalid manifest ${key}: ${field}: `), result.stderr).toBe(true);
      expect(await snapshot(judge.root)).toBe(before);
      expect(mountsUnder(judgeHomes)).toEqual(mounts);
    });
  });

  describe("users and the bind layout against bucket writers and local accounts", () => {
    let host: SandboxInstance;
    const key = ".ftpfleet/hardening.json";
    const alice = {
      name: "alice",
      password: "a-pass",
      grants: [{ path: "projects/alpha", access: "ro" as const }],
    };
    const apply = (env: Record<string, string> = {}) =>
      host.runScript("apply-users", { UsersManifestKey: key }, env);
    const home = (user: string) => join(host.root, "srv/ftpfleet/home", user);
    /** Runs a command as another local account (uid and gid `id`), without root's groups. */
    const as = (id: string, command: string[]) =>
      runCommand("setpriv", [`--reuid=${id}`, `--regid=${id}`, "--clear-groups", ...command]);
    /** The uid (= gid) pure-ftpd's sessions run as. */
    const ftpAccount = async () =>
      (await readFile(join(host.root, "etc/ftpfleet/account"), "utf8")).trim().split(" ")[1] ?? "";
    // s3fs shows an object whose mode metadata says S_IFLNK as a symbolic link to its body.
    const link = { mode: String(0o120777) };
    /** What an FTP download writes, collected. */
    const sink = (chunks: Buffer[]) =>
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk);
          done();
        },
      });

    beforeAll(async () => {
      await putManifest(s3, world, [alice], { key });
      host = await world.addInstance();
      await host.provision({ usersManifestKey: key });
    }, 60_000);

    it("refuses a grant reached through a link object, at the grant or above it, and applies the rest: nothing of the host or of .ftpfleet shows", async () => {
      const hostDir = join(scratch, "host-dir");
      mkdirSync(hostDir, { recursive: true });
      writeScratch(hostDir, "host-secret.txt", "of the host\n");
      await putObject(s3, world, ".ftpfleet/private/secret.txt", "of the fleet\n");
      await putObject(s3, world, "at-etc", "/etc", link);
      await putObject(s3, world, "at-fleet", ".ftpfleet", link);
      await putObject(s3, world, "up-host", hostDir, link);
      await putObject(s3, world, "up-fleet", ".ftpfleet", link);
      const eve = {
        name: "eve",
        password: "e-pass",
        grants: [
          { path: "at-etc", access: "ro" as const },
          { path: "at-fleet", access: "ro" as const },
          { path: "up-host/alpha", access: "rw" as const },
          { path: "up-fleet/private", access: "ro" as const },
          { path: "projects/alpha", access: "ro" as const },
        ],
      };
      await putManifest(s3, world, [alice, eve], { key });
      const result = await apply();
      expect(result.code, result.stderr).toBe(0);
      // Everything eve's home shows, mounts followed: her one real grant.
      const shown = (await runChecked("find", [home("eve"), "-mindepth", "1", "-printf", "%P\\n"]))
        .split("\n")
        .filter(Boolean);
      expect(shown).toContain("projects/alpha/readme.txt");
      expect(shown.filter((path) => !path.startsWith("projects"))).toEqual([]);
      expect(shown.filter((path) => /passwd|users\.json|secret/.test(path))).toEqual([]);
      expect(mountsUnder(home("eve")).map((entry) => [entry.target, entry.fsType])).toEqual([
        [join(home("eve"), "projects/alpha"), "fuse.s3fs"],
      ]);
      expect(readdirSync(hostDir)).toEqual(["host-secret.txt"]);
      expect(mountsUnder(home("alice")).map((entry) => entry.target)).toEqual([
        join(home("alice"), "projects/alpha"),
      ]);
      const session = await ftpLogin(host.address, "eve", "e-pass");
      try {
        const names = (await session.list())
          .map((entry) => entry.name)
          .filter((name) => !/^\.\.?$/.test(name));
        expect(names).toEqual(["projects"]);
      } finally {
        session.close();
      }
      for (const [path, linked] of [
        ["at-etc", "at-etc"],
        ["at-fleet", "at-fleet"],
        ["up-host/alpha", "up-host"],
        ["up-fleet/private", "up-fleet"],
      ]) {
        expect(result.stderr).toContain(
          `refused grant ${path} of user eve: ${linked} is a link in the bucket`,
        );
      }
      // Underneath: the kernel follows no link of the bucket mount, not even for root.
      const through = await runCommand("ls", [join(host.bucketMount, "at-etc/")]);
      expect(through.code).not.toBe(0);
      expect(through.stdout).not.toContain("passwd");
    });

    it("a password change ends that user's open sessions, and no one else's", async () => {
      const aliceHash = await sha512Crypt("a-pass");
      const users = async (bobPassword: string) => [
        { name: "alice", passwordHash: aliceHash, grants: alice.grants },
        { name: "bob", passwordHash: await sha512Crypt(bobPassword), grants: alice.grants },
      ];
      await putManifest(s3, world, await users("b-old"), { key });
      expect((await apply()).code).toBe(0);
      const aliceSession = await ftpLogin(host.address, "alice", "a-pass");
      const bobSession = await ftpLogin(host.address, "bob", "b-old");
      try {
        await putManifest(s3, world, await users("b-new"), { key });
        const result = await apply();
        expect(result.code, result.stderr).toBe(0);
        await until(
          systemClock,
          () =>
            bobSession.send("NOOP").then(
              () => false,
              () => true,
            ),
          {
            what: "bob's session with the old password to end",
            limitMs: 5_000,
          },
        );
        expect((await aliceSession.send("NOOP")).code).toBe(200);
        await expect(probeLogin(host.address, "bob", "b-old")).rejects.toThrow(/login refused/);
        expect(await probeLogin(host.address, "bob", "b-new")).toBeGreaterThan(0);
      } finally {
        aliceSession.close();
        bobSession.close();
      }
    });

    it("a read-only grant is never writable in the home, not even while mount(8) is slow", async () => {
      await putObject(s3, world, "gamma/file.txt", "gamma\n");
      const target = join(home("alice"), "gamma");
      // mount(8) lingering after each call: a moment between a bind mount and its read-only
      // remount would last 300 ms, long enough to be seen.
      const real = (await runChecked("bash", ["-c", "command -v mount"])).trim();
      const bin = join(scratch, "slow-mount");
      mkdirSync(bin, { recursive: true });
      writeScratch(bin, "mount", `#!/bin/sh\n"${real}" "$@"\nrc=$?\nsleep 0.3\nexit $rc\n`);
      await runChecked("chmod", ["0755", join(bin, "mount")]);
      const grants = [...alice.grants, { path: "gamma", access: "ro" as const }];
      await putManifest(s3, world, [{ ...alice, grants }], { key });
      const seen = new Set<string>();
      const watch = setInterval(() => {
        for (const access of mountAccess(target)) seen.add(access);
      }, 5);
      const result = await apply({
        PATH: `${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
      }).finally(() => clearInterval(watch));
      expect(result.code, result.stderr).toBe(0);
      expect([...seen]).toEqual(["ro"]);
      const write = await as(await ftpAccount(), ["touch", join(target, "nope.txt")]);
      expect(write.code).not.toBe(0);
      expect(await getObject(s3, world, "gamma/nope.txt")).toBeUndefined();
    });

    it("only root and the FTP account read the bucket through the mount (users.json holds every hash); FTP users still read and write", async () => {
      await putManifest(
        s3,
        world,
        [{ ...alice, grants: [...alice.grants, { path: "inbox/alice", access: "rw" }] }],
        { key },
      );
      expect((await apply()).code).toBe(0);
      const manifest = join(host.bucketMount, key);
      const nobody = await as("65534", ["cat", manifest]);
      expect(nobody.code).not.toBe(0);
      expect(nobody.stdout).not.toContain("$6$");
      expect((await as("65534", ["ls", host.bucketMount])).code).not.toBe(0);
      expect((await as("65534", ["ls", join(home("alice"), "projects/alpha")])).code).not.toBe(0);
      // pure-ftpd's sessions run as the FTP account: it must read everything.
      expect((await as(await ftpAccount(), ["cat", manifest])).stdout).toContain("$6$");

      const session = await ftpLogin(host.address, "alice", "a-pass");
      try {
        const chunks: Buffer[] = [];
        await session.downloadTo(sink(chunks), "projects/alpha/readme.txt");
        expect(Buffer.concat(chunks).toString()).toBe("alpha\n");
        await session.uploadFrom(Readable.from(["uploaded\n"]), "inbox/alice/up.txt");
      } finally {
        session.close();
      }
      expect(await getObject(s3, world, "inbox/alice/up.txt")).toBe("uploaded\n");
    });

    it("not even the opt-in symlink layout (pure-ftpd-virtualchroot) follows a link object out of the bucket", async () => {
      await putObject(s3, world, "inbox/alice/passwd-abs", "/etc/passwd", link);
      await putObject(s3, world, "inbox/alice/passwd-rel", "../../../../../../../../../../etc/passwd", link);
      await putManifest(s3, world, [{ ...alice, grants: [{ path: "inbox/alice", access: "rw" }] }], {
        key,
        layout: "symlink",
      });
      try {
        expect((await apply()).code).toBe(0);
        await host.restartFtpd();
        for (const name of ["passwd-abs", "passwd-rel"]) {
          const session = await ftpLogin(host.address, "alice", "a-pass");
          const chunks: Buffer[] = [];
          try {
            await expect(session.downloadTo(sink(chunks), `inbox/alice/${name}`)).rejects.toThrow(/550/);
          } finally {
            session.close();
          }
          expect(Buffer.concat(chunks).toString()).not.toContain("root:");
        }
      } finally {
        await putManifest(s3, world, [alice], { key });
        expect((await apply()).code).toBe(0);
        await host.restartFtpd();
      }
    });

    it("apply-users completes where no FTP session ever started (no scoreboard) as a user's access shrinks", async () => {
      const fresh = await world.addInstance();
      try {
        // The real pure-ftpwho, run where its scoreboard directory does not exist yet.
        // Where the scripts' find_program looks, below the instance's own usr/local.
        const real = ["/usr/sbin/pure-ftpwho", "/usr/bin/pure-ftpwho"].find((path) => existsSync(path));
        const sbin = join(fresh.root, "usr/local/sbin");
        mkdirSync(sbin, { recursive: true });
        const who = writeScratch(
          sbin,
          "pure-ftpwho",
          `#!/bin/sh\nexec unshare --mount sh -c 'mount -t tmpfs none /run && exec "$0" "$@"' "${real}" "$@"\n`,
        );
        await runChecked("chmod", ["0755", who]);
        expect((await runCommand(who, ["-s", "-n"])).code).not.toBe(0);

        const freshKey = ".ftpfleet/fresh.json";
        const inbox = (access: "ro" | "rw") => [
          { name: "alice", password: "a-pass", grants: [{ path: "inbox/alice", access }] },
        ];
        await putManifest(s3, world, inbox("rw"), { key: freshKey });
        await fresh.provision({ usersManifestKey: freshKey });
        const target = join(fresh.root, "srv/ftpfleet/home/alice/inbox/alice");
        expect(mountAccess(target)).toEqual(["rw"]);

        await putManifest(s3, world, inbox("ro"), { key: freshKey });
        const result = await fresh.runScript("apply-users", { UsersManifestKey: freshKey });
        expect(result.code, result.stderr).toBe(0);
        expect(mountAccess(target)).toEqual(["ro"]);
      } finally {
        expect(await fresh.stop()).toEqual([]);
      }
    });

    it("the bundled apply-users step (rules inlined, nothing sourced) judges and applies as the script does", async () => {
      const step = bundleDocument("apply-users").mainSteps[0]?.inputs.runCommand[0] ?? "";
      const alone = scratchDir();
      try {
        const path = writeScratch(alone, "apply-users.sh", step);
        const hash = await sha512Crypt("x");
        await putObject(
          s3,
          world,
          ".ftpfleet/bundled.json",
          JSON.stringify({ version: 1, users: [{ name: "bob\n", passwordHash: hash, grants: [] }] }),
        );
        const bad = await host.runScriptFile(path, { UsersManifestKey: ".ftpfleet/bundled.json" });
        expect(bad.code, bad.stderr).toBe(2);
        expect(bad.stderr).toContain(
          "invalid manifest .ftpfleet/bundled.json: users[0].name: control or non-ASCII",
        );
        await putManifest(s3, world, [alice], { key });
        const good = await host.runScriptFile(path, { UsersManifestKey: key });
        expect(good.code, good.stderr).toBe(0);
        expect(good.stdout).toContain("applied .ftpfleet/hardening.json: 1 user(s)");
      } finally {
        await rm(alone, { recursive: true, force: true });
      }
    });
  });

  describe("open FTP sessions across apply-users, and the applied report", () => {
    let live: SandboxInstance;
    const key = ".ftpfleet/live.json";
    const instanceId = "i-0123456789abcdef0";
    const reportKey = `.ftpfleet/applied/${instanceId}.json`;
    const drop = { path: "drop/carol", access: "rw" } as const;
    const base = { path: "projects/alpha", access: "ro" } as const;
    // Fixed hashes: a new hash is a new password, which ends the user's sessions by design.
    let carolHash = "";
    let daveHash = "";
    let revision = 0;
    /** Writes the manifest with the next revision and applies it on `live`. */
    const publish = async (users: { name: string; grants: Grant[]; disabled?: boolean }[]) => {
      revision += 1;
      await putManifest(
        s3,
        world,
        users.map((user) => ({ ...user, passwordHash: user.name === "carol" ? carolHash : daveHash })),
        { key, revision },
      );
    };
    const apply = (env: Record<string, string> = {}) =>
      live.runScript("apply-users", { UsersManifestKey: key }, env);
    const applied = async (users: { name: string; grants: Grant[]; disabled?: boolean }[]) => {
      await publish(users);
      const result = await apply();
      expect(result.code, result.stderr).toBe(0);
      return result;
    };
    const carolIn = (session: FtpSession, path: string) =>
      session.uploadFrom(Readable.from([`${path}\n`]), path);
    const login = (user: string) => ftpLogin(live.address, user, `${user}-pass`);
    const ended = (session: FtpSession, what: string) =>
      until(
        systemClock,
        () =>
          session.send("NOOP").then(
            () => false,
            () => true,
          ),
        { what, limitMs: 5_000 },
      );
    const home = (user: string) => join(live.root, "srv/ftpfleet/home", user);

    beforeAll(async () => {
      [carolHash, daveHash] = await Promise.all([sha512Crypt("carol-pass"), sha512Crypt("dave-pass")]);
      await publish([{ name: "carol", grants: [base] }]);
      live = await world.addInstance({ instanceId });
      await live.provision({ usersManifestKey: key });
    }, 60_000);

    it("a grant shows in an open session and its revocation hides it there, the session staying connected", async () => {
      await applied([{ name: "carol", grants: [base] }]);
      const session = await login("carol");
      try {
        await expect(carolIn(session, "drop/carol/before.txt")).rejects.toThrow(/55[03]/);

        const granted = await applied([{ name: "carol", grants: [base, drop] }]);
        expect(granted.stdout).toContain("1 new mount(s)");
        await carolIn(session, "drop/carol/granted.txt");
        expect(await getObject(s3, world, "drop/carol/granted.txt")).toBe("drop/carol/granted.txt\n");

        const revoked = await applied([{ name: "carol", grants: [base] }]);
        expect(revoked.stdout).toContain(`unmounted ${join(home("carol"), "drop/carol")}`);
        expect(mountsUnder(home("carol")).map((entry) => entry.target)).toEqual([
          join(home("carol"), "projects/alpha"),
        ]);
        await expect(carolIn(session, "drop/carol/revoked.txt")).rejects.toThrow(/55[03]/);
        expect(await getObject(s3, world, "drop/carol/revoked.txt")).toBeUndefined();
        // Still connected, and still served.
        expect((await session.send("NOOP")).code).toBe(200);
        expect(await session.pwd()).toBe("/");
        const names = (await session.list()).map((entry) => entry.name);
        expect(names).toContain("projects");
        expect(names).not.toContain("drop");
      } finally {
        session.close();
      }
    });

    it("a ro grant made rw, and back, keeps a session that is not inside it, which sees each change", async () => {
      await applied([{ name: "carol", grants: [base, { ...drop, access: "ro" }] }]);
      const session = await login("carol");
      try {
        await expect(carolIn(session, "drop/carol/ro.txt")).rejects.toThrow(/55[03]/);
        await applied([{ name: "carol", grants: [base, drop] }]);
        await carolIn(session, "drop/carol/rw.txt");
        expect(mountAccess(join(home("carol"), "drop/carol"))).toEqual(["rw"]);
        await applied([{ name: "carol", grants: [base, { ...drop, access: "ro" }] }]);
        expect(mountAccess(join(home("carol"), "drop/carol"))).toEqual(["ro"]);
        await expect(carolIn(session, "drop/carol/ro-again.txt")).rejects.toThrow(/55[03]/);
        expect((await session.send("NOOP")).code).toBe(200);
      } finally {
        session.close();
      }
      expect(await getObject(s3, world, "drop/carol/rw.txt")).toBe("drop/carol/rw.txt\n");
      expect(await getObject(s3, world, "drop/carol/ro-again.txt")).toBeUndefined();
    });

    it("a session working inside a revoked folder is ended, with its user's other sessions; another user's is not", async () => {
      await applied([
        { name: "carol", grants: [base, drop] },
        { name: "dave", grants: [drop] },
      ]);
      const inside = await login("carol");
      const elsewhere = await login("carol");
      const dave = await login("dave");
      try {
        await inside.cd("drop/carol");
        await dave.cd("drop/carol");
        await applied([
          { name: "carol", grants: [base] },
          { name: "dave", grants: [drop] },
        ]);
        await ended(inside, "carol's session inside the revoked folder to end");
        await ended(elsewhere, "carol's other session to end");
        expect((await dave.send("NOOP")).code).toBe(200);
        await dave.uploadFrom(Readable.from(["dave\n"]), "dave.txt");
        expect(await getObject(s3, world, "drop/carol/dave.txt")).toBe("dave\n");
        // Nothing detached is left behind for anyone: the folder is gone from carol's home.
        expect(mountsUnder(join(home("carol"), "drop"))).toEqual([]);
        expect(await exists(join(home("carol"), "drop/carol"))).toBe(false);
        const again = await login("carol");
        try {
          expect((await again.list()).map((entry) => entry.name)).not.toContain("drop");
        } finally {
          again.close();
        }
      } finally {
        inside.close();
        elsewhere.close();
        dave.close();
      }
    });

    it("disabling a user ends their sessions and refuses their logins, keeping them in the manifest; enabling restores them", async () => {
      await applied([
        { name: "carol", grants: [base, drop] },
        { name: "dave", grants: [drop] },
      ]);
      const carol = await login("carol");
      const dave = await login("dave");
      try {
        const disabled = await applied([
          { name: "carol", grants: [base, drop], disabled: true },
          { name: "dave", grants: [drop] },
        ]);
        expect(disabled.stdout).toContain("disabled user carol");
        expect(disabled.stdout).toMatch(/applied \S+: 1 user\(s\) \(1 disabled\)/);
        await ended(carol, "disabled carol's session to end");
        expect((await dave.send("NOOP")).code).toBe(200);
        await expect(probeLogin(live.address, "carol", "carol-pass")).rejects.toThrow(/login refused/);
        expect(await readFile(join(live.root, "etc/ftpfleet/pure-ftpd/pureftpd.passwd"), "utf8")).not.toMatch(
          /^carol:/m,
        );
        expect(existsSync(home("carol"))).toBe(false);
        expect(mountsUnder(home("carol"))).toEqual([]);

        const enabled = await applied([
          { name: "carol", grants: [base, drop], disabled: false },
          { name: "dave", grants: [drop] },
        ]);
        expect(enabled.stdout).toContain("2 new mount(s)");
        const back = await login("carol");
        try {
          await back.uploadFrom(Readable.from(["back\n"]), "drop/carol/back.txt");
        } finally {
          back.close();
        }
        expect(await getObject(s3, world, "drop/carol/back.txt")).toBe("back\n");
      } finally {
        carol.close();
        dave.close();
      }
    });

    it("reports the revision it applied in .ftpfleet/applied/<AWS_SSM_INSTANCE_ID>.json; without the variable, no report", async () => {
      // s3fs shows an object whose mode metadata says S_IFLNK as a symbolic link to its body.
      await putObject(s3, world, "live-link", "/etc", { mode: String(0o120777) });
      const before = Date.now() - 1_000;
      const result = await applied([
        { name: "carol", grants: [base, { path: "live-link/x", access: "ro" }] },
        { name: "dave", grants: [drop], disabled: true },
      ]);
      expect(result.stdout).toContain(`reported revision ${revision} in ${reportKey}`);
      expect(result.stdout).toMatch(new RegExp(`, revision ${revision}\\n$`));
      const text = (await getObject(s3, world, reportKey)) ?? "";
      const report = JSON.parse(text) as Record<string, unknown>;
      expect(Object.keys(report)).toEqual([
        "instanceId",
        "revision",
        "manifestKey",
        "appliedAt",
        "users",
        "refused",
      ]);
      expect(report).toEqual({
        instanceId,
        revision,
        manifestKey: key,
        appliedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
        users: ["carol"],
        refused: [{ user: "carol", path: "live-link/x", reason: "live-link is a link in the bucket" }],
      });
      const at = Date.parse(String(report.appliedAt));
      expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1_000) * 1_000);
      expect(at).toBeLessThanOrEqual(Date.now());

      // The first instance has no agent id: it applies, and reports nothing.
      const plain = await instance.runScript("apply-users", {});
      expect(plain.code, plain.stderr).toBe(0);
      expect(plain.stdout).not.toContain("reported");
      const listed = await s3.send(
        new ListObjectsV2Command({ Bucket: world.bucket, Prefix: ".ftpfleet/applied/" }),
      );
      // s3fs's folder marker aside.
      const reports = (listed.Contents ?? []).map((object) => object.Key).filter((k) => !k?.endsWith("/"));
      expect(reports).toEqual([reportKey]);
    });

    it.each([
      ["empty", ""],
      ["too short", "i-0123456"],
      ["in upper case", "i-0123456789ABCDEF0"],
      ["an mi- id too short", "mi-0123456789abcdef"],
      ["with a trailing newline", `${instanceId}\n`],
      ["with a path", "i-0123456789abcdef0/../../users"],
      ["with shell metacharacters", "i-01234567; touch /tmp/ftpfleet-pwned"],
    ])("refuses an AWS_SSM_INSTANCE_ID %s with exit 2, changing nothing", async (_, bad) => {
      await publish([{ name: "carol", grants: [] }]);
      const report = await getObject(s3, world, reportKey);
      const snap = await snapshot(live.root);
      const mounts = mountsUnder(home("carol"));
      const result = await apply({ AWS_SSM_INSTANCE_ID: bad });
      expect(result.code, result.stdout + result.stderr).toBe(2);
      expect(result.stderr).toContain("invalid parameter AWS_SSM_INSTANCE_ID: expected i-");
      expect(result.stdout).toBe("");
      expect(await snapshot(live.root)).toBe(snap);
      expect(mountsUnder(home("carol"))).toEqual(mounts);
      expect(await getObject(s3, world, reportKey)).toBe(report);
      expect(existsSync("/tmp/ftpfleet-pwned")).toBe(false);
    });

    it("accepts the ids the agent gives managed instances (mi-), and fails, saying so, when the report cannot be written", async () => {
      const managed = "mi-0123456789abcdef0";
      const ok = await apply({ AWS_SSM_INSTANCE_ID: managed });
      expect(ok.code, ok.stderr).toBe(0);
      const report = JSON.parse((await getObject(s3, world, `.ftpfleet/applied/${managed}.json`)) ?? "{}");
      expect(report).toMatchObject({ instanceId: managed, revision });
      await s3.send(
        new DeleteObjectCommand({ Bucket: world.bucket, Key: `.ftpfleet/applied/${managed}.json` }),
      );

      // A bucket writer's link object where the report goes: the mount follows no link.
      const blocked = "i-00000000deadbeef";
      const blockedKey = `.ftpfleet/applied/${blocked}.json`;
      await putObject(s3, world, blockedKey, "/etc/passwd", { mode: String(0o120777) });
      try {
        const failed = await apply({ AWS_SSM_INSTANCE_ID: blocked });
        expect(failed.code, failed.stdout).toBe(1);
        expect(failed.stderr).toContain(
          `apply-users: revision ${revision} was applied, but the report ${blockedKey} could not be written to the bucket`,
        );
      } finally {
        await s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: blockedKey }));
      }
    });
  });
});
