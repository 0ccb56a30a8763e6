import { randomUUID } from "node:crypto";
import {
  type DescribeInstanceInformationCommandInput,
  type GetCommandInvocationCommandInput,
  type ListCommandInvocationsCommandInput,
  type SendCommandCommandInput,
  SSMClient,
  SSMServiceException,
} from "@aws-sdk/client-ssm";
import type { Clock } from "@ftpfleet/core";
import { InvalidInputError, SSM_COMMAND_DETAIL_TYPE, SSM_INVOCATION_DETAIL_TYPE } from "@ftpfleet/core";
import { type CommandDocument, parameterEnvironment, resolveParameters } from "@ftpfleet/core/documents";
import type { EventBridgeEvent } from "./autoscaling";
import type { SimulatedEc2 } from "./ec2";
import { CallLog, Faults } from "./faults";
import { answerFrom, offlineClientConfig } from "./sdk";

/** One step of a Command document, on one instance: what the SSM agent hands one plugin. */
export interface CommandStep {
  document: string;
  instanceId: string;
  /** The step's `name` in mainSteps. */
  step: string;
  /** The step's `runCommand` lines, as the registered document holds them (the fleet's documents
   * as written: `@script NAME.sh` names a script in documents/scripts/). */
  runCommand: readonly string[];
  /** SSM_<Name> variables, as ENV_VAR interpolation hands them to the shell. */
  environment: Record<string, string>;
}

export interface StepResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What runs a command on an instance, one step at a time (SSM calls it once per step, each with its
 * own timeout): in tests a scripted outcome, in local mode the real scripts. */
export type CommandExecutor = (step: CommandStep) => Promise<StepResult>;

/** A schema 2.2 Command document as the simulation runs it: the fleet's documents, or any other a
 * test registers. The step inputs SSM shares across plugins decide what runs after a step. */
export type SimulatedDocument = Omit<CommandDocument, "mainSteps"> & {
  mainSteps: readonly {
    name: string;
    inputs: {
      timeoutSeconds: number;
      runCommand: readonly string[];
      /** exit: a failed step ends the run (the step stays failed); successAndExit: it ends the run
       * and the step counts as successful. Without it, the next steps run after a failure. */
      onFailure?: "exit" | "successAndExit";
      /** exit: a successful step ends the run. */
      onSuccess?: "exit";
      /** Runs even after an exit (it must be the last step). */
      finallyStep?: boolean;
    };
  }[];
};

type PluginStatus = "Pending" | "InProgress" | "Success" | "Failed" | "TimedOut" | "Cancelled";

/** One step's run on one instance (a "plugin" in SSM's API). */
interface PluginRun {
  name: string;
  status: PluginStatus;
  statusDetails: string;
  /** The script's exit code; -1 while it has not ended (and for a step that never ran). */
  responseCode: number;
  stdout: string;
  stderr: string;
  startedAt?: number;
  endedAt?: number;
}

interface Invocation {
  commandId: string;
  instanceId: string;
  document: string;
  status: string;
  statusDetails: string;
  requestedAt: number;
  plugins: PluginRun[];
  output?: { bucket: string; prefix: string };
}

interface Command {
  commandId: string;
  document: string;
  instanceIds: string[];
  parameters: Record<string, string[]>;
  requestedAt: number;
  expiresAfter: number;
  maxErrors: number;
  status: string;
}

/** SSM keeps this much of each step's output inline; the rest is only in the S3 output bucket. */
export const INLINE_STDOUT_LIMIT = 24_000;
export const INLINE_STDERR_LIMIT = 8_000;
/** ListCommandInvocations shows this much of each step's output. */
export const PLUGIN_OUTPUT_LIMIT = 2_500;
/** SendCommand's default delivery timeout (TimeoutSeconds). */
const DEFAULT_DELIVERY_TIMEOUT_SECONDS = 3600;

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

const TERMINAL = new Set(["Success", "Failed", "TimedOut", "Cancelled"]);
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** A stateful SSM Run Command: agents come online some time after launch (and go away when the
 * instance stops); SendCommand checks documents, parameters (allowedPattern) and instances as SSM
 * does. A 2.2 document's steps run one after another, each with its own timeoutSeconds; after a
 * failed (or timed-out) step the next ones still run unless the step says `onFailure: exit` (a
 * `finallyStep` runs anyway); the invocation fails when any step did. Invocations go Pending →
 * InProgress → Success/Failed/TimedOut; each change of an invocation and of the whole command is
 * published as EventBridge does. GetCommandInvocation needs the step's PluginName when the document
 * has more than one step; outputs are truncated inline like SSM's. */
