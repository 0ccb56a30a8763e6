import { randomUUID } from "node:crypto";
import {
  type DescribeInstanceInformationCommandInput,
  type GetCommandInvocationCommandInput,
  type SendCommandCommandInput,
  SSMClient,
  SSMServiceException,
} from "@aws-sdk/client-ssm";
import type { Clock } from "@ftpfleet/core";
import { InvalidInputError, SSM_INVOCATION_DETAIL_TYPE } from "@ftpfleet/core";
import { type CommandDocument, parameterEnvironment, resolveParameters } from "@ftpfleet/core/documents";
import type { EventBridgeEvent } from "./autoscaling";
import type { SimulatedEc2 } from "./ec2";
import { CallLog, Faults } from "./faults";
import { answerFrom, offlineClientConfig } from "./sdk";

/** What runs a command on an instance: in tests a scripted outcome, in local mode the real scripts. */
export type CommandExecutor = (run: {
  document: string;
  instanceId: string;
  /** SSM_<Name> variables, as ENV_VAR interpolation hands them to the shell. */
  environment: Record<string, string>;
}) => Promise<{ exitCode: number; stdout: string; stderr: string }>;

interface Invocation {
  commandId: string;
  instanceId: string;
  document: string;
  status: string;
  stdout: string;
  stderr: string;
  requestedAt: number;
  output?: { bucket: string; prefix: string };
}

/** SSM keeps this much of a command's output inline; the rest is only in the S3 output bucket. */
export const INLINE_STDOUT_LIMIT = 24_000;
export const INLINE_STDERR_LIMIT = 8_000;

export interface SsmSettings {
  /** Time from an instance's launch until its agent is registered and Online. */
  agentDelayMs: number;
  /** Time from SendCommand until GetCommandInvocation knows the invocation. */
  registrationDelayMs: number;
  /** Pending → InProgress. */
  deliveryDelayMs: number;
}

const error = (name: string, message: string) =>
  new SSMServiceException({ name, $fault: "client", $metadata: { httpStatusCode: 400 }, message });

/** A stateful SSM Run Command: agents come online some time after launch (and go away when the
 * instance stops); SendCommand checks documents, parameters (allowedPattern) and instances as SSM
 * does; invocations go Pending → InProgress → Success/Failed/TimedOut, each change published as
 * EventBridge does; outputs are truncated inline like SSM's. */
export class SimulatedSsm {
  readonly calls = new CallLog();
  readonly faults = new Faults();
  /** Simulated time each API call takes. */
  latencyMs = 0;
  readonly documents = new Map<string, CommandDocument>();
  readonly invocations = new Map<string, Invocation>();

  constructor(
    readonly clock: Clock,
    readonly ec2: SimulatedEc2,
    readonly publish: (event: EventBridgeEvent) => void,
    public executor: CommandExecutor,
    readonly settings: SsmSettings = {
      agentDelayMs: 20_000,
      registrationDelayMs: 500,
      deliveryDelayMs: 1_000,
    },
  ) {}

  client(): SSMClient {
    return answerFrom(
      new SSMClient(offlineClientConfig),
      "SSM",
      {
        DescribeInstanceInformation: (input: DescribeInstanceInformationCommandInput) =>
          this.#call("DescribeInstanceInformation", () => this.#describe(input)),
        SendCommand: (input: SendCommandCommandInput) => this.#call("SendCommand", () => this.#send(input)),
        GetCommandInvocation: (input: GetCommandInvocationCommandInput) =>
          this.#call("GetCommandInvocation", () => this.#get(input)),
      },
      this,
    );
  }

  /** Online, ConnectionLost, or undefined when the agent never registered. */
  pingStatus(instanceId: string): string | undefined {
    const instance = this.ec2.instances.get(instanceId);
    if (!instance || this.clock.now() < instance.launchedAt + this.settings.agentDelayMs) return undefined;
    return instance.state === "running" ? "Online" : "ConnectionLost";
  }

