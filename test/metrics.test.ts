import { Metrics } from "@aws-lambda-powertools/metrics";
import { METRICS_NAMESPACE, memoryLogger, until, withMetrics } from "@ftpfleet/core";
import { describe, expect, it } from "vitest";
import { capture, provisionedEnv, simulatedFleet, states } from "./support";

describe("metrics: the events the control plane logs, counted", () => {
  const counted = () => {
    const seen: [string, string, number][] = [];
    const log = withMetrics(memoryLogger("debug"), (name, unit, value) => seen.push([name, unit, value]));
    return { log, seen };
  };

  it("counts each mapped event, with its duration where it has one, also through child loggers", () => {
    const { log, seen } = counted();
    const child = log.child({ instanceId: "i-1" }).child({ commandId: "c-1" });
    child.info("provision.succeeded", { durationMs: 27_500 });
    child.error("provision.failed", { status: "Failed" });
    child.info("lifecycle.completed", { result: "CONTINUE" });
    child.error("launch.unaddressable", {});
    log.info("lifecycle.completed", { result: "ABANDON" });
    log.info("dns.applied", { change: "create" });
    log.warn("dns.not-placed", { records: 3 });
    log.info("reconcile.done", {});
    expect(seen).toEqual([
      ["ProvisionSucceeded", "Count", 1],
      ["ProvisionDuration", "Milliseconds", 27_500],
      ["ProvisionFailed", "Count", 1],
      ["LaunchesContinued", "Count", 1],
      ["LaunchesAbandoned", "Count", 1],
      ["DnsChanges", "Count", 1],
      ["DnsRecordsNotPlaced", "Count", 3],
    ]);
  });

  it("counts throttled retries, not other retries, and only deleted health checks", () => {
    const { log, seen } = counted();
    log.debug("retry", { call: "route53:ChangeResourceRecordSets", error: "Throttling" });
    log.debug("retry", { call: "ec2", error: "RequestLimitExceeded" });
    log.debug("retry", { call: "route53:ChangeResourceRecordSets", error: "PriorRequestNotComplete" });
    log.debug("retry", { call: "ssm", error: "InternalError" });
    log.info("health.check-deleted", { outcome: "deleted" });
    log.info("health.check-deleted", { outcome: "in-use" });
    log.info("provision.succeeded", {});
    expect(seen).toEqual([
      ["ThrottlesRetried", "Count", 1],
      ["ThrottlesRetried", "Count", 1],
      ["HealthChecksDeleted", "Count", 1],
      ["ProvisionSucceeded", "Count", 1],
    ]);
  });

  it("the lifecycle function publishes EMF in the ftpfleet namespace with its service and fleet", async () => {
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: "lifecycle" });
    metrics.setDefaultDimensions({ Fleet: "test" });
    const fleet = simulatedFleet({ env: provisionedEnv, metrics });
    const { written } = await capture(process.stdout, async () => {
      fleet.aws.autoscaling.setDesired(2);
      await fleet.run(
        until(
          fleet.aws.clock,
          () => Object.values(states(fleet.aws)).filter((s) => s === "InService").length === 2,
        ),
      );
    });
    await fleet.stop();
    const emf = written
      .flatMap((chunk) => chunk.split("\n"))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line));
    expect(emf.length).toBeGreaterThan(0);
    for (const line of emf) {
      expect(line._aws.CloudWatchMetrics[0]).toMatchObject({
        Namespace: "ftpfleet",
        Dimensions: [["service", "Fleet"]],
      });
      expect(line).toMatchObject({ service: "lifecycle", Fleet: "test" });
    }
    const total = (name: string) =>
      emf.reduce(
        (sum, line) => sum + [line[name] ?? []].flat().reduce((a: number, b: number) => a + b, 0),
        0,
      );
    expect(total("ProvisionSucceeded")).toBe(2);
    expect(total("LaunchesContinued")).toBe(2);
    expect(total("DnsChanges")).toBe(2);
    expect(total("HealthChecksCreated")).toBe(2);
    const durations = emf.flatMap((line) => [line.ProvisionDuration ?? []].flat());
    expect(durations).toHaveLength(2);
    // The simulated provision: six steps of 10 s each after the agent comes online.
    for (const duration of durations) expect(duration).toBeGreaterThanOrEqual(60_000);
  });
});
