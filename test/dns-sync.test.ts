import { ChangeResourceRecordSetsCommand, InvalidChangeBatch } from "@aws-sdk/client-route-53";
import { LAUNCH_TAG, READY_TAG, until } from "@ftpfleet/core";
import { afterEach, describe, expect, it } from "vitest";
import { type Fleet, recordInstanceIds, simulatedFleet, states } from "./support";

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});

/** A fleet whose instances are in service and in DNS, with the lifecycle queue no longer consumed. */
async function inService(n: number): Promise<Fleet> {
  const f = simulatedFleet();
  fleet = f;
  f.aws.autoscaling.setDesired(n);
  await f.run(
    until(f.aws.clock, () => Object.values(states(f.aws)).filter((s) => s === "InService").length === n),
  );
  await f.advance(10_000);
  return f;
}

const refusal = () => new InvalidChangeBatch({ $metadata: {}, message: "refused for the test" });

describe("DNS sync", () => {
  it("removes a finished launch's tags when it syncs, and never in a dry run", async () => {
    const f = await inService(1);
    const [id = ""] = [...f.aws.autoscaling.members.keys()];
    const tags = f.aws.ec2.instances.get(id)?.tags;
    tags?.set(LAUNCH_TAG, "a1/cmd-1");
    tags?.set(READY_TAG, "a1/cmd-1");
    const plan = await f.run(f.cp.dns.plan());
    expect(plan.membership.finishedLaunches).toEqual([id]);
    expect(tags?.get(LAUNCH_TAG)).toBe("a1/cmd-1");
    await f.run(f.cp.dns.sync());
    expect(tags?.has(LAUNCH_TAG)).toBe(false);
    expect(tags?.has(READY_TAG)).toBe(false);
  });

  it("re-reads and re-plans after a refused change, and gets the record in on the next round", async () => {
    const f = await inService(2);
    const [id = ""] = [...f.aws.autoscaling.members.keys()];
    await f.run(f.aws.route53.client().send(deleteOf(f, id)));
    f.aws.route53.faults.inject("ChangeResourceRecordSets", refusal, 1);
    const report = await f.run(f.cp.dns.sync());
    expect(report.applied).toBe(1);
    expect(recordInstanceIds(f.aws)).toEqual([...f.aws.autoscaling.members.keys()].sort());
  });

  it("gives up with the refused changes named after three rounds", async () => {
    const f = await inService(1);
    const [id = ""] = [...f.aws.autoscaling.members.keys()];
    await f.run(f.aws.route53.client().send(deleteOf(f, id)));
    f.aws.route53.faults.inject("ChangeResourceRecordSets", refusal, 3);
    await expect(f.run(f.cp.dns.sync())).rejects.toMatchObject({
      name: "RecordChangesFailedError",
      failed: [expect.objectContaining({ change: `CREATE ftpfleet:test:${id}` })],
    });
    expect(recordInstanceIds(f.aws)).toEqual([]);
    // The fourth attempt is the next sync's.
    await f.run(f.cp.dns.sync());
    expect(recordInstanceIds(f.aws)).toEqual([id]);
  });

  it("logs one dns.applied line per record that changed, by instance and round, and none for a refused one", async () => {
    const f = await inService(2);
    const [gone = "", stays = ""] = [...f.aws.autoscaling.members.keys()];
    await f.run(f.aws.route53.client().send(deleteOf(f, stays)));
    f.aws.ec2.setState(gone, "stopped");
    f.log.lines.length = 0;
    await f.run(f.cp.dns.sync());
    const applied = f.log.lines
      .filter((l) => l.msg === "dns.applied")
      .map((l) => [l.instanceId, l.change, l.round]);
    expect(applied).toEqual([
      [stays, "create", 1],
      [gone, "delete", 1],
    ]);
    f.log.lines.length = 0;
    f.aws.ec2.setState(gone, "running");
    f.aws.route53.faults.inject("ChangeResourceRecordSets", refusal, 1);
    await f.run(f.cp.dns.sync());
    expect(
      f.log.lines.filter((l) => l.msg === "dns.applied").map((l) => [l.instanceId, l.change, l.round]),
    ).toEqual([[gone, "create", 2]]);
  });
});

function deleteOf(f: Fleet, instanceId: string) {
  const record = f.aws.recordsAt().find((r) => r.SetIdentifier === `ftpfleet:test:${instanceId}`);
  if (!record) throw new Error(`no record for ${instanceId}`);
  return new ChangeResourceRecordSetsCommand({
    HostedZoneId: "Z0TESTZONE",
    ChangeBatch: { Changes: [{ Action: "DELETE", ResourceRecordSet: record }] },
  });
}