  #call<T>(command: string, run: () => T): T {
    this.calls.count(command);
    this.faults.check(command);
    return run();
  }

  #describe(input: DescribeInstanceInformationCommandInput) {
    const filter = input.Filters?.find((f) => f.Key === "InstanceIds")?.Values;
    const ids = filter ?? [...this.ec2.instances.keys()];
    return {
      InstanceInformationList: ids
        .map((id) => ({ InstanceId: id, PingStatus: this.pingStatus(id), PlatformType: "Linux" }))
        .filter((info) => info.PingStatus !== undefined),
    };
  }

  #send(input: SendCommandCommandInput) {
    const document = this.documents.get(input.DocumentName ?? "");
    if (!document) throw error("InvalidDocument", `document ${input.DocumentName} does not exist`);
    const ids = input.InstanceIds ?? [];
    if (ids.length === 0 || ids.length > 50)
      throw error("ValidationException", "InstanceIds: 1 to 50 instances");
    const unreachable = ids.filter((id) => this.pingStatus(id) !== "Online");
    if (unreachable.length > 0)
      throw error(
        "InvalidInstanceId",
        `Instances [[${unreachable.join(", ")}]] not in a valid state for account`,
      );
    let parameters: Record<string, string>;
    try {
      parameters = resolveParameters(document, input.Parameters ?? {});
    } catch (invalid) {
      throw error(
        "InvalidParameters",
        invalid instanceof InvalidInputError ? invalid.message : String(invalid),
      );
    }
    const commandId = randomUUID();
    const name = input.DocumentName ?? "";
    const timeoutMs = document.mainSteps.reduce((sum, step) => sum + step.inputs.timeoutSeconds, 0) * 1000;
    for (const instanceId of ids) {
      const invocation: Invocation = {
        commandId,
        instanceId,
        document: name,
        status: "Pending",
        stdout: "",
        stderr: "",
        requestedAt: this.clock.now(),
        ...(input.OutputS3BucketName
          ? { output: { bucket: input.OutputS3BucketName, prefix: input.OutputS3KeyPrefix ?? "" } }
          : {}),
      };
      this.invocations.set(`${commandId}/${instanceId}`, invocation);
      this.#announce(invocation);
      void this.#run(invocation, parameterEnvironment(parameters), timeoutMs);
    }
    return { Command: { CommandId: commandId, DocumentName: name, InstanceIds: ids, Status: "Pending" } };
  }

  async #run(invocation: Invocation, environment: Record<string, string>, timeoutMs: number): Promise<void> {
    await this.clock.sleep(this.settings.deliveryDelayMs);
    this.#update(invocation, "InProgress");
    const timedOut = "timed out" as const;
    const result = await Promise.race([
      this.executor({ document: invocation.document, instanceId: invocation.instanceId, environment }).catch(
        (e: unknown) => ({
          exitCode: 1,
          stdout: "",
          stderr: String(e),
        }),
      ),
      this.clock.sleep(timeoutMs).then(() => timedOut),
    ]);
    if (typeof result === "string") {
      this.#update(invocation, "TimedOut");
      return;
    }
    invocation.stdout = result.stdout;
    invocation.stderr = result.stderr;
    this.#update(invocation, result.exitCode === 0 ? "Success" : "Failed");
  }

  #update(invocation: Invocation, status: string): void {
    invocation.status = status;
    this.#announce(invocation);
  }

  #announce(invocation: Invocation): void {
    this.publish({
      version: "0",
      id: randomUUID(),
      "detail-type": SSM_INVOCATION_DETAIL_TYPE,
      source: "aws.ssm",
      account: "123456789012",
      time: new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z"),
      region: "us-east-1",
      resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${invocation.instanceId}`],
      detail: {
        "command-id": invocation.commandId,
        "document-name": invocation.document,
        "instance-id": invocation.instanceId,
        "requested-date-time": new Date(invocation.requestedAt).toISOString(),
        status: invocation.status,
      },
    });
  }

  #get(input: GetCommandInvocationCommandInput) {
    const invocation = this.invocations.get(`${input.CommandId}/${input.InstanceId}`);
    if (!invocation || this.clock.now() < invocation.requestedAt + this.settings.registrationDelayMs) {
      throw error("InvocationDoesNotExist", "An error occurred (InvocationDoesNotExist)");
    }
    const url = (stream: string) =>
      invocation.output
        ? `https://s3.us-east-1.amazonaws.com/${invocation.output.bucket}/${invocation.output.prefix}/${invocation.commandId}/${invocation.instanceId}/awsrunShellScript/${stream}`
        : "";
    return {
      CommandId: invocation.commandId,
      InstanceId: invocation.instanceId,
      DocumentName: invocation.document,
      Status: invocation.status,
      StandardOutputContent: invocation.stdout.slice(0, INLINE_STDOUT_LIMIT),
      StandardErrorContent: invocation.stderr.slice(0, INLINE_STDERR_LIMIT),
      StandardOutputUrl: url("stdout"),
      StandardErrorUrl: url("stderr"),
    };
  }
}

/** The default executor of the simulation: every command succeeds after `ms`. */
export function succeedsAfter(clock: Clock, ms: number): CommandExecutor {
  return async ({ document }) => {
    await clock.sleep(ms);
    return { exitCode: 0, stdout: `${document}: done\n`, stderr: "" };
  };
}
