import {
  type AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
} from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import {
  type Change,
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
} from "@aws-sdk/client-route-53";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  type SSMClient,
} from "@aws-sdk/client-ssm";
import { provisionParameters } from "@ftpfleet/core";
import {
  type CommandExecutor,
  type EventBridgeEvent,
  type GroupSettings,
  type QueueSettings,
  SimulatedAutoScaling,
  SimulatedAws,
  SimulatedClock,
  type SimulatedDocument,
  SimulatedEc2,
  SimulatedQueue,
  SimulatedRoute53,
  type StepResult,
} from "@ftpfleet/simulated-aws";
import { describe, expect, it } from "vitest";
import { fixture, testConfig } from "./support";

/** Each fake enforces what AWS documents, driven through a real SDK client as the adapters drive it. */

// --- Route53 ------------------------------------------------------------------------------------

const ZONE = "Z0TESTZONE";
const NAME = "ftp.example.com.";

function route53() {
  const clock = new SimulatedClock();
  const fake = new SimulatedRoute53(clock);
  fake.createZone(ZONE, "example.com");
  const client = fake.client();
  const send = (...changes: Change[]) =>
    clock.run(
      client.send(
        new ChangeResourceRecordSetsCommand({ HostedZoneId: ZONE, ChangeBatch: { Changes: changes } }),
      ),
    );
  const list = async () =>
    (await clock.run(client.send(new ListResourceRecordSetsCommand({ HostedZoneId: ZONE }))))
      .ResourceRecordSets ?? [];
  return { send, list };
}

const create = (set: Partial<ResourceRecordSet>): Change => ({
  Action: "CREATE",
  ResourceRecordSet: { Name: NAME, Type: "A", TTL: 60, ResourceRecords: [{ Value: "192.0.2.1" }], ...set },
});
const weighted = (id: string, value = "192.0.2.1") =>
  create({ SetIdentifier: id, Weight: 1, ResourceRecords: [{ Value: value }] });
const cname = (set: Partial<ResourceRecordSet> = {}) =>
  create({ Type: "CNAME", ResourceRecords: [{ Value: "ftp.elsewhere.example.org." }], ...set });

/** One record set of each routing policy that is not weighted, all with a SetIdentifier. */
const otherPolicies: [string, Partial<ResourceRecordSet>][] = [
  ["failover", { Failover: "PRIMARY" }],
  ["latency", { Region: "eu-west-1" }],
  ["geolocation", { GeoLocation: { ContinentCode: "EU" } }],
  ["multivalue answer", { MultiValueAnswer: true }],
];

