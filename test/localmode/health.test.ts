import type { Resolver } from "node:dns/promises";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { DEMO_USER, LOCAL_RECORD, type LocalFleet } from "@ftpfleet/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataPlaneSkip, lftp } from "../dataplane/helpers";
import { fleetResolver, startTestFleet, waitFor } from "./support";

const skip = dataPlaneSkip("localmode/health.test.ts");

describe.skipIf(skip)("deep health in local mode: broken instances leave DNS and are replaced", () => {
  let fleet: LocalFleet;
  let resolver: Resolver;
  let s3: S3Client;
  const login = (host: string) => ({ host, user: DEMO_USER.name, password: DEMO_USER.password, tls: true });
  const members = () => fleet.status().instances;
  const answerable = () => fleet.answerable();
  const serving = () => members().filter((i) => i.lifecycleState === "InService" && i.answered);

  beforeAll(async () => {
    fleet = await startTestFleet(4);
    resolver = fleetResolver(fleet);
    s3 = fleet.world.s3Client();
    // Cold builds of both daemons on 4 instances sharing 2 cores.
    await waitFor("4 instances in service with passing health checks", () => serving().length === 4, 300_000);
  }, 360_000);

  afterAll(async () => {
    s3?.destroy();
    await fleet?.stop();
  }, 180_000);

  it("a dead mount, a hung mount and a stopped pure-ftpd each leave DNS within 30 s and are replaced; the instance under a transfer stays", async () => {
    const [dead, hung, down, busy] = members();
    if (!dead || !hung || !down || !busy) throw new Error("four instances");
    const big = Buffer.alloc(8 * 1024 * 1024, 5);
    await s3.send(new PutObjectCommand({ Bucket: fleet.world.bucket, Key: "public/slow.bin", Body: big }));
    // A download throttled to 256 KB/s runs through the failures (≈ 32 s; lftp's limit here is 60 s).
    const transfer = lftp(login(busy.address), [
      "set net:limit-rate 262144",
      "cat public/slow.bin > /dev/null",
    ]);
    const busyAlwaysAnswered: boolean[] = [];
    const watch = setInterval(() => busyAlwaysAnswered.push(answerable().includes(busy.address)), 250);

    const failedAt = Date.now();
    await fleet.breakInstance(dead.instanceId, "mount");
    await fleet.breakInstance(hung.instanceId, "hang");
    await fleet.breakInstance(down.instanceId, "ftpd");

    const left = new Map<string, number>();
    await waitFor(
      "the three broken instances to leave DNS",
      () => {
        for (const broken of [dead, hung, down]) {
          if (!left.has(broken.instanceId) && !answerable().includes(broken.address)) {
            left.set(broken.instanceId, (Date.now() - failedAt) / 1000);
          }
        }
        return left.size === 3;
      },
      60_000,
    );
    for (const broken of [dead, hung, down]) expect(left.get(broken.instanceId)).toBeLessThanOrEqual(30);
    // Real DNS queries agree: no broken instance is handed out (a replacement may already be).
    const answered = new Set<string>();
    for (let i = 0; i < 30; i++) for (const ip of await resolver.resolve4(LOCAL_RECORD)) answered.add(ip);
    expect(answered.has(busy.address)).toBe(true);
    for (const broken of [dead, hung, down]) expect(answered.has(broken.address)).toBe(false);

    await waitFor(
      "three replacements serving",
      () =>
        serving().length === 4 &&
        ![dead, hung, down].some((b) => members().some((m) => m.instanceId === b.instanceId)),
      300_000,
    );
    clearInterval(watch);
    const done = await transfer;
    expect(done.code, done.stderr).toBe(0);
    expect(busyAlwaysAnswered.length).toBeGreaterThan(0);
    expect(busyAlwaysAnswered.every(Boolean)).toBe(true);
    for (const replacement of serving().filter((i) => i.instanceId !== busy.instanceId)) {
      const listed = await lftp(login(replacement.address), ["cls -1 public"]);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toContain("slow.bin");
    }
  }, 420_000);
});
