import { randomUUID } from "node:crypto";
import { posix } from "node:path";
import {
  type DescribeInstanceInformationCommandInput,
  type GetCommandInvocationCommandInput,
  type ListCommandInvocationsCommandInput,
  type ListCommandsCommandInput,
  type SendCommandCommandInput,
  SSMClient,
  SSMServiceException,
  type Target,
} from "@aws-sdk/client-ssm";
import type { Clock } from "@ftpfleet/core";
import { InvalidInputError, SSM_COMMAND_DETAIL_TYPE, SSM_INVOCATION_DETAIL_TYPE } from "@ftpfleet/core";
import { type CommandDocument, parameterEnvironment, resolveParameters } from "@ftpfleet/core/documents";
import type { EventBridgeEvent } from "./autoscaling";
import type { SimulatedEc2 } from "./ec2";
import { CallLog, Faults } from "./faults";
import { answerFrom, offlineClientConfig } from "./sdk";
import { sendCommandProblem, targetFilter } from "./ssm-targets";

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
  /** What SSM Agent itself sets for every runShellScript: AWS_SSM_INSTANCE_ID and
   * AWS_SSM_REGION_NAME. Apart from `environment`, whose keys are all the document's parameters. */
  agentEnvironment: Record<string, string>;
}

export interface StepResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** What runs a command on an instance, one step at a time (SSM calls it once per step, each with its
 * own timeout): in tests a scripted outcome, in local mode the real scripts. */
export type CommandExecutor = (step: CommandStep) => Promise<StepResult>;

/** Where SSM Agent uploads a step's complete output when the command names an output bucket. */
export type OutputSink = (bucket: string, key: string, body: string) => Promise<void>;

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
  comment?: string;
  /** The instances it runs on: the InstanceIds asked for, or those its Targets selected. */
  instanceIds: string[];
  /** Set when the command was sent by Targets rather than InstanceIds. */
  targets?: Target[];
  parameters: Record<string, string[]>;
  requestedAt: number;
  expiresAfter: number;
  timeoutSeconds: number;
  output?: { bucket: string; prefix: string };
  /** As asked (or SSM's defaults), and what they come to for this command's targets. */
  maxConcurrency: string;
  maxErrors: string;
  concurrencyLimit: number;
  errorLimit: number;
  /** Invocations not yet sent to their instance (MaxConcurrency), in order. */
  waiting: Invocation[];
  /** Sends one invocation to its instance's agent. */
  launch: (invocation: Invocation) => void;
  status: string;
  statusDetails: string;
}

/** SSM keeps this much of each step's output inline; the rest is only in the S3 output bucket. */
export const INLINE_STDOUT_LIMIT = 24_000;
export const INLINE_STDERR_LIMIT = 8_000;
/** ListCommandInvocations shows this much of each step's output. */
export const PLUGIN_OUTPUT_LIMIT = 2_500;
/** SendCommand's default delivery timeout (TimeoutSeconds). */
const DEFAULT_DELIVERY_TIMEOUT_SECONDS = 3600;
/** SendCommand's defaults for the rate controls. */
const DEFAULT_MAX_CONCURRENCY = "50";
const DEFAULT_MAX_ERRORS = "0";
/** ListCommands' page size (MaxResults, 1 to 50). */
const MAX_COMMANDS_PAGE = 50;

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
/** Invocation statuses that count against MaxErrors (Failed, Execution Timed Out). */
const ERRORS = new Set(["Failed", "TimedOut"]);
const isoSeconds = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** A stateful SSM Run Command: agents come online some time after launch (and go away when the
 * instance stops); SendCommand checks documents, parameters (allowedPattern) and instances as SSM
 * does, and takes either InstanceIds or Targets (tags of managed instances) with MaxConcurrency and
 * MaxErrors. A 2.2 document's steps run one after another, each with its own timeoutSeconds; after a
 * failed (or timed-out) step the next ones still run unless the step says `onFailure: exit` (a
 * `finallyStep` runs anyway); the invocation fails when any step did. Invocations go Pending →
 * InProgress → Success/Failed/TimedOut; each change of an invocation and of the whole command is
 * published as EventBridge does. GetCommandInvocation needs the step's PluginName when the document
 * has more than one step; outputs are truncated inline like SSM's, and whole in the output bucket. */