export class SimulatedSsm {
  readonly calls = new CallLog();
  readonly faults = new Faults();
  /** Simulated time each API call takes. */
  latencyMs = 0;
  readonly documents = new Map<string, SimulatedDocument>();
  readonly invocations = new Map<string, Invocation>();
  readonly commands = new Map<string, Command>();

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
    readonly account = { account: "123456789012", region: "us-east-1" },
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
        ListCommandInvocations: (input: ListCommandInvocationsCommandInput) =>
          this.#call("ListCommandInvocations", () => this.#list(input)),
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
      // Only the parameters matter here; the steps are the simulation's own.
      parameters = resolveParameters({ ...document, mainSteps: [] }, input.Parameters ?? {});
    } catch (invalid) {
      throw error(
        "InvalidParameters",
        invalid instanceof InvalidInputError ? invalid.message : String(invalid),
      );
    }
    const now = this.clock.now();
    const executionSeconds = document.mainSteps.reduce((sum, step) => sum + step.inputs.timeoutSeconds, 0);
    const command: Command = {
      commandId: randomUUID(),
      document: input.DocumentName ?? "",
      instanceIds: [...ids],
      parameters: Object.fromEntries(Object.entries(input.Parameters ?? {}).map(([k, v]) => [k, [...v]])),
      requestedAt: now,
      // The total timeout: delivery timeout plus the document's execution timeout.
      expiresAfter:
        now + ((input.TimeoutSeconds ?? DEFAULT_DELIVERY_TIMEOUT_SECONDS) + executionSeconds) * 1000,
      maxErrors: maxErrors(input.MaxErrors, ids.length),
      status: "Pending",
    };
    this.commands.set(command.commandId, command);
    const invocations = ids.map((instanceId) => {
      const invocation: Invocation = {
        commandId: command.commandId,
        instanceId,
        document: command.document,
        status: "Pending",
        statusDetails: "Pending",
        requestedAt: now,
        plugins: document.mainSteps.map((step) => ({
          name: step.name,
          status: "Pending",
          statusDetails: "Pending",
          responseCode: -1,
          stdout: "",
          stderr: "",
        })),
        ...(input.OutputS3BucketName
          ? { output: { bucket: input.OutputS3BucketName, prefix: input.OutputS3KeyPrefix ?? "" } }
          : {}),
      };
      this.invocations.set(`${command.commandId}/${instanceId}`, invocation);
      this.#announce(invocation);
      return invocation;
    });
    this.#announceCommand(command);
    for (const invocation of invocations) {
      void this.#run(invocation, document, parameterEnvironment(parameters));
    }
    return {
      Command: {
        CommandId: command.commandId,
        DocumentName: command.document,
        InstanceIds: ids,
        Parameters: command.parameters,
        RequestedDateTime: new Date(command.requestedAt),
        ExpiresAfter: new Date(command.expiresAfter),
        TargetCount: ids.length,
        Status: "Pending",
      },
    };
  }

  /** The agent's side: the steps in order, each under its own timeout, following onFailure,
   * onSuccess and finallyStep. */
  async #run(invocation: Invocation, document: SimulatedDocument, environment: Record<string, string>) {
    await this.clock.sleep(this.settings.deliveryDelayMs);
    this.#update(invocation, "InProgress", "InProgress");
    let exited = false;
    for (const [n, step] of document.mainSteps.entries()) {
      const plugin = invocation.plugins[n] as PluginRun;
      if (exited && !step.inputs.finallyStep) {
        // AWS does not document how a step skipped by an exit is reported; it never ran.
        setPlugin(plugin, { status: "Cancelled", statusDetails: "Skipped" });
        continue;
      }
      setPlugin(plugin, {
        status: "InProgress",
        statusDetails: "InProgress",
        startedAt: this.clock.now(),
      });
      const result = await this.#runStep(invocation, step, environment);
      plugin.endedAt = this.clock.now();
      if (result === "timed out") {
        setPlugin(plugin, { status: "TimedOut", statusDetails: "ExecutionTimedOut" });
      } else {
        const ok = result.exitCode === 0;
        setPlugin(plugin, {
          status: ok ? "Success" : "Failed",
          statusDetails: ok ? "Success" : "Failed",
          responseCode: result.exitCode,
          stdout: result.stdout,
          stderr: result.stderr,
        });
      }
      if (plugin.status === "Success") {
        if (step.inputs.onSuccess === "exit") exited = true;
      } else if (step.inputs.onFailure === "successAndExit") {
        setPlugin(plugin, { status: "Success", statusDetails: "Success" });
        exited = true;
      } else if (step.inputs.onFailure === "exit") {
        exited = true;
      }
    }
    // One failed step fails the invocation; the first one that did not succeed says how.
    const failed = invocation.plugins.find((p) => p.status === "Failed" || p.status === "TimedOut");
    if (!failed) this.#update(invocation, "Success", "Success");
    else if (failed.status === "TimedOut") this.#update(invocation, "TimedOut", "ExecutionTimedOut");
    else this.#update(invocation, "Failed", "Failed");
  }

  async #runStep(
    invocation: Invocation,
    step: SimulatedDocument["mainSteps"][number],
    environment: Record<string, string>,
  ): Promise<StepResult | "timed out"> {
    const run = this.executor({
      document: invocation.document,
      instanceId: invocation.instanceId,
      step: step.name,
      runCommand: step.inputs.runCommand,
      environment,
    }).catch((e: unknown) => ({ exitCode: 1, stdout: "", stderr: String(e) }));
    const timedOut = this.clock.sleep(step.inputs.timeoutSeconds * 1000).then(() => "timed out" as const);
    return Promise.race([run, timedOut]);
  }

  #update(invocation: Invocation, status: string, details: string): void {
    invocation.status = status;
    invocation.statusDetails = details;
    this.#announce(invocation);
    const command = this.commands.get(invocation.commandId);
    if (!command) return;
    const aggregate = commandStatus(
      command,
      command.instanceIds.map(
        (id) => this.invocations.get(`${command.commandId}/${id}`)?.status ?? "Pending",
      ),
    );
    if (aggregate === command.status) return;
    command.status = aggregate;
    this.#announceCommand(command);
  }

  #envelope(detailType: string, resources: string[], detail: Record<string, unknown>): EventBridgeEvent {
    const { account, region } = this.account;
    return {
      version: "0",
      id: randomUUID(),
      "detail-type": detailType,
      source: "aws.ssm",
      account,
      time: isoSeconds(this.clock.now()),
      region,
      resources,
      detail,
    };
  }

  #instanceArn(instanceId: string): string {
    return `arn:aws:ec2:${this.account.region}:${this.account.account}:instance/${instanceId}`;
  }

  /** "EC2 Command Invocation Status-change Notification". */
  #announce(invocation: Invocation): void {
    this.publish(
      this.#envelope(SSM_INVOCATION_DETAIL_TYPE, [this.#instanceArn(invocation.instanceId)], {
        "command-id": invocation.commandId,
        "document-name": invocation.document,
        "instance-id": invocation.instanceId,
        "requested-date-time": new Date(invocation.requestedAt).toISOString(),
        status: invocation.status,
      }),
    );
  }

  /** "EC2 Command Status-change Notification". */
  #announceCommand(command: Command): void {
    this.publish(
      this.#envelope(
        SSM_COMMAND_DETAIL_TYPE,
        command.instanceIds.map((id) => this.#instanceArn(id)),
        {
          "command-id": command.commandId,
          "document-name": command.document,
          "expire-after": new Date(command.expiresAfter).toISOString(),
          parameters: command.parameters,
          "requested-date-time": new Date(command.requestedAt).toISOString(),
          status: command.status,
        },
      ),
    );
  }

  #invocation(commandId: string | undefined, instanceId: string | undefined): Invocation {
    const invocation = this.invocations.get(`${commandId}/${instanceId}`);
    if (!invocation || this.clock.now() < invocation.requestedAt + this.settings.registrationDelayMs) {
      throw error("InvocationDoesNotExist", "An error occurred (InvocationDoesNotExist)");
    }
    return invocation;
  }

  #outputUrl(invocation: Invocation, plugin: PluginRun, stream: "stdout" | "stderr"): string {
    const { output } = invocation;
    if (!output) return "";
    const prefix = output.prefix ? `${output.prefix}/` : "";
    return `https://s3.${this.account.region}.amazonaws.com/${output.bucket}/${prefix}${invocation.commandId}/${invocation.instanceId}/awsrunShellScript/${plugin.name}/${stream}`;
  }

  /** GetCommandInvocation reports one step: the one named, or the only one. */
  #get(input: GetCommandInvocationCommandInput) {
    const invocation = this.#invocation(input.CommandId, input.InstanceId);
    const plugin =
      input.PluginName !== undefined
        ? invocation.plugins.find((p) => p.name === input.PluginName)
        : invocation.plugins.length === 1
          ? invocation.plugins[0]
          : undefined;
    if (!plugin) {
      throw error(
        "InvalidPluginName",
        input.PluginName === undefined
          ? `The document ${invocation.document} has ${invocation.plugins.length} steps: PluginName must name one`
          : `The plugin name ${input.PluginName} isn't valid`,
      );
    }
    return {
      CommandId: invocation.commandId,
      InstanceId: invocation.instanceId,
      DocumentName: invocation.document,
      PluginName: plugin.name,
      ResponseCode: plugin.responseCode,
      Status: plugin.status,
      StatusDetails: plugin.statusDetails,
      ...(plugin.startedAt !== undefined
        ? { ExecutionStartDateTime: new Date(plugin.startedAt).toISOString() }
        : {}),
      ...(plugin.endedAt !== undefined
        ? { ExecutionEndDateTime: new Date(plugin.endedAt).toISOString() }
        : {}),
      StandardOutputContent: plugin.stdout.slice(0, INLINE_STDOUT_LIMIT),
      StandardErrorContent: plugin.stderr.slice(0, INLINE_STDERR_LIMIT),
      StandardOutputUrl: this.#outputUrl(invocation, plugin, "stdout"),
      StandardErrorUrl: this.#outputUrl(invocation, plugin, "stderr"),
    };
  }

  /** ListCommandInvocations: the invocations of a command (one page), with each step when Details. */
  #list(input: ListCommandInvocationsCommandInput) {
    const matches = [...this.invocations.values()].filter(
      (i) =>
        (!input.CommandId || i.commandId === input.CommandId) &&
        (!input.InstanceId || i.instanceId === input.InstanceId) &&
        this.clock.now() >= i.requestedAt + this.settings.registrationDelayMs,
    );
    return {
      CommandInvocations: matches.map((invocation) => ({
        CommandId: invocation.commandId,
        InstanceId: invocation.instanceId,
        DocumentName: invocation.document,
        RequestedDateTime: new Date(invocation.requestedAt),
        Status: invocation.status,
        StatusDetails: invocation.statusDetails,
        ...(input.Details
          ? {
              CommandPlugins: invocation.plugins.map((plugin) => ({
                Name: plugin.name,
                Status: plugin.status,
                StatusDetails: plugin.statusDetails,
                ResponseCode: plugin.responseCode,
                Output: pluginOutput(plugin),
                StandardOutputUrl: this.#outputUrl(invocation, plugin, "stdout"),
                StandardErrorUrl: this.#outputUrl(invocation, plugin, "stderr"),
                ...(invocation.output
                  ? {
                      OutputS3BucketName: invocation.output.bucket,
                      OutputS3KeyPrefix: invocation.output.prefix,
                    }
                  : {}),
              })),
            }
          : {}),
      })),
    };
  }
}