describe("SimulatedRoute53", () => {
  it("refuses a weighted A record beside a CNAME at the same name, and a CNAME beside any other record", async () => {
    const withCname = route53();
    await withCname.send(cname());
    await expect(withCname.send(weighted("a"))).rejects.toMatchObject({
      name: "InvalidChangeBatch",
      message: expect.stringMatching(/RRSet of type A .* conflicting RRSet of type CNAME/),
    });
    const withA = route53();
    await withA.send(weighted("a"));
    await withA.send(create({ Type: "TXT", ResourceRecords: [{ Value: '"v=1"' }] }));
    await expect(withA.send(cname())).rejects.toMatchObject({
      name: "InvalidChangeBatch",
      message: expect.stringMatching(
        /RRSet of type CNAME .* conflicts with other records with the same DNS name/,
      ),
    });
    // A weighted CNAME is still a CNAME: nothing else may share its name.
    const weightedCname = route53();
    await weightedCname.send(
      cname({ SetIdentifier: "c1", Weight: 1 }),
      cname({ SetIdentifier: "c2", Weight: 1 }),
    );
    await expect(weightedCname.send(weighted("a"))).rejects.toMatchObject({ name: "InvalidChangeBatch" });
    expect((await withCname.list()).map((r) => r.Type)).toEqual(["CNAME"]);
    expect((await withA.list()).map((r) => r.Type)).toEqual(["A", "TXT"]);
    expect((await weightedCname.list()).map((r) => r.SetIdentifier)).toEqual(["c1", "c2"]);
  });

  it("refuses Weight without SetIdentifier, a SetIdentifier without a routing policy, and two policies at once", async () => {
    const { send, list } = route53();
    await expect(send(create({ Weight: 1 }))).rejects.toMatchObject({
      name: "InvalidInput",
      message: expect.stringMatching(
        /Missing field 'SetIdentifier' in Change with \[Action=CREATE, Name=ftp/,
      ),
    });
    await expect(send(create({ SetIdentifier: "a" }))).rejects.toMatchObject({
      name: "InvalidInput",
      message: expect.stringMatching(/Expected exactly one of \[Weight, Region, Failover.*but found none/),
    });
    await expect(send(create({ SetIdentifier: "a", Weight: 1, Failover: "PRIMARY" }))).rejects.toMatchObject({
      name: "InvalidInput",
    });
    // The request is refused whole: a valid change beside a malformed one does not land either.
    await expect(send(weighted("ok"), create({ Weight: 1 }))).rejects.toMatchObject({ name: "InvalidInput" });
    expect(await list()).toEqual([]);
  });

  it.each(otherPolicies)("treats a %s record with a SetIdentifier as not weighted", async (_, policy) => {
    const { send, list } = route53();
    // Records of one policy live together...
    await send(
      create({ SetIdentifier: "x1", ...policy }),
      create({ SetIdentifier: "x2", ...policy, ...second(policy) }),
    );
    // ...but a weighted record cannot join them,
    await expect(send(weighted("w"))).rejects.toMatchObject({
      name: "InvalidChangeBatch",
      message: expect.stringMatching(/SetIdentifier w cannot be created as a non-weighted set exists/),
    });
    // nor a simple one.
    await expect(send(create({}))).rejects.toMatchObject({
      name: "InvalidChangeBatch",
      message: expect.stringMatching(/cannot be created as other RRSets exist with the same name and type/),
    });
    expect((await list()).map((r) => r.SetIdentifier)).toEqual(["x1", "x2"]);
    // The other way round: beside weighted records, this policy is refused.
    const fleet = route53();
    await fleet.send(weighted("w1"), weighted("w2"));
    await expect(fleet.send(create({ SetIdentifier: "x", ...policy }))).rejects.toMatchObject({
      name: "InvalidChangeBatch",
      message: expect.stringMatching(/cannot be created as a weighted set exists/),
    });
    // Another type at the same name is another set of records: no conflict.
    await fleet.send(
      create({ Type: "AAAA", SetIdentifier: "x", ResourceRecords: [{ Value: "2001:db8::1" }], ...policy }),
    );
    expect((await fleet.list()).map((r) => `${r.Type} ${r.SetIdentifier}`)).toEqual([
      "A w1",
      "A w2",
      "AAAA x",
    ]);
  });

  it("refuses mixing two other routing policies at one name and type", async () => {
    const { send, list } = route53();
    await send(create({ SetIdentifier: "primary", Failover: "PRIMARY" }));
    await expect(send(create({ SetIdentifier: "eu", Region: "eu-west-1" }))).rejects.toMatchObject({
      name: "InvalidChangeBatch",
    });
    expect((await list()).map((r) => r.SetIdentifier)).toEqual(["primary"]);
  });
});

/** A second record of the same policy must differ where Route53 requires it. */
function second(policy: Partial<ResourceRecordSet>): Partial<ResourceRecordSet> {
  if (policy.Failover) return { Failover: "SECONDARY" };
  if (policy.Region) return { Region: "us-east-1" };
  if (policy.GeoLocation) return { GeoLocation: { ContinentCode: "NA" } };
  return { ResourceRecords: [{ Value: "192.0.2.2" }] };
}

// --- Auto Scaling -------------------------------------------------------------------------------

const GROUP = "ftpfleet-test";

function group(settings: Partial<Omit<GroupSettings, "name">> = {}) {
  const clock = new SimulatedClock();
  const ec2 = new SimulatedEc2(clock);
  const events: EventBridgeEvent[] = [];
  const hook = (name: string, defaultResult: "CONTINUE" | "ABANDON") => ({
    name,
    heartbeatTimeoutSeconds: 600,
    defaultResult,
  });
  const fake = new SimulatedAutoScaling(
    clock,
    ec2,
    {
      name: GROUP,
      launchHook: hook("ftpfleet-launch", "ABANDON"),
      terminateHook: hook("ftpfleet-terminate", "CONTINUE"),
      ...settings,
    },
    (event) => events.push(event),
  );
  const client: AutoScalingClient = fake.client();
  const ec2Client = ec2.client();
  const states = async () => {
    const out = await clock.run(
      client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [GROUP] })),
    );
    return Object.fromEntries(
      (out.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => [i.InstanceId, i.LifecycleState]),
    );
  };
  const ec2State = async (id: string) => {
    const out = await clock.run(ec2Client.send(new DescribeInstancesCommand({ InstanceIds: [id] })));
    return out.Reservations?.[0]?.Instances?.[0]?.State?.Name;
  };
  /** Answers the newest lifecycle action of `transition` for the instance. */
  const complete = (transition: "launch" | "terminate", result: "CONTINUE" | "ABANDON" = "CONTINUE") => {
    const event = events
      .filter((e) => e["detail-type"] === `EC2 Instance-${transition} Lifecycle Action`)
      .at(-1);
    if (!event) throw new Error(`no ${transition} event`);
    return clock.run(
      client.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: GROUP,
          LifecycleHookName: String(event.detail.LifecycleHookName),
          LifecycleActionToken: String(event.detail.LifecycleActionToken),
          LifecycleActionResult: result,
        }),
      ),
    );
  };
  return { clock, fake, events, states, ec2State, complete };
}

