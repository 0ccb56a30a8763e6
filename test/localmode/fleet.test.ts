import type { Resolver } from "node:dns/promises";
import { rm } from "node:fs/promises";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { DEMO_USER, LOCAL_RECORD, type LocalFleet, runCommand } from "@ftpfleet/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataPlaneSkip, lftp, scratchDir, writeScratch } from "../dataplane/helpers";
import { fleetResolver, startTestFleet, waitFor } from "./support";

const skip = dataPlaneSkip("localmode/fleet.test.ts");

describe.skipIf(skip)("local mode, end to end", () => {
  let fleet: LocalFleet;
  let resolver: Resolver;
  let s3: S3Client;
  const scratch = scratchDir();
  // FTPS: local mode, like a fleet on AWS, requires it by default (with a self-signed certificate).
  const login = (host: string) => ({ host, user: DEMO_USER.name, password: DEMO_USER.password, tls: true });
  const serving = () =>
    fleet.status().instances.filter((i) => i.lifecycleState === "InService" && i.answered);

  /** Every address the DNS responder hands out for the fleet's name, over many queries. */
  async function answers(queries = 60): Promise<string[]> {
    const seen = new Set<string>();
    for (let i = 0; i < queries; i++) for (const ip of await resolver.resolve4(LOCAL_RECORD)) seen.add(ip);
    return [...seen].sort();
  }

  beforeAll(async () => {
    fleet = await startTestFleet(1);
    resolver = fleetResolver(fleet);
    s3 = fleet.world.s3Client();
    await waitFor("the first instance to serve", () => serving().length === 1, 90_000);
  }, 120_000);

  afterAll(async () => {
    s3?.destroy();
    await rm(scratch, { recursive: true, force: true });
    await fleet?.stop();
  }, 120_000);

  it("scales out to 3: DNS answers 3 addresses, and each serves logins and transfers", async () => {
    fleet.scale(3);
    await waitFor("3 instances in service and in DNS", () => serving().length === 3, 90_000);
    const addresses = serving()
      .map((i) => i.address)
      .sort();
    expect(await answers()).toEqual(addresses);
    const dir = scratch;
    const file = writeScratch(dir, "hello.txt", "hello through every instance\n");
    for (const [n, address] of addresses.entries()) {
      const result = await lftp(login(address), [
        "cat public/README.txt",
        `put ${file} -o inbox/demo/from-${n}.txt`,
        "ls inbox/demo",
      ]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain("read-only for the demo user");
      const stored = await s3.send(
        new GetObjectCommand({ Bucket: fleet.world.bucket, Key: `inbox/demo/from-${n}.txt` }),
      );
      expect(await stored.Body?.transformToString()).toBe("hello through every instance\n");
    }
  }, 180_000);

  it("answers the README's connect line (lftp's defaults, the self-signed certificate accepted) and refuses plain FTP", async () => {
    const [first] = serving();
    if (!first) throw new Error("no instance");
    const readme = await runCommand("lftp", [
      ...["-u", `${DEMO_USER.name},${DEMO_USER.password}`],
      ...["-e", "set ssl:verify-certificate no; ls public", first.address],
    ]);
    expect(readme.code, readme.stderr).toBe(0);
    expect(readme.stdout).toContain("README.txt");
    const plain = await lftp({ ...login(first.address), tls: false }, ["ls public"]);
    expect(plain.code).not.toBe(0);
    expect(plain.stdout).not.toContain("README.txt");
  }, 60_000);

  it("sees an overwrite made directly in S3 on every instance", async () => {
    const before = await Promise.all(serving().map((i) => lftp(login(i.address), ["cat public/README.txt"])));
    expect(before.every((r) => r.code === 0)).toBe(true);
    const longer = `${"Rewritten in S3, longer than before. ".repeat(40)}\n`;
    await s3.send(
      new PutObjectCommand({ Bucket: fleet.world.bucket, Key: "public/README.txt", Body: longer }),
    );
    for (const instance of serving()) {
      const after = await lftp(login(instance.address), ["cat public/README.txt"]);
      expect(after.code, after.stderr).toBe(0);
      expect(after.stdout).toBe(longer);
    }
  }, 60_000);

  it("on crash, removes the record and publishes a serving replacement", async () => {
    const [victim] = serving();
    if (!victim) throw new Error("no instance");
    await fleet.kill(victim.instanceId);
    await waitFor(
      "the crashed instance to leave DNS",
      async () => !(await answers(20)).includes(victim.address),
      60_000,
    );
    await waitFor(
      "a replacement to serve",
      () => serving().length === 3 && !serving().some((i) => i.instanceId === victim.instanceId),
      120_000,
    );
    expect(await answers()).toEqual(
      serving()
        .map((i) => i.address)
        .sort(),
    );
  }, 240_000);

  it("on scale-in, the record disappears before the instance stops, and a transfer in progress completes", async () => {
    const big = Buffer.alloc(24 * 1024 * 1024, 7);
    await s3.send(new PutObjectCommand({ Bucket: fleet.world.bucket, Key: "public/big.bin", Body: big }));
    const leaving = serving().at(-1);
    if (!leaving) throw new Error("no instance");
    const dir = scratch;
    // About 8 s at 3 MB/s: the drain must wait for it.
    const transfer = lftp(login(leaving.address), [
      "set net:limit-rate 3M",
      `get public/big.bin -o ${dir}/big.bin`,
    ]);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    fleet.scale(2);
    let leftDnsWhileAlive = false;
    await waitFor(
      "the leaving instance to stop",
      () => {
        const member = fleet.status().instances.find((i) => i.instanceId === leaving.instanceId);
        if (member && !member.inDns && member.lifecycleState.startsWith("Terminating"))
          leftDnsWhileAlive = true;
        return member === undefined;
      },
      120_000,
    );
    expect(leftDnsWhileAlive).toBe(true);
    const result = await transfer;
    expect(result.code, result.stderr).toBe(0);
    const { size } = await import("node:fs/promises").then((fs) => fs.stat(`${dir}/big.bin`));
    expect(size).toBe(big.length);
    expect(await answers()).toEqual(
      serving()
        .map((i) => i.address)
        .sort(),
    );
  }, 180_000);
});