function setPlugin(plugin: PluginRun, changes: Partial<PluginRun>): void {
  Object.assign(plugin, changes);
}

/** A step's output as ListCommandInvocations shows it: stdout, then stderr, cut short. */
function pluginOutput(plugin: PluginRun): string {
  const text = plugin.stderr ? `${plugin.stdout}\n----------ERROR-------\n${plugin.stderr}` : plugin.stdout;
  return text.slice(0, PLUGIN_OUTPUT_LIMIT);
}

/** SendCommand's MaxErrors: a count or a percentage of the targets; 0 when not given. */
function maxErrors(value: string | undefined, targets: number): number {
  if (!value) return 0;
  const percent = /^(\d+)%$/.exec(value)?.[1];
  return percent !== undefined ? Math.floor((Number(percent) / 100) * targets) : Number(value);
}

/** The command's aggregate status over its invocations: Pending until one is under way, InProgress
 * until all ended, then Success, or Failed / TimedOut once more than MaxErrors failed. */
function commandStatus(command: Command, statuses: string[]): string {
  if (statuses.every((s) => s === "Pending")) return "Pending";
  if (!statuses.every((s) => TERMINAL.has(s))) return "InProgress";
  if (statuses.every((s) => s === "Success")) return "Success";
  const errors = statuses.filter((s) => s === "Failed" || s === "TimedOut");
  if (errors.length > command.maxErrors) return errors.includes("Failed") ? "Failed" : "TimedOut";
  return "Incomplete";
}

/** The default executor of the simulation: every step succeeds after `ms`. */
export function succeedsAfter(clock: Clock, ms: number): CommandExecutor {
  return async ({ document, step }) => {
    await clock.sleep(ms);
    return { exitCode: 0, stdout: `${document} ${step}: done\n`, stderr: "" };
  };
}
