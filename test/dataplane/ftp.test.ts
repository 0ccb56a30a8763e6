import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { DeleteObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { systemClock, until } from "@ftpfleet/core";
import type { S3RequestRecord } from "@ftpfleet/local";
import { ftpLogin, probeLogin, runCommand, Sandbox, type SandboxInstance } from "@ftpfleet/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  dataPlaneSkip,
  type FtpLogin,
  getObject,
  lftp,
  putManifest,
  putObject,
  scratchDir,
  writeScratch,
} from "./helpers";

const skip = dataPlaneSkip("ftp.test.ts");

type Client = Awaited<ReturnType<typeof ftpLogin>>;

describe.skipIf(skip)("FTP through s3fs on a provisioned local instance", () => {
  let world: Sandbox;
  let instance: SandboxInstance;
  let s3: S3Client;
  let alice: FtpLogin;
  const scratch = scratchDir();
  const requests: S3RequestRecord[] = [];

  beforeAll(async () => {
    world = await Sandbox.create({ onS3Request: (request) => requests.push(request) });
    s3 = world.s3Client();
    // Written straight to S3, as operators do: no folder markers, folders two levels deep.
    await putObject(s3, world, "projects/alpha/readme.txt", "hello from alpha\n");
    await putManifest(s3, world, [
      {
        name: "alice",
        password: "alice-secret",
        grants: [
          { path: "projects/alpha", access: "ro" },
          { path: "inbox/alice", access: "rw" },
        ],
      },
    ]);
    // The sandbox gives each instance a self-signed PEM, as an operator's would be at
    // /etc/ftpfleet/tls/pure-ftpd.pem; the provision document's defaults apply (FTPS required).
    // The document's defaults: s3fs and pure-ftpd built from the vendored sources (compiled here).
    instance = await world.addInstance();
    await instance.provision();
    alice = { host: instance.address, user: "alice", password: "alice-secret", tls: true };
  }, 240_000);

  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
    await world?.stop();
  }, 60_000);

  it("logs in with a SHA-512 crypt hash in well under a second, and refuses a wrong password", async () => {
    const ms = await probeLogin(instance.address, "alice", "alice-secret");
    expect(ms).toBeLessThan(1_000);
    await expect(probeLogin(instance.address, "alice", "wrong")).rejects.toThrow(/login refused/);
  });

  it("lists the granted folders as ordinary folders, and a folder stored without markers", async () => {
    const top = await lftp(alice, ["cls -1"]);
    expect(top.code, top.stderr).toBe(0);
    expect(top.stdout.split("\n").filter(Boolean).sort()).toEqual(["inbox/", "projects/"]);
    const alpha = await lftp(alice, ["cls -1 projects/alpha"]);
    expect(alpha.stdout).toContain("readme.txt");
  });

  it("downloads from a read-only grant and refuses uploads there", async () => {
    const local = join(scratch, "readme.txt");
    const got = await lftp(alice, [`get projects/alpha/readme.txt -o ${local}`]);
    expect(got.code, got.stderr).toBe(0);
    expect(await readFile(local, "utf8")).toBe("hello from alpha\n");

    const file = writeScratch(scratch, "nope.txt", "should not land\n");
    const put = await lftp(alice, [`put ${file} -o projects/alpha/nope.txt`]);
    expect(put.code).not.toBe(0);
    expect(await getObject(s3, world, "projects/alpha/nope.txt")).toBeUndefined();
  });

  it("uploads to a read-write grant straight into S3", async () => {
    const file = writeScratch(scratch, "upload.txt", "uploaded over FTP\n");
    const put = await lftp(alice, [`put ${file} -o inbox/alice/upload.txt`]);
    expect(put.code, put.stderr).toBe(0);
    expect(await getObject(s3, world, "inbox/alice/upload.txt")).toBe("uploaded over FTP\n");
  });

  /** What the local S3 server received while `action` ran (the DELE's reply comes after s3fs's
   * requests: all of them are in). */
  const requestsDuring = async (action: () => Promise<unknown>): Promise<S3RequestRecord[]> => {
    requests.length = 0;
    await action();
    return [...requests];
  };
  const big = new Uint8Array(64 * 1024 * 1024).fill(7);

  it("an FTP DELE of a large file is exactly one S3 DeleteObject, no copy, no PUT (pure-ftpd built without quotas)", async () => {
    await putObject(s3, world, "inbox/alice/big-direct.bin", big);
    await putObject(s3, world, "inbox/alice/big-ftp.bin", big);
    const direct = performance.now();
    await s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: "inbox/alice/big-direct.bin" }));
    const s3Ms = performance.now() - direct;

    const daemon = (await readFile(join(instance.root, "etc/ftpfleet/pure-ftpd/args"), "utf8")).split(
      "\n",
    )[0];
    expect(daemon).toBe(join(instance.root, "usr/local/sbin/pure-ftpd"));
    const session = await ftpLogin(instance.address, "alice", "alice-secret");
    let ftpMs = 0;
    try {
      const seen = await requestsDuring(async () => {
        const started = performance.now();
        expect((await session.send("DELE inbox/alice/big-ftp.bin")).code).toBe(250);
        ftpMs = performance.now() - started;
      });
      const target = `/${world.bucket}/inbox/alice/big-ftp.bin`;
      console.info(
        `delete 64 MB (built pure-ftpd): FTP DELE ${ftpMs.toFixed(0)} ms, S3 DeleteObject ${s3Ms.toFixed(0)} ms;` +
          ` requests: ${seen.map((r) => `${r.method} ${r.path}`).join(", ")}`,
      );
      expect(seen.filter((r) => r.method === "DELETE").map((r) => r.path)).toEqual([target]);
      expect(seen.filter((r) => r.copySource !== undefined)).toEqual([]);
      expect(seen.filter((r) => r.method === "PUT" || r.method === "POST")).toEqual([]);
    } finally {
      session.close();
    }
    expect(await getObject(s3, world, "inbox/alice/big-ftp.bin")).toBeUndefined();
    expect(ftpMs).toBeLessThan(Math.max(20 * s3Ms, 2_000));
  });

  it("the distribution's pure-ftpd (built with quotas) copies the whole file before deleting it", async () => {
    const distro = await world.addInstance();
    try {
      await distro.provision({ pureFtpdSource: "distro" });
      const daemon = (await readFile(join(distro.root, "etc/ftpfleet/pure-ftpd/args"), "utf8")).split(
        "\n",
      )[0];
      expect(daemon).toMatch(/^\/usr\/sbin\/pure-ftpd$/);
      const help = await runCommand(daemon ?? "pure-ftpd", ["--help"]);
      expect(help.stdout).toContain("--quota");
      await putObject(s3, world, "inbox/alice/big-distro.bin", big);
      const session = await ftpLogin(distro.address, "alice", "alice-secret");
      try {
        const seen = await requestsDuring(async () => {
          expect((await session.send("DELE inbox/alice/big-distro.bin")).code).toBe(250);
        });
        // The rename to a hidden .pureftpd-rename.* name: a server-side copy of every byte.
        const copies = seen.filter((r) => r.copySource?.endsWith("/inbox/alice/big-distro.bin"));
        expect(copies.length).toBeGreaterThan(0);
        expect(copies.every((r) => r.path.includes("/inbox/alice/.pureftpd-rename."))).toBe(true);
      } finally {
        session.close();
      }
      expect(await getObject(s3, world, "inbox/alice/big-distro.bin")).toBeUndefined();
    } finally {
      expect(await distro.stop()).toEqual([]);
    }
  });

  /** The requests for one key, by kind (a listing of the bucket is not about the key). */
  const costOf = (seen: S3RequestRecord[], key: string) => {
    const path = `/${world.bucket}/${key}`;
    const kinds = { head: 0, get: 0, put: 0, multipart: 0, copy: 0, delete: 0 };
    for (const r of seen) {
      if (r.copySource?.replace(/^\//, "").split("?")[0] === `${world.bucket}/${key}` && r.path !== path) {
        kinds.copy += 1; // copied away (a rename's source)
        continue;
      }
      if (r.path !== path) continue;
      if (r.copySource !== undefined) kinds.copy += 1;
      else if (r.query.includes("uploads") || r.query.includes("uploadId")) kinds.multipart += 1;
      else if (r.method === "HEAD") kinds.head += 1;
      else if (r.method === "GET") kinds.get += 1;
      else if (r.method === "PUT") kinds.put += 1;
      else if (r.method === "DELETE") kinds.delete += 1;
    }
    return kinds;
  };

  it("costs, per FTP operation, the S3 requests docs/provisioning.md lists (rename and mtime = a copy)", async () => {
    const session = await ftpLogin(instance.address, "alice", "alice-secret");
    const body = (text: string) => Readable.from([Buffer.from(text)]);
    const costs: Record<string, ReturnType<typeof costOf>> = {};
    try {
      const stored = await requestsDuring(() =>
        session.uploadFrom(body("x".repeat(100_000)), "inbox/alice/op.bin"),
      );
      costs.STOR = costOf(stored, "inbox/alice/op.bin");
      // The new content lands as a whole object: no copy, no delete.
      expect(costs.STOR.copy + costs.STOR.delete).toBe(0);
      expect(costs.STOR.put + costs.STOR.multipart).toBeGreaterThan(0);

      const renamed = await requestsDuring(() => session.rename("inbox/alice/op.bin", "inbox/alice/op2.bin"));
      costs["RNFR+RNTO"] = { ...costOf(renamed, "inbox/alice/op2.bin") };
      costs["RNFR+RNTO"].delete += costOf(renamed, "inbox/alice/op.bin").delete;
      // S3 has no rename: a server-side copy of every byte, then a delete.
      expect(costs["RNFR+RNTO"].copy).toBeGreaterThanOrEqual(1);
      expect(costs["RNFR+RNTO"].delete).toBe(1);
      expect(await getObject(s3, world, "inbox/alice/op2.bin")).toBe("x".repeat(100_000));

      const touched = await requestsDuring(async () => {
        expect((await session.send("MFMT 20250102030405 inbox/alice/op2.bin")).code).toBe(213);
      });
      costs.MFMT = costOf(touched, "inbox/alice/op2.bin");
      // A new modification time is new metadata: s3fs copies the object onto itself.
      expect(costs.MFMT.copy).toBe(1);

      const appended = await requestsDuring(() => session.appendFrom(body("tail"), "inbox/alice/op2.bin"));
      costs.APPE = costOf(appended, "inbox/alice/op2.bin");
      // Resuming or appending rewrites the object whole: S3 objects cannot grow in place.
      expect(costs.APPE.put + costs.APPE.multipart + costs.APPE.copy).toBeGreaterThan(0);
      expect(await getObject(s3, world, "inbox/alice/op2.bin")).toBe(`${"x".repeat(100_000)}tail`);

      const deleted = await requestsDuring(async () => {
        expect((await session.send("DELE inbox/alice/op2.bin")).code).toBe(250);
      });
      costs.DELE = costOf(deleted, "inbox/alice/op2.bin");
      expect(costs.DELE).toMatchObject({ copy: 0, put: 0, multipart: 0, delete: 1 });
    } finally {
      session.close();
      console.info(
        `S3 requests per FTP operation (built daemons; the operation's key):\n${Object.entries(costs)
          .map(([op, k]) => `  ${op.padEnd(10)} ${JSON.stringify(k)}`)
          .join("\n")}`,
      );
    }
  });

  it("serves the whole new content of a file grown in S3 right after a listing (stale-cache regression)", async () => {
    await putObject(s3, world, "inbox/alice/report.txt", "v1\n");
    const listed = await lftp(alice, ["cls -l inbox/alice"]);
    expect(listed.stdout).toContain("report.txt");
    const grown = "version two, a good deal longer than the first one\n";
    await putObject(s3, world, "inbox/alice/report.txt", grown);
    const local = join(scratch, "report.txt");
    const got = await lftp(alice, [`get inbox/alice/report.txt -o ${local}`]);
    expect(got.code, got.stderr).toBe(0);
    expect(await readFile(local, "utf8")).toBe(grown);
  });

  it("cannot follow a symlink object planted in the bucket out of the chroot (bind layout)", async () => {
    // s3fs shows an object whose mode metadata says S_IFLNK (0120777) as a symlink to its body.
    const link = { mode: String(0o120777) };
    await putObject(s3, world, "inbox/alice/passwd-abs", "/etc/passwd", link);
    await putObject(s3, world, "inbox/alice/passwd-rel", "../../../../../../../../../../etc/passwd", link);
    const hostPasswd = await readFile("/etc/passwd", "utf8");
    for (const name of ["passwd-abs", "passwd-rel"]) {
      const local = join(scratch, name);
      const got = await lftp(alice, [`get inbox/alice/${name} -o ${local}`]);
      expect(got.code).not.toBe(0);
      const content = await readFile(local, "utf8").catch(() => "");
      expect(content).not.toContain("root:x:0:0");
      expect(content).not.toBe(hostPasswd);
    }
  });

  describe("TLS by default", () => {
    it("refuses a plain-FTP login and serves the same login over FTPS", async () => {
      const plainLogin = await ftpLogin(instance.address, "alice", "alice-secret", { secure: false }).then(
        (session) => {
          session.close();
          return "logged in";
        },
        (error: unknown) => String(error),
      );
      expect(plainLogin).toMatch(/cleartext sessions .* are not accepted/);
      const plain = await lftp({ ...alice, tls: false }, ["cls -1 projects/alpha"]);
      expect(plain.code).not.toBe(0);
      expect(plain.stdout).not.toContain("readme.txt");

      expect(await probeLogin(instance.address, "alice", "alice-secret")).toBeGreaterThan(0);
      const local = join(scratch, "readme-tls.txt");
      const got = await lftp(alice, [`get projects/alpha/readme.txt -o ${local}`]);
      expect(got.code, got.stderr).toBe(0);
      expect(await readFile(local, "utf8")).toBe("hello from alpha\n");
    });

    /** A TLS handshake after AUTH TLS, as `openssl s_client` makes it from the client's side. */
    const handshake = (options: string[]) =>
      runCommand("openssl", [
        ...["s_client", "-starttls", "ftp", "-connect", `${instance.address}:21`, "-brief"],
        ...options,
      ]);

    it.each([
      ["CBC with SHA-1 (ECDHE)", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"]],
      ["CBC with SHA-1 (static RSA)", ["-tls1_2", "-cipher", "AES256-SHA"]],
      ["CBC with SHA-384", ["-tls1_2", "-cipher", "ECDHE-RSA-AES256-SHA384"]],
      ["GCM without forward secrecy", ["-tls1_2", "-cipher", "AES128-GCM-SHA256"]],
      ["TLS 1.1", ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]],
    ])("refuses a client offering only %s", async (_, options) => {
      const result = await handshake(options);
      expect(result.code, result.stderr).not.toBe(0);
      expect(result.stderr).not.toContain("CONNECTION ESTABLISHED");
      expect(result.stderr).toMatch(/alert (handshake failure|protocol version)/);
    });

    it.each([
      ["TLS 1.2, AES-GCM", ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"], "TLSv1.2"],
      ["TLS 1.2, ChaCha20-Poly1305", ["-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"], "TLSv1.2"],
      ["TLS 1.3", ["-tls1_3"], "TLSv1.3"],
    ])("completes a handshake with a client offering %s", async (_, options, version) => {
      const result = await handshake(options);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain("CONNECTION ESTABLISHED");
      expect(result.stderr).toContain(`Protocol version: ${version}`);
    });

    it("configure-pure-ftpd run without TlsMode, MaxClients and MaxClientsPerIp falls back on the document's defaults", async () => {
      const args = join(instance.root, "etc/ftpfleet/pure-ftpd/args");
      const fromDocument = await readFile(args, "utf8");
      const own = await instance.runScript("configure-pure-ftpd", {
        PassivePorts: "30000:30019",
        PublicAddress: instance.address,
      });
      expect(own.code, own.stderr).toBe(0);
      expect(own.stdout).toContain("TLS required");
      expect(await readFile(args, "utf8")).toBe(fromDocument);
    });
  });

  it("refuses the connection beyond MaxClientsPerIp from one address, and takes one again once a session ends", async () => {
    const limited = await world.addInstance();
    await limited.provision({ maxClientsPerIp: 2 });
    const sessions: Client[] = [];
    try {
      // The harness's own greeting probe may still be counted for a moment after it closed.
      for (let n = 0; n < 2; n++) sessions.push(await loginWhenFree(limited.address));
      await expect(ftpLogin(limited.address, "alice", "alice-secret")).rejects.toThrow(
        /Too many connections \(2\) from this IP/,
      );
      sessions.shift()?.close();
      sessions.push(await loginWhenFree(limited.address));
    } finally {
      for (const session of sessions) session.close();
    }
  });

  it("drains: exit 0 with no session, 3 after the timeout while a session is open", async () => {
    const idle = await instance.runScript("drain", { TimeoutSeconds: "5" });
    expect(idle.code, idle.stderr).toBe(0);
    expect(idle.stdout).toContain("sessions=0");

    const session = await ftpLogin(instance.address, "alice", "alice-secret");
    try {
      const busy = await instance.runScript("drain", { TimeoutSeconds: "2" });
      expect(busy.code, busy.stderr).toBe(3);
      expect(busy.stdout).toContain("sessions=1");
      expect(busy.ms).toBeGreaterThanOrEqual(2_000);
    } finally {
      session.close();
    }
  });

  it("lists a folder of more than 10,000 objects whole (pure-ftpd's default stops at 10,000)", async () => {
    const count = 10_050;
    const keys = Array.from({ length: count }, (_, i) => `inbox/alice/many/${String(i).padStart(5, "0")}`);
    // Straight into S3, 100 at once (an empty body would make the SDK warn about its length); the
    // listing is what takes time (s3fs sends a HEAD per entry).
    for (let i = 0; i < count; i += 100) {
      await Promise.all(keys.slice(i, i + 100).map((key) => putObject(s3, world, key, "x")));
    }
    // No data flows until pure-ftpd has read the whole folder: more than the helper's 10 s timeout.
    const listed = await lftp(alice, ["set net:timeout 60", "ls inbox/alice/many"]);
    expect(listed.code, listed.stderr).toBe(0);
    const names = listed.stdout.split("\n").filter(Boolean);
    expect(names).toHaveLength(count);
    expect(names.at(-1)).toMatch(/ 10049$/);
  }, 120_000);
});

/** An FTPS login as alice, retried while the server still counts a session that just ended. */
async function loginWhenFree(host: string): Promise<Client> {
  let session: Client | undefined;
  await until(
    systemClock,
    async () => {
      session = await ftpLogin(host, "alice", "alice-secret").catch((error: unknown) => {
        if (String(error).includes("Too many connections")) return undefined;
        throw error;
      });
      return session !== undefined;
    },
    { what: `a free session on ${host}`, limitMs: 5_000, stepMs: 100 },
  );
  if (!session) throw new Error(`no session on ${host}`);
  return session;
}
