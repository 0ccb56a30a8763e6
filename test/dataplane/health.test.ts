import { readdirSync, readFileSync, statSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  processesIn,
  runChecked,
  runCommand,
  Sandbox,
  type SandboxInstance,
  scriptsDir,
  TLS_PEM_PATH,
} from "@ftpfleet/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataPlaneSkip, lftp, putManifest, scratchDir, writeScratch } from "./helpers";

const skip = dataPlaneSkip("health.test.ts");

interface Answer {
  status: number;
  body: string;
  ms: number;
}

/** GET /health (or another path) as Route53's checkers do; a status of 0: no answer within 1 s. */
function health(instance: SandboxInstance, path = "/health", method = "GET"): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (status: number, body: string) => {
      clearTimeout(timer);
      req.destroy();
      resolve({ status, body, ms: performance.now() - started });
    };
    const req = request({ host: instance.address, port: 8021, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => done(res.statusCode ?? 0, body));
    });
    const timer = setTimeout(() => done(0, "no answer within 1 s"), 1_000);
    req.on("error", (error) => done(0, error.message));
    req.end();
  });
}

/** Polls /health every 100 ms until `want` holds; every answer must come within 1 s. Returns the
 * time it took and every distinct body seen on the way. */
async function until(
  instance: SandboxInstance,
  want: (answer: Answer) => boolean,
  limitMs = 20_000,
): Promise<{ ms: number; answer: Answer; seen: string[]; slowest: number }> {
  const started = performance.now();
  const seen: string[] = [];
  let slowest = 0;
  for (;;) {
    const answer = await health(instance);
    slowest = Math.max(slowest, answer.ms);
    const line = `${answer.status} ${answer.body.trim()}`;
    if (seen.at(-1) !== line) seen.push(line);
    if (want(answer)) return { ms: performance.now() - started, answer, seen, slowest };
    if (performance.now() - started > limitMs) {
      throw new Error(`no such answer within ${limitMs} ms; seen: ${seen.join(" | ")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const healthy = (answer: Answer) => answer.status === 200 && answer.body === "healthy\n";
const unhealthy = (answer: Answer) => answer.status === 503;

async function s3fsPid(instance: SandboxInstance): Promise<number> {
  const found = (await processesIn(instance.namespace.name)).find((p) => p.program === "s3fs");
  if (found === undefined) throw new Error("no s3fs in the instance");
  return found.pid;
}

/** An expired certificate (2020-01-01 to 2020-01-02) with its key, made offline by `openssl ca`,
 * which takes any validity dates (req -x509 -days must be positive). */
async function expiredPem(dir: string): Promise<string> {
  await writeFile(join(dir, "index.txt"), "");
  await writeFile(join(dir, "serial"), "01\n");
  const config = writeScratch(
    dir,
    "ca.cnf",
    `[ca]\ndefault_ca = d\n[d]\ndatabase = ${dir}/index.txt\nnew_certs_dir = ${dir}\n` +
      `serial = ${dir}/serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n`,
  );
  const [key, csr, cert] = ["key.pem", "req.pem", "cert.pem"].map((name) => join(dir, name)) as [
    string,
    string,
    string,
  ];
  await runChecked("openssl", [
    ...["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=expired"],
    ...["-keyout", key, "-out", csr],
  ]);
  await runChecked("openssl", [
    ...["ca", "-batch", "-config", config, "-selfsign", "-keyfile", key, "-in", csr, "-notext"],
    ...["-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-out", cert],
  ]);
  return readFileSync(key, "utf8") + readFileSync(cert, "utf8");
}

describe.skipIf(skip)("the deep health check (GET /health on port 8021)", () => {
  let world: Sandbox;
  let s3: S3Client;
  // A: hung s3fs, hysteresis, an upload, the secret; B: s3fs killed; C: pure-ftpd and certificate;
  // D: the staging disk; E: a full server.
  let a: SandboxInstance;
  let b: SandboxInstance;
  let c: SandboxInstance;
  let d: SandboxInstance;
  let e: SandboxInstance;
  const scratch = scratchDir();
  const times: string[] = [];

  beforeAll(async () => {
    world = await Sandbox.create();
    s3 = world.s3Client();
    await putManifest(s3, world, [
      { name: "alice", password: "alice-secret", grants: [{ path: "inbox/alice", access: "rw" }] },
    ]);
    // The first instance compiles both daemons once; the others install what it cached.
    a = await world.addInstance();
    await a.provision();
    [b, c, d, e] = [
      await world.addInstance(),
      await world.addInstance(),
      await world.addInstance(),
      await world.addInstance(),
    ];
    await Promise.all([
      b.provision(),
      c.provision(),
      d.provision(),
      e.provision({ maxClients: 2, maxClientsPerIp: 2 }),
    ]);
  }, 300_000);

  afterAll(async () => {
    if (times.length > 0) console.info(`deep health, measured:\n  ${times.join("\n  ")}`);
    s3?.destroy();
    await rm(scratch, { recursive: true, force: true });
    await world?.stop();
  }, 120_000);

  it("starts unhealthy, answers 200 healthy after 3 passing checks, 404 for anything else", async () => {
    const started = await until(a, healthy);
    expect(started.seen.at(-1)).toBe("200 healthy");
    // Until the third pass: 503, with how far it got (or no endpoint yet).
    expect(started.seen.slice(0, -1).every((line) => !line.startsWith("200"))).toBe(true);
    expect((await health(a, "/")).status).toBe(404);
    expect((await health(a, "/health/x")).status).toBe(404);
    expect((await health(a, "/health", "POST")).status).toBe(404);
    const answer = await health(a);
    expect(answer.ms).toBeLessThan(1_000);
  });

  it("keeps the password in a file only the agent's account reads, and nowhere else", async () => {
    const secretFile = join(a.root, "etc/ftpfleet/health/secret");
    const secret = readFileSync(secretFile, "utf8").trim();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{64}$/);
    const stat = statSync(secretFile);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(stat.uid).toBe(2122);
    expect(statSync(join(secretFile, "..")).mode & 0o777).toBe(0o700);
    const agent = a.healthAgentPid;
    expect(agent).toBeDefined();
    expect(readFileSync(`/proc/${agent}/status`, "utf8")).toMatch(/^Uid:\s+2122\s/m);
    // No process's command line or environment holds it (the agent's neither).
    for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
      for (const file of ["cmdline", "environ"]) {
        let text = "";
        try {
          text = readFileSync(`/proc/${pid}/${file}`, "latin1");
        } catch {
          continue;
        }
        expect(text.includes(secret), `/proc/${pid}/${file}`).toBe(false);
      }
    }
    // A new password (the secret removed): none of the step's output shows it, and the agent, which
    // reads the file at every check, stays healthy.
    await rm(secretFile);
    const rotated = await a.runScriptFile(join(scriptsDir, "configure-health.sh"), world.mountParameters());
    expect(rotated.code, rotated.stderr).toBe(0);
    const fresh = readFileSync(secretFile, "utf8").trim();
    expect(fresh).not.toBe(secret);
    expect(rotated.stdout + rotated.stderr).not.toContain(fresh);
    expect(readFileSync(join(a.root, "..", "health-agent.log"), "utf8")).not.toContain(fresh);
    const passwd = readFileSync(join(a.root, "etc/ftpfleet/pure-ftpd/health.passwd"), "utf8");
    expect(passwd).toMatch(/^ftpfleet-health:\$6\$/);
    expect(passwd).not.toContain(fresh);
    // apply-users keeps the health account in the one puredb, and its own passwd file without it.
    const applied = await a.runScript("apply-users");
    expect(applied.code, applied.stderr).toBe(0);
    expect(readFileSync(join(a.root, "etc/ftpfleet/pure-ftpd/pureftpd.passwd"), "utf8")).not.toContain(
      "ftpfleet-health",
    );
    const still = await until(a, (answer) => answer.status === 200, 10_000);
    expect(still.seen.every((line) => line.startsWith("200"))).toBe(true);
  });

  it.each([
    [{ HealthPort: "80" }, "HealthPort"],
    [{ HealthPort: "8021; touch /tmp/ftpfleet-pwned" }, "HealthPort"],
    [{ HealthPort: "30005" }, "HealthPort"],
    [{ HealthPort: "65536" }, "HealthPort"],
  ])("configure-health refuses %j with exit 2, naming %s, changing nothing", async (bad, name) => {
    const args = join(a.root, "etc/ftpfleet/health/args");
    const before = readFileSync(args, "utf8");
    const result = await a.runScriptFile(join(scriptsDir, "configure-health.sh"), {
      ...world.mountParameters(),
      ...bad,
    });
    expect(result.code, result.stdout).toBe(2);
    expect(result.stderr).toContain(`invalid parameter ${name}`);
    expect(readFileSync(args, "utf8")).toBe(before);
  });

  describe.concurrent("failures, each on an instance of its own", () => {
    it("a hung s3fs (SIGSTOP): 503 within 15 s while /health still answers within 1 s; back after 3 passes", async () => {
      await until(a, healthy);
      const pid = await s3fsPid(a);
      process.kill(pid, "SIGSTOP");
      let down: Awaited<ReturnType<typeof until>>;
      try {
        down = await until(a, unhealthy);
      } finally {
        process.kill(pid, "SIGCONT");
      }
      expect(down.ms).toBeLessThan(15_000);
      expect(down.slowest).toBeLessThan(1_000);
      // The agent's sessions stuck in the hung mount are not clients': drain does not wait for them.
      const drained = await a.runScript("drain", { TimeoutSeconds: "0" });
      expect(drained.stdout).toContain("sessions=0");
      expect(down.answer.body).toMatch(/^(LIST|RETR|login): no answer within 4 s\n$/);
      const up = await until(a, healthy);
      expect(up.seen).toContain("503 recovering: 2 of 3 checks passed");
      times.push(
        `s3fs stopped: 503 after ${(down.ms / 1000).toFixed(1)} s ("${down.answer.body.trim()}"),` +
          ` 200 again ${(up.ms / 1000).toFixed(1)} s after SIGCONT; slowest answer ${down.slowest.toFixed(0)} ms`,
      );

      // One failed check (s3fs stopped just long enough for one LIST to time out) changes nothing.
      process.kill(pid, "SIGSTOP");
      let blip: Awaited<ReturnType<typeof until>>;
      try {
        blip = await until(a, (answer) => answer.body.startsWith("healthy: 1 check failed"));
      } finally {
        process.kill(pid, "SIGCONT");
      }
      const after = await until(a, healthy);
      expect([...blip.seen, ...after.seen].every((line) => line.startsWith("200"))).toBe(true);

      // A 50 MB upload at 10 MB/s (5 s: several checks) keeps it healthy: busy is not broken.
      const file = writeScratch(scratch, "big.bin", new Uint8Array(50 * 1024 * 1024).fill(1));
      const upload = lftp({ host: a.address, user: "alice", password: "alice-secret", tls: true }, [
        "set net:limit-rate 10000000",
        `put ${file} -o inbox/alice/big.bin`,
      ]);
      const answers: Answer[] = [];
      let uploading = true;
      const watched = (async () => {
        while (uploading) {
          answers.push(await health(a));
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })();
      const put = await upload;
      uploading = false;
      await watched;
      expect(put.code, put.stderr).toBe(0);
      expect(answers.length).toBeGreaterThan(10);
      expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    }, 90_000);

    it("s3fs killed: 503 within 15 s; the audit's repair sequence brings it back", async () => {
      await until(b, healthy);
      process.kill(await s3fsPid(b), "SIGKILL");
      const down = await until(b, unhealthy);
      expect(down.ms).toBeLessThan(15_000);
      const repaired = performance.now();
      // audit-repair's steps, in its order.
      for (const script of ["unmount-bucket", "mount-bucket", "apply-users"] as const) {
        const run = await b.runScript(script, world.mountParameters());
        expect(run.code, `${script}: ${run.stderr}`).toBe(0);
      }
      const health2 = await b.runScriptFile(join(scriptsDir, "configure-health.sh"), world.mountParameters());
      expect(health2.code, health2.stderr).toBe(0);
      const up = await until(b, healthy);
      times.push(
        `s3fs killed: 503 after ${(down.ms / 1000).toFixed(1)} s ("${down.answer.body.trim()}"),` +
          ` 200 ${((performance.now() - repaired) / 1000).toFixed(1)} s after the repair started`,
      );
      expect(up.answer.status).toBe(200);
    }, 90_000);

    it("pure-ftpd stopped, then an expired certificate: 503 within 15 s each; back once fixed", async () => {
      await until(c, healthy);
      await c.stopFtpd();
      const down = await until(c, unhealthy);
      expect(down.ms).toBeLessThan(15_000);
      expect(down.answer.body).toMatch(/^connect: /);
      await c.startFtpd();
      const up = await until(c, healthy);
      times.push(
        `pure-ftpd stopped: 503 after ${(down.ms / 1000).toFixed(1)} s ("${down.answer.body.trim()}"),` +
          ` 200 ${(up.ms / 1000).toFixed(1)} s after its start`,
      );

      const pemPath = join(c.root, TLS_PEM_PATH);
      const good = readFileSync(pemPath, "utf8");
      await writeFile(pemPath, await expiredPem(scratch), { mode: 0o600 });
      try {
        await c.restartFtpd();
        const expired = await until(c, unhealthy);
        expect(expired.ms).toBeLessThan(15_000);
        expect(expired.answer.body).toBe("certificate: expired 2020-01-02 00:00 UTC\n");
        times.push(`expired certificate: 503 after ${(expired.ms / 1000).toFixed(1)} s`);
      } finally {
        await writeFile(pemPath, good, { mode: 0o600 });
        await c.restartFtpd();
      }
      await until(c, healthy);
    }, 90_000);

    it("the staging disk full (s3fs's tmpdir on a 72 MiB filesystem, 16 MiB left): 503; room again: 200", async () => {
      await until(d, healthy);
      // mount-bucket.sh's tmpdir for s3fs (in the sandbox beside the instance's root).
      const staging = `${d.root}-s3fs-tmp`;
      await runChecked("mount", [
        "-t",
        "tmpfs",
        "-o",
        "size=72m,mode=0700",
        "ftpfleet-test-staging",
        staging,
      ]);
      let mounted = true;
      try {
        await runChecked("fallocate", ["-l", "56MiB", join(staging, "filler")]);
        const down = await until(d, unhealthy);
        expect(down.ms).toBeLessThan(15_000);
        expect(down.answer.body).toMatch(
          new RegExp(`^disk: ${staging} has 1[56] MiB free \\(less than 64 MiB\\)\\n$`),
        );
        // The big disk back under s3fs's tmpdir (s3fs fixed its floor at start, from that disk).
        await runChecked("umount", [staging]);
        mounted = false;
        const up = await until(d, healthy);
        times.push(
          `staging disk full: 503 after ${(down.ms / 1000).toFixed(1)} s ("${down.answer.body.trim()}"),` +
            ` 200 ${(up.ms / 1000).toFixed(1)} s after the room came back`,
        );
      } finally {
        if (mounted) await runCommand("umount", ["-l", staging]);
      }
    }, 90_000);

    it("a full server (MaxClients reached: 421 at login) stays healthy, with a note", async () => {
      await until(e, healthy);
      const sessions: Socket[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          const socket = connect(21, e.address);
          await new Promise((resolve) => socket.once("data", resolve));
          sessions.push(socket);
        }
        const busy = await until(e, (answer) => answer.body.startsWith("healthy: busy"), 15_000);
        expect(busy.answer.status).toBe(200);
        expect(busy.answer.body).toMatch(/^healthy: busy \(421 .*\)\n$/);
        expect(busy.seen.every((line) => line.startsWith("200"))).toBe(true);
      } finally {
        for (const socket of sessions) socket.destroy();
      }
      await until(e, healthy);
    }, 60_000);
  });
});
