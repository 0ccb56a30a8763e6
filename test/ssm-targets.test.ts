import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  type ListCommandsCommandInput,
  SendCommandCommand,
  type SendCommandCommandInput,
} from "@aws-sdk/client-ssm";
import {
  type CommandExecutor,
  INLINE_STDOUT_LIMIT,
  SimulatedAws,
  SimulatedClock,
  type SimulatedDocument,
} from "@ftpfleet/simulated-aws";
import { describe, expect, it } from "vitest";
import { testConfig } from "./support";

/** SendCommand by Targets with rate controls, ListCommands, the agent's environment and the full
 * output in S3, driven through a real SSMClient as SSM documents them. */

const GROUP_TAG = "aws:autoscaling:groupName";
const config = testConfig();
const group = { Key: `tag:${GROUP_TAG}`, Values: [config.asgName] };

/** Two one-minute steps: `work` prints more than SSM keeps inline (or fails on a failing instance),
 * `report` writes a line to stderr. Greeting reaches the shell as SSM_Greeting. */
const document: SimulatedDocument = {
  schemaVersion: "2.2",
  description: "targets test",
  parameters: {
    Greeting: {
      type: "String",
      description: "a word",
      default: "hello",
      interpolationType: "ENV_VAR",
      allowedPattern: "^[a-z]+$",
    },
  },
  mainSteps: ["work", "report"].map((name) => ({
    name,
    inputs: { timeoutSeconds: 600, runCommand: [`echo ${name}`] },
  })),
};
const workOutput = (instanceId: string) => `${instanceId}\n${"x".repeat(30_000)}\n`;

interface StepRun {
  instanceId: string;
  step: string;
  start: number;
  end: number;
  environment: Record<string, string>;
  agentEnvironment: Record<string, string>;
}

function setup() {
  const clock = new SimulatedClock();
  const runs: StepRun[] = [];
  const failing = new Set<string>();
  const executor: CommandExecutor = async ({ instanceId, step, environment, agentEnvironment }) => {
    const start = clock.now();
    await clock.sleep(60_000);
    runs.push({ instanceId, step, start, end: clock.now(), environment, agentEnvironment });
    if (step === "report") return { exitCode: 0, stdout: "", stderr: `${instanceId} report\n` };
    return failing.has(instanceId)
      ? { exitCode: 1, stdout: "", stderr: `${instanceId} broke\n` }
      : { exitCode: 0, stdout: workOutput(instanceId), stderr: "" };
  };
  const aws = new SimulatedAws({ config, clock, commandExecutor: executor });
  aws.ssm.documents.set("targets-test", document);
  const client = aws.ssm.client();
  const send = async (input: Partial<SendCommandCommandInput>) =>
    (await clock.run(client.send(new SendCommandCommand({ DocumentName: "targets-test", ...input }))))
      .Command;
  const commands = async (input: ListCommandsCommandInput) =>
    clock.run(client.send(new ListCommandsCommand(input)));
  const command = async (commandId: string) => (await commands({ CommandId: commandId })).Commands?.[0];
  const invocations = async (commandId: string) =>
    (await clock.run(client.send(new ListCommandInvocationsCommand({ CommandId: commandId }))))
      .CommandInvocations ?? [];
  const step = (commandId: string, instanceId: string, PluginName: string) =>
    clock.run(
      client.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId, PluginName }),
      ),
    );
  /** The group at `size`, its agents online. */
  const groupOf = async (size: number) => {
    aws.autoscaling.setDesired(size);
    await clock.advance(30_000);
    return [...aws.autoscaling.members.keys()];
  };
  return { aws, clock, runs, failing, send, commands, command, invocations, step, groupOf };
}

/** Each instance's run of the document: from its first step's start to its last step's end. */
function windows(runs: readonly StepRun[]): { instanceId: string; start: number; end: number }[] {
  const byInstance = new Map<string, { instanceId: string; start: number; end: number }>();
  for (const run of runs) {
    const seen = byInstance.get(run.instanceId);
    byInstance.set(run.instanceId, {
      instanceId: run.instanceId,
      start: Math.min(seen?.start ?? run.start, run.start),
      end: Math.max(seen?.end ?? run.end, run.end),
    });
  }
  return [...byInstance.values()].sort((a, b) => a.start - b.start);
}