describe("SimulatedAutoScaling", () => {
  it("after CONTINUE on a launch, holds the instance in Pending:Proceed for the configured time, then InService", async () => {
    const g = group({ pendingProceedMs: 3_000 });
    g.fake.setDesired(1);
    const [id] = [...g.fake.members.keys()];
    expect(await g.states()).toEqual({ [id ?? ""]: "Pending:Wait" });
    await g.complete("launch");
    expect(await g.states()).toEqual({ [id ?? ""]: "Pending:Proceed" });
    await g.clock.advance(2_999);
    expect(await g.states()).toEqual({ [id ?? ""]: "Pending:Proceed" });
    await g.clock.advance(1);
    expect(await g.states()).toEqual({ [id ?? ""]: "InService" });
  });

  it("passes through Pending:Proceed by default too, and not after ABANDON", async () => {
    const g = group();
    g.fake.setDesired(1);
    const [id = ""] = [...g.fake.members.keys()];
    await g.complete("launch");
    expect((await g.states())[id]).toBe("Pending:Proceed");
    await g.clock.advance(60_000);
    expect((await g.states())[id]).toBe("InService");
    g.fake.setDesired(2);
    const [, second = ""] = [...g.fake.members.keys()];
    await g.complete("launch", "ABANDON");
    expect((await g.states())[second]).toBe("Terminating:Wait");
  });

  it("terminates through Terminating:Wait and Terminating:Proceed (EC2 shutting down), then the instance is gone", async () => {
    const g = group({ pendingProceedMs: 1_000, terminatingProceedMs: 20_000 });
    g.fake.setDesired(1);
    const [id = ""] = [...g.fake.members.keys()];
    await g.complete("launch");
    await g.clock.advance(1_000);
    g.fake.setDesired(0);
    expect(await g.states()).toEqual({ [id]: "Terminating:Wait" });
    expect(await g.ec2State(id)).toBe("running");
    await g.complete("terminate");
    expect(await g.states()).toEqual({ [id]: "Terminating:Proceed" });
    expect(await g.ec2State(id)).toBe("shutting-down");
    await g.clock.advance(20_000);
    expect(await g.states()).toEqual({});
    expect(await g.ec2State(id)).toBe("terminated");
  });

  it("with describeLagMs, answers DescribeAutoScalingGroups with the group as it was that long ago", async () => {
    const g = group({ describeLagMs: 5_000, pendingProceedMs: 1_000 });
    g.fake.setDesired(1);
    const [id = ""] = [...g.fake.members.keys()];
    // The launch has happened, but a describe does not show it yet.
    expect(await g.states()).toEqual({});
    await g.clock.advance(5_000);
    expect(await g.states()).toEqual({ [id]: "Pending:Wait" });
    await g.complete("launch");
    await g.clock.advance(4_000);
    // In service for 3 s already; the describe still sees the wait.
    expect(g.fake.members.get(id)?.lifecycleState).toBe("InService");
    expect(await g.states()).toEqual({ [id]: "Pending:Wait" });
    await g.clock.advance(1_000);
    expect(await g.states()).toEqual({ [id]: "Pending:Proceed" });
    await g.clock.advance(1_000);
    expect(await g.states()).toEqual({ [id]: "InService" });
  });

  it("with a warm pool minSize, launches instances INTO the pool through the launch hook; CONTINUE warms them, outside the group", async () => {
    const g = group({ warmPool: { reuseOnScaleIn: false, minSize: 1 }, pendingProceedMs: 1_000 });
    g.fake.setDesired(0);
    const [id = ""] = [...g.fake.warmPool.keys()];
    expect(g.fake.warmPool.get(id)?.lifecycleState).toBe("Warmed:Pending:Wait");
    expect(g.events.map((e) => [e.detail.Origin, e.detail.Destination])).toEqual([["EC2", "WarmPool"]]);
    await g.complete("launch");
    expect(g.fake.warmPool.get(id)?.lifecycleState).toBe("Warmed:Pending:Proceed");
    await g.clock.advance(1_000);
    expect(g.fake.warmPool.get(id)?.lifecycleState).toBe("Warmed:Running");
    expect(await g.ec2State(id)).toBe("running");
    // Warm instances are not members: the group describes none until a scale-out takes this one.
    expect(await g.states()).toEqual({});
    g.fake.setDesired(1);
    expect(await g.states()).toEqual({ [id]: "Pending:Wait" });
    expect(g.events.filter((e) => e.detail.EC2InstanceId === id).map((e) => e.detail.Origin)).toEqual([
      "EC2",
      "WarmPool",
    ]);
    // …and the pool is refilled to its minimum with a new instance.
    expect([...g.fake.warmPool.values()].map((m) => m.lifecycleState)).toEqual(["Warmed:Pending:Wait"]);
  });

  it("with a warm pool minSize, terminates an instance whose launch into the pool is abandoned, and launches another", async () => {
    const g = group({ warmPool: { reuseOnScaleIn: false, minSize: 1 } });
    g.fake.setDesired(0);
    const [first = ""] = [...g.fake.warmPool.keys()];
    await g.complete("launch", "ABANDON");
    expect(await g.ec2State(first)).toBe("terminated");
    const [second = ""] = [...g.fake.warmPool.keys()];
    expect(second).not.toBe(first);
    expect(g.fake.warmPool.get(second)?.lifecycleState).toBe("Warmed:Pending:Wait");
    // Unanswered, the action expires with the hook's default result (ABANDON here).
    await g.clock.advance(3_600_000);
    expect(await g.ec2State(second)).toBe("terminated");
  });

  it("answers describes with the current group unless describeLagMs is set", async () => {
    const g = group();
    g.fake.setDesired(2);
    expect(Object.values(await g.states())).toEqual(["Pending:Wait", "Pending:Wait"]);
  });
});