export class SimulatedSsm {
  readonly calls = new CallLog();
  readonly faults = new Faults();
  /** Simulated time each API call takes. */
  latencyMs = 0;
  readonly documents = new Map<string, SimulatedDocument>();
  readonly invocations = new Map<string, Invocation>();
  readonly commands = new Map<string, Command>();
  /** Receives each step's complete stdout and stderr when its command names an output bucket (local
   * mode stores them in its S3); without it, the output is only inline. */
  outputSink?: OutputSink;

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
        ListCommands: (input: ListCommandsCommandInput) =>
          this.#call("ListCommands", () => this.#listCommands(input)),
      },
      this,
    );
  }

  /** Online, ConnectionLost, or undefined when the agent never registered. */
  pingStatus(instanceId: string): string | undefined {
    const instance = this.ec2.instances.get(instanceId);
    if (!instance || this.clock.now() < instance.launchedAt + this.settings.agentDelayMs) return undefined;
    return instance.state === "running" && !this.#stoppedAgents.has(instanceId) ? "Online" : "ConnectionLost";
  }

  /** The agent stops (or loses its connection) on a running instance: SSM reaches it no more. */
  stopAgent(instanceId: string): void {
    this.#stoppedAgents.add(instanceId);
  }

  readonly #stoppedAgents = new Set<string>();

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
    const problem = sendCommandProblem(input);
    if (problem) throw error("ValidationException", problem);
    const document = this.documents.get(input.DocumentName ?? "");
    if (!document) throw error("InvalidDocument", `document ${input.DocumentName} does not exist`);
    const targets = input.Targets ?? [];
    const ids = targets.length > 0 ? this.#targeted(targets) : (input.InstanceIds ?? []);
    const unreachable = targets.length > 0 ? [] : ids.filter((id) => this.pingStatus(id) !== "Online");
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
    const timeoutSeconds = input.TimeoutSeconds ?? DEFAULT_DELIVERY_TIMEOUT_SECONDS;
    const maxConcurrency = input.MaxConcurrency ?? DEFAULT_MAX_CONCURRENCY;
    const maxErrors = input.MaxErrors ?? DEFAULT_MAX_ERRORS;
    const output = input.OutputS3BucketName
      ? { bucket: input.OutputS3BucketName, prefix: input.OutputS3KeyPrefix ?? "" }
      : undefined;
    const environment = parameterEnvironment(parameters);
    const command: Command = {
      commandId: randomUUID(),
      document: input.DocumentName ?? "",
      ...(input.Comment !== undefined ? { comment: input.Comment } : {}),
      instanceIds: [...ids],
      ...(targets.length > 0
        ? { targets: targets.map((t) => ({ Key: t.Key ?? "", Values: [...(t.Values ?? [])] })) }
        : {}),
      parameters: Object.fromEntries(Object.entries(input.Parameters ?? {}).map(([k, v]) => [k, [...v]])),
      requestedAt: now,
      // The total timeout: delivery timeout plus the document's execution timeout.
      expiresAfter: now + (timeoutSeconds + executionSeconds) * 1000,
      timeoutSeconds,
      ...(output ? { output } : {}),
      maxConcurrency,
      maxErrors,
      // A percentage of a few targets can come to 0: one instance at a time still runs.
      concurrencyLimit: Math.max(1, rateLimit(maxConcurrency, ids.length)),
      errorLimit: rateLimit(maxErrors, ids.length),
      waiting: [],
      launch: (invocation) => void this.#run(invocation, document, environment),
      status: "Pending",
      statusDetails: "Pending",
    };
    this.commands.set(command.commandId, command);
    for (const instanceId of ids) {
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
        ...(output ? { output } : {}),
      };
      this.invocations.set(`${command.commandId}/${instanceId}`, invocation);
      command.waiting.push(invocation);
      this.#announce(invocation);
    }
    this.#announceCommand(command);
    const sent = { Command: this.#commandView(command) };
    this.#proceed(command);
    this.#aggregate(command);
    return sent;
  }

  /** The instances Targets select. SSM targets managed instances only: one whose agent is not
   * registered and Online is simply not targeted (InstanceIds, by contrast, refuses it). */
  #targeted(targets: readonly Target[]): string[] {
    const selects = targetFilter(targets);
    return [...this.ec2.instances.values()]
      .filter((instance) => this.pingStatus(instance.instanceId) === "Online" && selects(instance))
      .map((instance) => instance.instanceId);
  }

  /** Sends the command to more of its instances as the rate controls allow: while fewer than
   * MaxConcurrency run, and until more than MaxErrors invocations failed. Then SSM stops sending it:
   * the invocations not yet sent end Cancelled, StatusDetails Terminated; those already running may
   * finish. (The user guide's ramp-up, 1 instance, then 2 more, then exponentially up to
   * MaxConcurrency, is not simulated: MaxConcurrency is only the bound.) */
  #proceed(command: Command): void {
    const invocations = this.#invocationsOf(command);
    if (invocations.filter((i) => ERRORS.has(i.status)).length > command.errorLimit) {
      for (const invocation of command.waiting.splice(0)) {
        for (const plugin of invocation.plugins) {
          setPlugin(plugin, { status: "Cancelled", statusDetails: "Terminated" });
        }
        this.#update(invocation, "Cancelled", "Terminated");
      }
      return;
    }
    const running = invocations.filter((i) => !TERMINAL.has(i.status)).length - command.waiting.length;
    const room = Math.max(0, command.concurrencyLimit - running);
    for (const invocation of command.waiting.splice(0, room)) command.launch(invocation);
  }

  #invocationsOf(command: Command): Invocation[] {
    return command.instanceIds.flatMap((id) => this.invocations.get(`${command.commandId}/${id}`) ?? []);
  }

  /** The Command object of SendCommand and ListCommands. */
  #commandView(command: Command) {
    const invocations = this.#invocationsOf(command);
    return {
      CommandId: command.commandId,
      DocumentName: command.document,
      ...(command.comment !== undefined ? { Comment: command.comment } : {}),
      // As asked: a command sent by Targets lists no InstanceIds, and the other way round.
      InstanceIds: command.targets ? [] : [...command.instanceIds],
      Targets: command.targets ?? [],
      Parameters: command.parameters,
      RequestedDateTime: new Date(command.requestedAt),
      ExpiresAfter: new Date(command.expiresAfter),
      TimeoutSeconds: command.timeoutSeconds,
      Status: command.status,
      StatusDetails: command.statusDetails,
      ...(command.output
        ? { OutputS3BucketName: command.output.bucket, OutputS3KeyPrefix: command.output.prefix }
        : {}),
      MaxConcurrency: command.maxConcurrency,
      MaxErrors: command.maxErrors,
      TargetCount: invocations.length,
      CompletedCount: invocations.filter((i) => TERMINAL.has(i.status)).length,
      ErrorCount: invocations.filter((i) => ERRORS.has(i.status)).length,
      // The simulation's agents always take delivery.
      DeliveryTimedOutCount: 0,
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
      if (result === "timed out") {
        setPlugin(plugin, {
          status: "TimedOut",
          statusDetails: "ExecutionTimedOut",
          endedAt: this.clock.now(),
        });
      } else {
        // The agent uploads the output before it reports the step's end.
        const uploadFailure = await this.#upload(invocation, plugin, result);
        const ok = result.exitCode === 0;
        setPlugin(plugin, {
          status: ok ? "Success" : "Failed",
          statusDetails: ok ? "Success" : "Failed",
          responseCode: result.exitCode,
          stdout: result.stdout,
          stderr: result.stderr + uploadFailure,
          endedAt: this.clock.now(),
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
    const command = this.commands.get(invocation.commandId);
    if (command) this.#proceed(command);
  }

  /** SSM Agent's upload of a step's complete output: each stream that is not empty, at the key
   * `#outputUrl` names. A failed upload must not wedge the invocation: it is told in the step's
   * stderr (returned, to append). */
  async #upload(invocation: Invocation, plugin: PluginRun, result: StepResult): Promise<string> {
    const { output } = invocation;
    const sink = this.outputSink;
    if (!output || !sink) return "";
    try {
      for (const stream of ["stdout", "stderr"] as const) {
        if (result[stream] !== "")
          await sink(output.bucket, outputKey(output, invocation, plugin, stream), result[stream]);
      }
      return "";
    } catch (failure) {
      return `\nfailed to upload the output to s3://${output.bucket}: ${String(failure)}\n`;
    }
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
      agentEnvironment: {
        AWS_SSM_INSTANCE_ID: invocation.instanceId,
        AWS_SSM_REGION_NAME: this.account.region,
      },
    }).catch((e: unknown) => ({ exitCode: 1, stdout: "", stderr: String(e) }));
    const timedOut = this.clock.sleep(step.inputs.timeoutSeconds * 1000).then(() => "timed out" as const);
    return Promise.race([run, timedOut]);
  }

  #update(invocation: Invocation, status: string, details: string): void {
    invocation.status = status;
    invocation.statusDetails = details;
    this.#announce(invocation);
    const command = this.commands.get(invocation.commandId);
    if (command) this.#aggregate(command);
  }

  /** Recomputes the command's status from its invocations; a change is announced. */
  #aggregate(command: Command): void {
    const { status, details } = commandStatus(command, this.#invocationsOf(command));
    if (status === command.status && details === command.statusDetails) return;
    const changed = status !== command.status;
    command.status = status;
    command.statusDetails = details;
    if (changed) this.#announceCommand(command);
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
    return `https://s3.${this.account.region}.amazonaws.com/${output.bucket}/${outputKey(output, invocation, plugin, stream)}`;
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
                ...(plugin.startedAt !== undefined
                  ? { ResponseStartDateTime: new Date(plugin.startedAt) }
                  : {}),
                ...(plugin.endedAt !== undefined ? { ResponseFinishDateTime: new Date(plugin.endedAt) } : {}),
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

  /** ListCommands: the command asked for, or every command (newest first, optionally those sent to
   * one instance), a page at a time. */
  #listCommands(input: ListCommandsCommandInput) {
    if (input.Filters?.length) throw new Error("simulated SSM does not implement ListCommands Filters");
    const max = input.MaxResults ?? MAX_COMMANDS_PAGE;
    if (max < 1 || max > MAX_COMMANDS_PAGE) {
      throw error(
        "ValidationException",
        `1 validation error detected: Value '${max}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and ${MAX_COMMANDS_PAGE}`,
      );
    }
    if (input.CommandId !== undefined && !this.commands.has(input.CommandId)) {
      throw error("InvalidCommandId", `The command ${input.CommandId} is not valid`);
    }
    const matches = [...this.commands.values()]
      .reverse()
      .filter(
        (c) =>
          (input.CommandId === undefined || c.commandId === input.CommandId) &&
          (input.InstanceId === undefined || c.instanceIds.includes(input.InstanceId)),
      );
    const from = input.NextToken === undefined ? 0 : Number(input.NextToken);
    if (!Number.isInteger(from) || from < 0 || from > matches.length) {
      throw error("InvalidNextToken", "The specified token isn't valid");
    }
    return {
      Commands: matches.slice(from, from + max).map((command) => this.#commandView(command)),
      ...(from + max < matches.length ? { NextToken: String(from + max) } : {}),
    };
  }
}