/** The most instances running the document at one instant. */
function peakConcurrency(runs: readonly StepRun[]): number {
  const spans = windows(runs);
  return Math.max(0, ...spans.map((s) => spans.filter((o) => o.start <= s.start && s.start < o.end).length));
}

describe("SendCommand's choice of instances and rate controls", () => {
  it("refuses, naming the field, what SendCommand's API refuses", async () => {
    const s = setup();
    const [instance = ""] = await s.groupOf(1);
    const tooLong = `tag:${"k".repeat(160)}`;
    const refused: [string, Partial<SendCommandCommandInput>, RegExp][] = [
      ["both", { InstanceIds: [instance], Targets: [group] }, /InstanceIds.*Targets/],
      ["neither", {}, /InstanceIds.*Targets/],
      ["six targets", { Targets: Array.from({ length: 6 }, () => group) }, /at 'targets'/],
      [
        "a key outside the pattern",
        { Targets: [{ Key: "tag:a*b", Values: ["x"] }] },
        /targets\.1\.member\.key/,
      ],
      ["a key of 164 characters", { Targets: [{ Key: tooLong, Values: ["x"] }] }, /between 1 and 163/],
      [
        "51 values",
        { Targets: [group, { Key: "tag:Role", Values: Array.from({ length: 51 }, (_, i) => `r${i}`) }] },
        /targets\.2\.member\.values/,
      ],
      [
        "a key Run Command does not know",
        { Targets: [{ Key: "Environment", Values: ["x"] }] },
        /Environment/,
      ],
      ["MaxConcurrency 0", { Targets: [group], MaxConcurrency: "0" }, /'maxConcurrency'/],
      ["MaxConcurrency 0%", { Targets: [group], MaxConcurrency: "0%" }, /'maxConcurrency'/],
      ["MaxConcurrency 101%", { Targets: [group], MaxConcurrency: "101%" }, /'maxConcurrency'/],
      ["MaxErrors -1", { Targets: [group], MaxErrors: "-1" }, /'maxErrors'/],
      ["MaxErrors 101%", { Targets: [group], MaxErrors: "101%" }, /'maxErrors'/],
      [
        "MaxErrors of 8 characters",
        { Targets: [group], MaxErrors: "12345678" },
        /'maxErrors'.*between 1 and 7/,
      ],
    ];
    for (const [what, input, field] of refused) {
      await expect(s.send(input), what).rejects.toMatchObject({
        name: "ValidationException",
        message: expect.stringMatching(field),
      });
    }
    expect(s.aws.ssm.commands.size).toBe(0);
    // The patterns' edges are accepted.
    for (const controls of [
      { MaxConcurrency: "100%", MaxErrors: "100%" },
      { MaxConcurrency: "1", MaxErrors: "0" },
      { MaxConcurrency: "9%", MaxErrors: "0%" },
      { MaxConcurrency: "1234567", MaxErrors: "99%" },
    ]) {
      expect(await s.send({ Targets: [group], ...controls })).toMatchObject({ ...controls, TargetCount: 1 });
    }
  });

  it("by the group's tag reaches exactly the group's running instances whose agent is Online", async () => {
    const s = setup();
    const [first = "", second = "", stopped = ""] = await s.groupOf(3);
    const elsewhere = s.aws.ec2.launch({ [GROUP_TAG]: "another-group" }).instanceId;
    await s.clock.advance(30_000);
    s.aws.ec2.setState(stopped, "stopped");
    s.aws.autoscaling.setDesired(4);
    const late = [...s.aws.autoscaling.members.keys()].find((id) => ![first, second, stopped].includes(id));
    expect(late).toBeDefined();
    const sent = await s.send({ Targets: [group] });
    // The command as asked: by Targets, with SSM's default rate controls.
    expect(sent).toMatchObject({
      Targets: [group],
      InstanceIds: [],
      MaxConcurrency: "50",
      MaxErrors: "0",
      TargetCount: 2,
      Status: "Pending",
    });
    // InstanceIds, by contrast, refuses an instance whose agent is not online.
    await expect(s.send({ InstanceIds: [late ?? ""] })).rejects.toMatchObject({ name: "InvalidInstanceId" });
    await s.clock.advance(600_000);
    const reached = (await s.invocations(sent?.CommandId ?? "")).map((i) => i.InstanceId).sort();
    expect(reached).toEqual([first, second].sort());
    expect(new Set(s.runs.map((r) => r.instanceId))).toEqual(new Set([first, second]));
    expect(reached).not.toContain(elsewhere);
  });

  it("ANDs several targets and ORs a target's values; tag-key takes tag keys, InstanceIds instance ids", async () => {
    const s = setup();
    const launch = (tags: Record<string, string>) => s.aws.ec2.launch(tags).instanceId;
    const webProd = launch({ Role: "web", Env: "prod" });
    const dbProd = launch({ Role: "db", Env: "prod" });
    const webTest = launch({ Role: "web", Env: "test" });
    const team = launch({ Team: "x" });
    await s.clock.advance(30_000);
    const reached = async (Targets: SendCommandCommandInput["Targets"]) => {
      const sent = await s.send({ Targets });
      await s.clock.advance(1_000);
      return (await s.invocations(sent?.CommandId ?? "")).map((i) => i.InstanceId).sort();
    };
    expect(
      await reached([
        { Key: "tag:Role", Values: ["web", "db"] },
        { Key: "tag:Env", Values: ["prod"] },
      ]),
    ).toEqual([webProd, dbProd].sort());
    expect(await reached([{ Key: "tag-key", Values: ["Team", "Owner"] }])).toEqual([team]);
    expect(await reached([{ Key: "InstanceIds", Values: [webProd, webTest] }])).toEqual(
      [webProd, webTest].sort(),
    );
    expect(await reached([{ Key: "instanceids", Values: [team] }])).toEqual([team]);
  });

  it("succeeds with no targets when Targets match no managed instance (No Instances In Tag)", async () => {
    const s = setup();
    await s.groupOf(2);
    const sent = await s.send({ Targets: [{ Key: "tag:Role", Values: ["nothing"] }] });
    expect(sent).toMatchObject({ TargetCount: 0, Status: "Pending" });
    expect(await s.command(sent?.CommandId ?? "")).toMatchObject({
      Status: "Success",
      StatusDetails: "NoInstancesInTag",
      TargetCount: 0,
      CompletedCount: 0,
      ErrorCount: 0,
    });
    expect(s.runs).toEqual([]);
    const published = s.aws.published.filter(
      (e) =>
        e["detail-type"] === "EC2 Command Status-change Notification" &&
        e.detail["command-id"] === sent?.CommandId,
    );
    expect(published.map((e) => e.detail.status)).toEqual(["Pending", "Success"]);
  });

  it("hands the agent's own variables apart from the document's parameters", async () => {
    const s = setup();
    const [instance = ""] = await s.groupOf(1);
    await s.send({ Targets: [group], Parameters: { Greeting: ["hi"] } });
    await s.clock.advance(600_000);
    expect(s.runs.map((r) => r.step)).toEqual(["work", "report"]);
    for (const run of s.runs) {
      expect(run.environment).toEqual({ SSM_Greeting: "hi" });
      expect(run.agentEnvironment).toEqual({
        AWS_SSM_INSTANCE_ID: instance,
        AWS_SSM_REGION_NAME: "us-east-1",
      });
    }
  });
});