// --- SSM Run Command ----------------------------------------------------------------------------

const provisioned = testConfig({ FTPFLEET_BUCKET: "ftpfleet-files", FTPFLEET_BUCKET_REGION: "eu-west-1" });

/** Each step's outcome by name; a step not named succeeds at once. Records the steps that ran. */
function scripted(clock: () => SimulatedClock, steps: Record<string, { ms: number; exitCode?: number }>) {
  const ran: string[] = [];
  const executor: CommandExecutor = async ({ instanceId, step }): Promise<StepResult> => {
    ran.push(`${instanceId} ${step}`);
    const plan = steps[step] ?? { ms: 0 };
    await clock().sleep(plan.ms);
    const exitCode = plan.exitCode ?? 0;
    return { exitCode, stdout: `${step} out\n`, stderr: exitCode === 0 ? "" : `${step} failed\n` };
  };
  return { executor, ran };
}

/** A document of shell steps, registered beside the fleet's. */
function steps(
  ...list: [
    name: string,
    timeoutSeconds: number,
    extra?: Omit<SimulatedDocument["mainSteps"][number]["inputs"], "timeoutSeconds" | "runCommand">,
  ][]
): SimulatedDocument {
  return {
    schemaVersion: "2.2",
    description: "test steps",
    parameters: {},
    mainSteps: list.map(([name, timeoutSeconds, extra]) => ({
      name,
      inputs: { timeoutSeconds, runCommand: [`echo ${name}`], ...extra },
    })),
  };
}