/** Where SSM Agent puts a step's output: the prefix, command, instance, plugin and step joined as
 * paths, as the agent joins them (it drops the plugin's colon: aws:runShellScript → awsrunShellScript). */
function outputKey(
  output: { prefix: string },
  invocation: Invocation,
  plugin: PluginRun,
  stream: "stdout" | "stderr",
): string {
  const { commandId, instanceId } = invocation;
  return posix.join(
    output.prefix,
    commandId,
    instanceId,
    "awsrunShellScript",
    plugin.name.replaceAll(":", ""),
    stream,
  );
}

function setPlugin(plugin: PluginRun, changes: Partial<PluginRun>): void {
  Object.assign(plugin, changes);
}

/** A step's output as ListCommandInvocations shows it: stdout, then stderr, cut short. */
function pluginOutput(plugin: PluginRun): string {
  const text = plugin.stderr ? `${plugin.stdout}\n----------ERROR-------\n${plugin.stderr}` : plugin.stdout;
  return text.slice(0, PLUGIN_OUTPUT_LIMIT);
}

/** SendCommand's MaxConcurrency or MaxErrors (validated): a count, or a percentage of the targets,
 * rounded down. */
function rateLimit(value: string, targets: number): number {
  const percent = /^(\d+)%$/.exec(value)?.[1];
  return percent !== undefined ? Math.floor((Number(percent) / 100) * targets) : Number(value);
}