describe("SendCommand's MaxConcurrency", () => {
  it("with 1, runs one instance at a time: no two instances' steps overlap", async () => {
    const s = setup();
    const instances = await s.groupOf(3);
    const sent = await s.send({ Targets: [group], MaxConcurrency: "1" });
    await s.clock.advance(60_000);
    // One instance runs; the others wait, Pending, not yet sent.
    expect((await s.invocations(sent?.CommandId ?? "")).map((i) => i.Status).sort()).toEqual([
      "InProgress",
      "Pending",
      "Pending",
    ]);
    await s.clock.advance(900_000);
    const spans = windows(s.runs);
    expect(spans.map((w) => w.instanceId)).toEqual(instances);
    for (const [n, span] of spans.entries()) {
      if (n > 0) expect(span.start).toBeGreaterThanOrEqual(spans[n - 1]?.end ?? Number.POSITIVE_INFINITY);
    }
    expect(await s.command(sent?.CommandId ?? "")).toMatchObject({ Status: "Success", CompletedCount: 3 });
  });

  it("as a percentage, of the target count; by default, all at once", async () => {
    const s = setup();
    await s.groupOf(4);
    // Each run takes a little over two minutes.
    await s.send({ Targets: [group], MaxConcurrency: "50%" });
    await s.clock.advance(600_000);
    expect(peakConcurrency(s.runs)).toBe(2);
    s.runs.length = 0;
    // 10% of 4 comes to none: one at a time.
    await s.send({ Targets: [group], MaxConcurrency: "10%" });
    await s.clock.advance(900_000);
    expect(peakConcurrency(s.runs)).toBe(1);
    expect(windows(s.runs)).toHaveLength(4);
    s.runs.length = 0;
    await s.send({ Targets: [group] });
    await s.clock.advance(600_000);
    expect(peakConcurrency(s.runs)).toBe(4);
  });
});