async function ssm(
  plan: Record<string, { ms: number; exitCode?: number }>,
  documents: Record<string, SimulatedDocument> = {},
) {
  let clockRef: SimulatedClock | undefined;
  const { executor, ran } = scripted(() => clockRef as SimulatedClock, plan);
  const aws = new SimulatedAws({ config: provisioned, commandExecutor: executor });
  clockRef = aws.clock;
  for (const [name, document] of Object.entries(documents)) aws.ssm.documents.set(name, document);
  const client: SSMClient = aws.ssm.client();
  const instances = [aws.ec2.launch({}).instanceId, aws.ec2.launch({}).instanceId];
  await aws.clock.advance(30_000);
  const send = async (
    document: string,
    instanceIds = instances.slice(0, 1),
    parameters: Record<string, string> = {},
  ) => {
    const out = await aws.clock.run(
      client.send(
        new SendCommandCommand({
          DocumentName: document,
          InstanceIds: instanceIds,
          Parameters: Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, [v]])),
          OutputS3BucketName: "ftpfleet-ssm-output",
          OutputS3KeyPrefix: "ssm",
        }),
      ),
    );
    return out.Command?.CommandId ?? "";
  };
  const step = (commandId: string, instanceId: string, PluginName?: string) =>
    aws.clock.run(
      client.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId, PluginName }),
      ),
    );
  const invocation = async (commandId: string, instanceId: string) => {
    const out = await aws.clock.run(
      client.send(
        new ListCommandInvocationsCommand({ CommandId: commandId, InstanceId: instanceId, Details: true }),
      ),
    );
    const found = out.CommandInvocations?.[0];
    return {
      status: found?.Status,
      steps: Object.fromEntries((found?.CommandPlugins ?? []).map((p) => [p.Name, p.Status])),
    };
  };
  return { aws, instances, send, step, invocation, ran };
}