/** The command's aggregate Status and StatusDetails over its invocations: Pending until one is under
 * way, InProgress until all ended; then Failed (or TimedOut) once more than MaxErrors failed, else
 * Success. CommandStatus has no Incomplete: MaxErrors is "the maximum number of errors allowed
 * without the command failing", so tolerated failures leave Status Success and StatusDetails
 * Incomplete (the user guide's status for it). */
function commandStatus(
  command: Command,
  invocations: readonly Invocation[],
): { status: string; details: string } {
  // Targets that matched no managed instance: the user guide's terminal "No Instances In Tag". The
  // API names no Status for it; nothing failed, so Success.
  if (invocations.length === 0) return { status: "Success", details: "NoInstancesInTag" };
  const same = (status: string) => ({ status, details: status });
  if (invocations.every((i) => i.status === "Pending")) return same("Pending");
  if (!invocations.every((i) => TERMINAL.has(i.status))) return same("InProgress");
  const errors = invocations.filter((i) => ERRORS.has(i.status));
  if (errors.length > command.errorLimit) {
    return errors.some((i) => i.status === "Failed")
      ? same("Failed")
      : { status: "TimedOut", details: "ExecutionTimedOut" };
  }
  return invocations.every((i) => i.status === "Success")
    ? same("Success")
    : { status: "Success", details: "Incomplete" };
}

/** The default executor of the simulation: every step succeeds after `ms`. */
export function succeedsAfter(clock: Clock, ms: number): CommandExecutor {
  return async ({ document, step }) => {
    await clock.sleep(ms);
    return { exitCode: 0, stdout: `${document} ${step}: done\n`, stderr: "" };
  };
}