describe("SendCommand's MaxErrors", () => {
  it("with 0, the first failure stops the command: the instances not yet sent to never run and end Terminated", async () => {
    const s = setup();
    const [broken = "", ...rest] = await s.groupOf(3);
    s.failing.add(broken);
    const sent = await s.send({ Targets: [group], MaxConcurrency: "1" });
    const commandId = sent?.CommandId ?? "";
    await s.clock.advance(900_000);
    expect(new Set(s.runs.map((r) => r.instanceId))).toEqual(new Set([broken]));
    const statuses = Object.fromEntries(
      (await s.invocations(commandId)).map((i) => [i.InstanceId, [i.Status, i.StatusDetails]]),
    );
    expect(statuses).toEqual({
      [broken]: ["Failed", "Failed"],
      ...Object.fromEntries(rest.map((id) => [id, ["Cancelled", "Terminated"]])),
    });
    expect(await s.step(commandId, rest[0] ?? "", "work")).toMatchObject({
      Status: "Cancelled",
      StatusDetails: "Terminated",
      ResponseCode: -1,
    });
    expect(await s.command(commandId)).toMatchObject({
      Status: "Failed",
      StatusDetails: "Failed",
      TargetCount: 3,
      CompletedCount: 3,
      ErrorCount: 1,
      DeliveryTimedOutCount: 0,
    });
  });

  it("lets invocations already running finish after the limit is passed", async () => {
    const s = setup();
    const [broken = "", running = "", ...unsent] = await s.groupOf(4);
    s.failing.add(broken);
    const sent = await s.send({ Targets: [group], MaxConcurrency: "2" });
    await s.clock.advance(900_000);
    const statuses = Object.fromEntries(
      (await s.invocations(sent?.CommandId ?? "")).map((i) => [i.InstanceId, i.StatusDetails]),
    );
    expect(statuses).toEqual({
      [broken]: "Failed",
      [running]: "Success",
      ...Object.fromEntries(unsent.map((id) => [id, "Terminated"])),
    });
    expect(await s.command(sent?.CommandId ?? "")).toMatchObject({ Status: "Failed", ErrorCount: 1 });
  });

  it("within the limit, runs everywhere; the command does not fail but is Incomplete", async () => {
    const s = setup();
    const [broken = ""] = await s.groupOf(3);
    s.failing.add(broken);
    const sent = await s.send({ Targets: [group], MaxConcurrency: "1", MaxErrors: "1" });
    await s.clock.advance(900_000);
    expect(new Set(s.runs.map((r) => r.instanceId)).size).toBe(3);
    expect(await s.command(sent?.CommandId ?? "")).toMatchObject({
      Status: "Success",
      StatusDetails: "Incomplete",
      CompletedCount: 3,
      ErrorCount: 1,
    });
  });
});