describe("SimulatedSsm runs a 2.2 Command document step by step", () => {
  it("gives each step its own timeoutSeconds, not the sum", async () => {
    const s = await ssm(
      { slow: { ms: 90_000 }, quick: { ms: 50_000 } },
      { "test-timeouts": steps(["slow", 60], ["quick", 600]) },
    );
    const [id = ""] = s.instances;
    const commandId = await s.send("test-timeouts");
    await s.aws.clock.advance(3_600_000);
    // 90 s is well inside the 660 s the steps have together, but not inside slow's own 60 s.
    expect(await s.invocation(commandId, id)).toEqual({
      status: "TimedOut",
      steps: { slow: "TimedOut", quick: "Success" },
    });
    expect(await s.step(commandId, id, "slow")).toMatchObject({
      Status: "TimedOut",
      StatusDetails: "ExecutionTimedOut",
    });
    // Each step within its own limit, though longer together than either: success.
    s.aws.ssm.executor = scripted(() => s.aws.clock, {
      slow: { ms: 55_000 },
      quick: { ms: 550_000 },
    }).executor;
    const ok = await s.send("test-timeouts");
    await s.aws.clock.advance(3_600_000);
    expect(await s.invocation(ok, id)).toEqual({
      status: "Success",
      steps: { slow: "Success", quick: "Success" },
    });
  });

  it("runs the remaining steps after a failed one, and the invocation fails", async () => {
    const s = await ssm(
      { first: { ms: 1_000, exitCode: 3 } },
      { "test-continue": steps(["first", 60], ["second", 60]) },
    );
    const [id = ""] = s.instances;
    const commandId = await s.send("test-continue");
    await s.aws.clock.advance(600_000);
    expect(await s.invocation(commandId, id)).toEqual({
      status: "Failed",
      steps: { first: "Failed", second: "Success" },
    });
    expect(await s.step(commandId, id, "first")).toMatchObject({
      Status: "Failed",
      ResponseCode: 3,
      StandardErrorContent: "first failed\n",
      StandardErrorUrl: expect.stringMatching(
        /ftpfleet-ssm-output\/ssm\/.*\/awsrunShellScript\/first\/stderr$/,
      ),
    });
    expect(await s.step(commandId, id, "second")).toMatchObject({
      Status: "Success",
      StandardOutputContent: "second out\n",
    });
  });

  it("stops after a step with onFailure: exit, still runs a finallyStep, and the invocation fails", async () => {
    const s = await ssm(
      { needed: { ms: 1_000, exitCode: 1 } },
      {
        "test-exit": steps(
          ["needed", 60, { onFailure: "exit" }],
          ["needsIt", 60],
          ["cleanup", 60, { finallyStep: true }],
        ),
      },
    );
    const [id = ""] = s.instances;
    const commandId = await s.send("test-exit");
    await s.aws.clock.advance(600_000);
    expect(await s.invocation(commandId, id)).toEqual({
      status: "Failed",
      steps: { needed: "Failed", needsIt: "Cancelled", cleanup: "Success" },
    });
    expect(s.ran).toEqual([`${id} needed`, `${id} cleanup`]);
  });

  it("treats a timed-out step like a failed one for onFailure: exit", async () => {
    const s = await ssm(
      { hangs: { ms: 10 * 3_600_000 } },
      { "test-hang": steps(["hangs", 60, { onFailure: "exit" }], ["after", 60]) },
    );
    const [id = ""] = s.instances;
    const commandId = await s.send("test-hang");
    await s.aws.clock.advance(600_000);
    expect(await s.invocation(commandId, id)).toEqual({
      status: "TimedOut",
      steps: { hangs: "TimedOut", after: "Cancelled" },
    });
  });

  it("with onFailure: successAndExit, stops and counts the step as successful", async () => {
    const s = await ssm(
      { check: { ms: 1_000, exitCode: 1 } },
      { "test-success-exit": steps(["check", 60, { onFailure: "successAndExit" }], ["work", 60]) },
    );
    const [id = ""] = s.instances;
    const commandId = await s.send("test-success-exit");
    await s.aws.clock.advance(600_000);
    expect(await s.invocation(commandId, id)).toEqual({
      status: "Success",
      steps: { check: "Success", work: "Cancelled" },
    });
  });

  it("stops the fleet's provision document at a failed step that later steps need", async () => {
    const s = await ssm({ mountBucket: { ms: 5_000, exitCode: 1 } });
    const [id = ""] = s.instances;
    const commandId = await s.send("test-provision", [id], provisionParameters(provisioned));
    await s.aws.clock.advance(3_600_000);
    expect(await s.invocation(commandId, id)).toEqual({
      status: "Failed",
      steps: {
        installPackages: "Success",
        buildDaemons: "Success",
        mountBucket: "Failed",
        fetchCertificate: "Cancelled",
        configurePureFtpd: "Cancelled",
        applyUsers: "Cancelled",
        configureHealth: "Cancelled",
      },
    });
    expect(s.ran).toEqual([`${id} installPackages`, `${id} buildDaemons`, `${id} mountBucket`]);
  });

  it("needs GetCommandInvocation's PluginName for a document of several steps, as SSM does", async () => {
    const s = await ssm({});
    const [id = ""] = s.instances;
    const provision = await s.send("test-provision", [id], provisionParameters(provisioned));
    const users = await s.send("test-apply-users", [id]);
    await s.aws.clock.advance(3_600_000);
    await expect(s.step(provision, id)).rejects.toMatchObject({ name: "InvalidPluginName" });
    await expect(s.step(provision, id, "noSuchStep")).rejects.toMatchObject({ name: "InvalidPluginName" });
    expect(await s.step(provision, id, "applyUsers")).toMatchObject({
      PluginName: "applyUsers",
      Status: "Success",
    });
    // One step: the name may be left out.
    expect(await s.step(users, id)).toMatchObject({ PluginName: "applyUsers", Status: "Success" });
  });
});

