import { ChangeResourceRecordSetsCommand } from "@aws-sdk/client-route-53";
import { coalescedDnsSync, until } from "@ftpfleet/core";
import { ROUTE53_RATE } from "@ftpfleet/simulated-aws";
import { afterEach, describe, expect, it } from "vitest";
import { createReconcileHandler } from "../functions/reconcile";
import { type Fleet, lambdaContext, recordInstanceIds, simulatedFleet, states } from "./support";

let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
});

async function servingFleet(n: number, options: Parameters<typeof simulatedFleet>[0] = {}): Promise<Fleet> {
  fleet = simulatedFleet(options);
  const f = fleet;
  f.aws.autoscaling.setDesired(n);
  await f.run(
    until(f.aws.clock, () => Object.values(states(f.aws)).filter((s) => s === "InService").length === n),
  );
  return f;
}

describe("reconcile", () => {
  it("repairs what lost events left behind, and a dry run only reports it", async () => {
    const f = await servingFleet(3);
    const [lost] = recordInstanceIds(f.aws);
    const lostRecord = f.aws.recordsAt().find((r) => r.SetIdentifier?.endsWith(lost ?? ""));
    if (!lostRecord) throw new Error("the lost instance has a record");
    const stale = {
      ...lostRecord,
      SetIdentifier: "ftpfleet:test:i-0000000000000dead",
      ResourceRecords: [{ Value: "198.51.100.7" }],
    };
    await f.run(
      f.aws.route53.client().send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: "Z0TESTZONE",
          ChangeBatch: {
            Changes: [
              { Action: "DELETE", ResourceRecordSet: lostRecord },
              { Action: "CREATE", ResourceRecordSet: stale },
            ],
          },
        }),
      ),
    );
    const reconcile = createReconcileHandler(() => f.cp);
    const before = f.aws.route53.calls.get("ChangeResourceRecordSets");

    const dry = await f.run(reconcile({ dryRun: true }, lambdaContext));
    expect(dry.plan.sort()).toEqual([
      expect.stringMatching(new RegExp(`^\\+ ftp.example.com. A ${lost} `)),
      expect.stringMatching(/^- ftp.example.com. A i-0000000000000dead 198.51.100.7/),
    ]);
    expect(f.aws.route53.calls.get("ChangeResourceRecordSets")).toBe(before);

    const repaired = await f.run(reconcile({}, lambdaContext));
    expect(repaired.plan).toHaveLength(2);
    expect(recordInstanceIds(f.aws)).toEqual([...f.aws.autoscaling.members.keys()].sort());

    const again = await f.run(reconcile({ "detail-type": "Scheduled Event" }, lambdaContext));
    expect(again.plan).toEqual([]);
  });

  it("rejects a malformed request without touching anything", async () => {
    const f = await servingFleet(1);
    const reconcile = createReconcileHandler(() => f.cp);
    const calls = f.aws.route53.calls.total();
    await expect(f.run(reconcile({ dryRun: "yes" }, lambdaContext))).rejects.toThrow(
      /malformed reconcile request/,
    );
    expect(f.aws.route53.calls.total()).toBe(calls);
  });
});

describe("coalescedDnsSync", () => {
  it("turns a burst of 50 sync requests into at most two syncs that all see the result", async () => {
    const f = await servingFleet(5, { throttle: ROUTE53_RATE });
    const dns = coalescedDnsSync(f.aws.ports(f.log));
    const lists = f.aws.route53.calls.get("ListResourceRecordSets");
    const reports = await f.run(Promise.all(Array.from({ length: 50 }, () => dns.sync())));
    expect(f.aws.route53.calls.get("ListResourceRecordSets") - lists).toBeLessThanOrEqual(2);
    expect(reports.every((r) => r.membership.serving.length === 5)).toBe(true);
  });
});
