import { ssmCommands } from "@ftpfleet/core";
import { type CommandExecutor, SimulatedAws, type SimulatedDocument } from "@ftpfleet/simulated-aws";
import { describe, expect, it } from "vitest";
import { testConfig } from "./support";

/** Three steps: `fast` succeeds at once, `slow` takes a minute, `fails` writes twelve lines to stderr and exits 1. */
const document: SimulatedDocument = {
  schemaVersion: "2.2",
  description: "adapter test",
  parameters: {},
  mainSteps: ["fast", "slow", "fails"].map((name) => ({
    name,
    inputs: { timeoutSeconds: 600, runCommand: [`echo ${name}`] },
  })),
};
const stderr = Array.from({ length: 12 }, (_, i) => `  line ${i + 1}`).join("\n");

function setup() {
  let aws: SimulatedAws | undefined;
  const executor: CommandExecutor = async ({ step }) => {
    if (step === "slow") await aws?.clock.sleep(60_000);
    return step === "fails"
      ? { exitCode: 1, stdout: "out\n", stderr }
      : { exitCode: 0, stdout: "ok\n", stderr: "" };
  };
  aws = new SimulatedAws({ config: testConfig(), commandExecutor: executor });
  aws.ssm.documents.set("adapter-test", document);
  const commands = ssmCommands(aws.ssm.client(), aws.clock);
  const launch = (n: number) => Array.from({ length: n }, () => aws.ec2.launch({}).instanceId);
  return { aws, commands, launch };
}

describe("ssmCommands", () => {
  it("lists as online only the asked instances whose agent is Online", async () => {
    const { aws, commands, launch } = setup();
    const [stopped = "", ...registered] = launch(54);
    const notAsked = launch(1);
    await aws.clock.advance(30_000);
    const late = launch(1);
    aws.ec2.setState(stopped, "stopped");
    const online = await aws.clock.run(commands.onlineAgents([stopped, ...registered, ...late]));
    expect([...online].sort()).toEqual([...registered].sort());
    expect(online.has(notAsked[0] ?? "")).toBe(false);
  });

  it("sends one command per 50 instances and names the instances it could not reach", async () => {
    const { aws, commands, launch } = setup();
    const ready = launch(59);
    await aws.clock.advance(30_000);
    const [unregistered = ""] = launch(1);
    const ids = [...ready.slice(0, 30), unregistered, ...ready.slice(30)];
    const { sent, refused } = await aws.clock.run(commands.send("adapter-test", ids, {}));
    expect(refused).toEqual([unregistered]);
    expect([...sent.keys()].sort()).toEqual([...ready].sort());
    // The second chunk went out whole; the first instance by instance around the unregistered one.
    expect(new Set(ready.slice(49).map((id) => sent.get(id))).size).toBe(1);
    expect(new Set(ready.slice(0, 49).map((id) => sent.get(id))).size).toBe(49);
    for (const id of ready) expect(aws.ssm.invocations.has(`${sent.get(id)}/${id}`)).toBe(true);
  });

  it("sends exactly 50 instances as one command", async () => {
    const { aws, commands, launch } = setup();
    const ids = launch(50);
    await aws.clock.advance(30_000);
    const { sent, refused } = await aws.clock.run(commands.send("adapter-test", ids, {}));
    expect(refused).toEqual([]);
    expect(new Set(sent.values()).size).toBe(1);
    expect(sent.size).toBe(50);
  });

  it("lets any other refusal reach the caller", async () => {
    const { aws, commands, launch } = setup();
    const ids = launch(2);
    await aws.clock.advance(30_000);
    await expect(aws.clock.run(commands.send("no-such-document", ids, {}))).rejects.toMatchObject({
      name: "InvalidDocument",
    });
  });

  it("reports an invocation still running without a failed step, waiting until SSM lists it", async () => {
    const { aws, commands, launch } = setup();
    const [id = ""] = launch(1);
    await aws.clock.advance(30_000);
    const { sent } = await aws.clock.run(commands.send("adapter-test", [id], {}));
    // Asked at once: SSM does not list the invocation yet.
    const early = await aws.clock.run(commands.invocation(sent.get(id) ?? "", id));
    expect(early).toStrictEqual({
      document: "adapter-test",
      status: expect.stringMatching(/^(Pending|InProgress)$/),
      stderrHead: "",
    });
    // `fast` succeeded, `slow` is running, `fails` has not started: nothing has failed yet.
    await aws.clock.advance(30_000);
    const running = await aws.clock.run(commands.invocation(sent.get(id) ?? "", id));
    expect(running).toStrictEqual({ document: "adapter-test", status: "InProgress", stderrHead: "" });
  });

  it("names the failed step, the head of its stderr and where its output is, under the default prefix", async () => {
    const { aws, commands, launch } = setup();
    const [id = ""] = launch(1);
    await aws.clock.advance(30_000);
    const { sent } = await aws.clock.run(
      commands.send("adapter-test", [id], {}, { outputBucket: "ssm-output", comment: "provision" }),
    );
    await aws.clock.advance(120_000);
    const commandId = sent.get(id) ?? "";
    const failed = await aws.clock.run(commands.invocation(commandId, id));
    expect(failed).toStrictEqual({
      document: "adapter-test",
      status: "Failed",
      failedStep: "fails",
      stderrHead: Array.from({ length: 10 }, (_, i) => `line ${i + 1}`)
        .join("\n  ")
        .trim(),
      outputUrl: `https://s3.us-east-1.amazonaws.com/ssm-output/ssm/adapter-test/${commandId}/${id}/awsrunShellScript/fails/stderr`,
      // Sent at once; the agent was online: delivery, then the steps up to the failed one.
      durationMs: expect.any(Number),
    });
    expect(failed.durationMs).toBeGreaterThan(0);
    expect(failed.durationMs).toBeLessThanOrEqual(120_000);
  });

  it("keeps a given output prefix", async () => {
    const { aws, commands, launch } = setup();
    const [id = ""] = launch(1);
    await aws.clock.advance(30_000);
    const { sent } = await aws.clock.run(
      commands.send("adapter-test", [id], {}, { outputBucket: "ssm-output", outputPrefix: "runs" }),
    );
    await aws.clock.advance(120_000);
    const failed = await aws.clock.run(commands.invocation(sent.get(id) ?? "", id));
    expect(failed.outputUrl).toMatch(/\/ssm-output\/runs\//);
  });
});