// --- EventBridge events of SSM, against the documented shape ------------------------------------

/** An event's shape: its keys and the types of their values, recursively. A command's parameters
 * are the document's: compared as "names to string lists", whatever the names. */
function shape(value: unknown, path = ""): unknown {
  if (Array.isArray(value))
    return [...new Set(value.map((v) => JSON.stringify(shape(v, `${path}[]`))))].sort();
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  if (path === ".detail.parameters") {
    return { "<parameter>": [...new Set(Object.values(value).map((v) => JSON.stringify(shape(v))))].sort() };
  }
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, shape(v, `${path}.${k}`)]),
  );
}

describe("SSM status events", () => {
  it("are published at both levels, in the shape AWS documents, for Success and Failed", async () => {
    const s = await ssm({});
    const [good = "", bad = ""] = s.instances;
    await s.send("test-provision", [good], provisionParameters(provisioned));
    await s.aws.clock.advance(3_600_000);
    s.aws.ssm.executor = scripted(() => s.aws.clock, { mountBucket: { ms: 1_000, exitCode: 1 } }).executor;
    await s.send("test-provision", [bad], provisionParameters(provisioned));
    await s.aws.clock.advance(3_600_000);
    const ssmEvents = s.aws.published.filter((e) => e.source === "aws.ssm");
    const find = (detailType: string, status: string) =>
      ssmEvents.find((e) => e["detail-type"] === detailType && e.detail.status === status);
    for (const [name, detailType, status] of [
      ["ssm-invocation-success", "EC2 Command Invocation Status-change Notification", "Success"],
      ["ssm-invocation-failed", "EC2 Command Invocation Status-change Notification", "Failed"],
      ["ssm-command-success", "EC2 Command Status-change Notification", "Success"],
      ["ssm-command-failed", "EC2 Command Status-change Notification", "Failed"],
    ] as const) {
      const documented = fixture(name);
      expect(documented).toMatchObject({ "detail-type": detailType, detail: { status } });
      const published = find(detailType, status);
      expect(published, `${detailType} ${status} published`).toBeDefined();
      expect(shape(published), name).toEqual(shape(documented));
    }
    // Every status change, not only the last, has its level's shape.
    for (const event of ssmEvents) {
      const level =
        event["detail-type"] === "EC2 Command Status-change Notification" ? "command" : "invocation";
      expect(shape(event)).toEqual(shape(fixture(`ssm-${level}-success`)));
    }
    expect(new Set(ssmEvents.map((e) => `${e["detail-type"]} ${e.detail.status}`))).toEqual(
      new Set(
        ["Pending", "InProgress", "Success", "Failed"].flatMap((status) => [
          `EC2 Command Invocation Status-change Notification ${status}`,
          `EC2 Command Status-change Notification ${status}`,
        ]),
      ),
    );
  });

  it("name the command's instances and its total timeout (delivery + every step) in the command-level event", async () => {
    const s = await ssm({});
    const commandId = await s.send("test-provision", s.instances, provisionParameters(provisioned));
    await s.aws.clock.advance(3_600_000);
    const done = s.aws.published.find(
      (e) =>
        e["detail-type"] === "EC2 Command Status-change Notification" &&
        e.detail["command-id"] === commandId &&
        e.detail.status === "Success",
    );
    const requested = Date.parse(String(done?.detail["requested-date-time"]));
    const steps = 900 + 300 + 1800 + 120 + 300 + 300 + 120;
    expect(Date.parse(String(done?.detail["expire-after"])) - requested).toBe((3600 + steps) * 1000);
    expect(done?.resources).toEqual(
      s.instances.map((id) => `arn:aws:ec2:us-east-1:123456789012:instance/${id}`),
    );
    expect(done?.detail.parameters).toMatchObject({ BucketName: ["ftpfleet-files"] });
  });
});