describe("ListCommands", () => {
  it("counts the targets, the ended and the failed invocations while the command runs", async () => {
    const s = setup();
    const [broken = ""] = await s.groupOf(3);
    s.failing.add(broken);
    const sent = await s.send({ Targets: [group], MaxConcurrency: "1", MaxErrors: "2", Comment: "apply" });
    const commandId = sent?.CommandId ?? "";
    // The first instance's two steps and the second's delivery.
    await s.clock.advance(125_000);
    expect(await s.command(commandId)).toMatchObject({
      CommandId: commandId,
      DocumentName: "targets-test",
      Comment: "apply",
      Targets: [group],
      InstanceIds: [],
      MaxConcurrency: "1",
      MaxErrors: "2",
      Status: "InProgress",
      StatusDetails: "InProgress",
      TargetCount: 3,
      CompletedCount: 1,
      ErrorCount: 1,
      DeliveryTimedOutCount: 0,
      RequestedDateTime: new Date(sent?.RequestedDateTime ?? 0),
    });
    await s.clock.advance(900_000);
    expect(await s.command(commandId)).toMatchObject({ Status: "Success", CompletedCount: 3, ErrorCount: 1 });
  });

  it("lists every command newest first, a page at a time, or one by id, and refuses an unknown id", async () => {
    const s = setup();
    const [instance = ""] = await s.groupOf(1);
    const byIds = await s.send({ InstanceIds: [instance], OutputS3BucketName: "ssm-output" });
    const byTargets = await s.send({ Targets: [group] });
    const third = await s.send({ Targets: [group] });
    const all = await s.commands({});
    expect(all.Commands?.map((c) => c.CommandId)).toEqual([third, byTargets, byIds].map((c) => c?.CommandId));
    expect(all.NextToken).toBeUndefined();
    // Sent by InstanceIds: listed with them, and no Targets.
    expect(all.Commands?.[2]).toMatchObject({
      InstanceIds: [instance],
      Targets: [],
      OutputS3BucketName: "ssm-output",
      OutputS3KeyPrefix: "",
    });
    const first = await s.commands({ MaxResults: 2 });
    expect(first.Commands).toHaveLength(2);
    const next = await s.commands({ MaxResults: 2, NextToken: first.NextToken });
    expect(next.Commands?.map((c) => c.CommandId)).toEqual([byIds?.CommandId]);
    expect((await s.commands({ CommandId: byTargets?.CommandId })).Commands?.map((c) => c.CommandId)).toEqual(
      [byTargets?.CommandId],
    );
    await expect(s.commands({ CommandId: "00000000-0000-4000-8000-000000000000" })).rejects.toMatchObject({
      name: "InvalidCommandId",
    });
    await expect(s.commands({ MaxResults: 51 })).rejects.toMatchObject({
      name: "ValidationException",
      message: expect.stringMatching(/'maxResults'/),
    });
  });
});

describe("The output bucket", () => {
  it("receives each step's complete output at <prefix>/<command>/<instance>/awsrunShellScript/<step>/<stream>", async () => {
    const s = setup();
    const uploads = new Map<string, string>();
    s.aws.ssm.outputSink = async (bucket, key, body) => {
      uploads.set(`${bucket}/${key}`, body);
    };
    const instances = await s.groupOf(2);
    const sent = await s.send({
      Targets: [group],
      OutputS3BucketName: "ssm-output",
      OutputS3KeyPrefix: "runs/apply",
    });
    const commandId = sent?.CommandId ?? "";
    expect(sent).toMatchObject({ OutputS3BucketName: "ssm-output", OutputS3KeyPrefix: "runs/apply" });
    await s.clock.advance(600_000);
    const at = (instanceId: string, step: string, stream: string) =>
      `ssm-output/runs/apply/${commandId}/${instanceId}/awsrunShellScript/${step}/${stream}`;
    // The agent uploads only the streams a step wrote to.
    expect([...uploads.keys()].sort()).toEqual(
      instances.flatMap((id) => [at(id, "work", "stdout"), at(id, "report", "stderr")]).sort(),
    );
    for (const id of instances) {
      expect(uploads.get(at(id, "work", "stdout"))).toBe(workOutput(id));
      expect(uploads.get(at(id, "report", "stderr"))).toBe(`${id} report\n`);
      // Inline, SSM keeps only the head; its URL names the object holding the rest.
      const work = await s.step(commandId, id, "work");
      expect(work.StandardOutputContent).toHaveLength(INLINE_STDOUT_LIMIT);
      expect(work.StandardOutputUrl).toBe(`https://s3.us-east-1.amazonaws.com/${at(id, "work", "stdout")}`);
    }
  });

  it("without a prefix starts at the command id; a failed upload is told in the step's stderr", async () => {
    const s = setup();
    s.aws.ssm.outputSink = async () => {
      throw new Error("bucket gone");
    };
    const [instance = ""] = await s.groupOf(1);
    const sent = await s.send({ Targets: [group], OutputS3BucketName: "ssm-output" });
    const commandId = sent?.CommandId ?? "";
    await s.clock.advance(600_000);
    const work = await s.step(commandId, instance, "work");
    expect(work.StandardOutputUrl).toBe(
      `https://s3.us-east-1.amazonaws.com/ssm-output/${commandId}/${instance}/awsrunShellScript/work/stdout`,
    );
    expect(work).toMatchObject({
      Status: "Success",
      StandardErrorContent: expect.stringMatching(/bucket gone/),
    });
  });
});