// --- SQS ----------------------------------------------------------------------------------------

/** Sends `count` messages and consumes them all successfully; returns how often each was handled. */
async function deliveries(settings: Partial<QueueSettings>, count: number): Promise<number[]> {
  const clock = new SimulatedClock();
  const queue = new SimulatedQueue(clock, settings);
  const client = queue.client();
  const bodies = Array.from({ length: count }, (_, i) => `m${i}`);
  for (const body of bodies)
    await clock.run(client.send(new SendMessageCommand({ QueueUrl: "simulated://q", MessageBody: body })));
  const handled = new Map<string, number>();
  queue.consume(
    async (messages) => {
      for (const m of messages) handled.set(m.body, (handled.get(m.body) ?? 0) + 1);
      return { failedMessageIds: [] };
    },
    { batchSize: 3, batchWindowMs: 0, concurrency: 1 },
  );
  await clock.advance(3_600_000);
  expect(queue.depth).toBe(0);
  await clock.run(queue.stop());
  return bodies.map((b) => handled.get(b) ?? 0);
}

describe("SimulatedQueue", () => {
  it("deletes a handled message for good by default", async () => {
    expect(await deliveries({}, 12)).toEqual(Array(12).fill(1));
  });

  it("with redeliverSucceeded every N, delivers every Nth handled message again", async () => {
    const counts = await deliveries({ redeliverSucceeded: { every: 4 } }, 8);
    // Handled in order m0..m7: the 4th and 8th successes are m3 and m7, which come back once (their
    // second handling is the 9th and 10th success).
    expect(counts).toEqual([1, 1, 1, 2, 1, 1, 1, 2]);
  });

  it("with a probability and a seed, redelivers handled messages the same way every run", async () => {
    const settings = { redeliverSucceeded: { probability: 0.3, seed: 42 } };
    const first = await deliveries(settings, 40);
    expect(await deliveries(settings, 40)).toEqual(first);
    const again = first.filter((n) => n > 1).length;
    expect(again).toBeGreaterThan(3);
    expect(again).toBeLessThan(25);
    expect(await deliveries({ redeliverSucceeded: { probability: 0.3, seed: 7 } }, 40)).not.toEqual(first);
  });
});
