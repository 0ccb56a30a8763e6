import { randomUUID } from "node:crypto";
import {
  AutoScalingClient,
  AutoScalingServiceException,
  type CompleteLifecycleActionCommandInput,
  type DescribeAutoScalingGroupsCommandInput,
  type RecordLifecycleActionHeartbeatCommandInput,
} from "@aws-sdk/client-auto-scaling";
import type { Clock } from "@ftpfleet/core";
import type { SimulatedEc2 } from "./ec2";
import { CallLog, Faults } from "./faults";
import { answerFrom, offlineClientConfig } from "./sdk";

export interface HookSettings {
  name: string;
  /** 30–7200 s; the action expires when no heartbeat or answer comes in time. */
  heartbeatTimeoutSeconds: number;
  defaultResult: "CONTINUE" | "ABANDON";
}

export interface GroupSettings {
  name: string;
  launchHook?: HookSettings;
  terminateHook?: HookSettings;
  account?: string;
  region?: string;
}

interface PendingAction {
  transition: "launch" | "terminate";
  hook: HookSettings;
  token: string;
  deadline: number;
  /** Auto Scaling ends any action after min(48 h, 100 × heartbeat timeout). */
  overallDeadline: number;
}

export interface GroupMember {
  instanceId: string;
  lifecycleState: string;
  healthStatus: "Healthy" | "Unhealthy";
  action?: PendingAction;
}

export type EventBridgeEvent = Record<string, unknown> & {
  "detail-type": string;
  detail: Record<string, unknown>;
};

const LEAVING = /^(Terminating|Terminated)/;

/** A stateful Auto Scaling group with lifecycle hooks: it launches and terminates simulated EC2
 * instances, publishes lifecycle events as EventBridge would, expires actions that are not answered
 * in time (applying the hook's default result), and refuses answers to actions that are not active. */
export class SimulatedAutoScaling {
  readonly calls = new CallLog();
  /** Simulated time each API call takes. */
  latencyMs = 0;
  readonly faults = new Faults();
  readonly members = new Map<string, GroupMember>();
  desired = 0;

  constructor(
    readonly clock: Clock,
    readonly ec2: SimulatedEc2,
    readonly settings: GroupSettings,
    readonly publish: (event: EventBridgeEvent) => void,
  ) {}

  client(): AutoScalingClient {
    return answerFrom(
      new AutoScalingClient(offlineClientConfig),
      "AutoScaling",
      {
        DescribeAutoScalingGroups: (input: DescribeAutoScalingGroupsCommandInput) =>
          this.#call("DescribeAutoScalingGroups", () => this.#describe(input)),
        CompleteLifecycleAction: (input: CompleteLifecycleActionCommandInput) =>
          this.#call("CompleteLifecycleAction", () => this.#complete(input)),
        RecordLifecycleActionHeartbeat: (input: RecordLifecycleActionHeartbeatCommandInput) =>
          this.#call("RecordLifecycleActionHeartbeat", () => this.#heartbeat(input)),
      },
      this,
    );
  }

  /** Changes the desired capacity; the group launches or terminates (newest first) to match. */
  setDesired(capacity: number): void {
    this.expireDue();
    this.desired = capacity;
    const active = this.#active();
    for (const member of active.slice(capacity).reverse()) this.#beginTermination(member);
    this.#balance();
  }

  /** The instance fails its health check: the group terminates and replaces it. */
  crash(instanceId: string): void {
    this.expireDue();
    const member = this.members.get(instanceId);
    const instance = this.ec2.instances.get(instanceId);
    if (!member || !instance) throw new Error(`no instance ${instanceId} in the group`);
    this.ec2.setState(instanceId, "stopped");
    member.healthStatus = "Unhealthy";
    if (!LEAVING.test(member.lifecycleState)) this.#beginTermination(member);
    this.#balance();
  }

  /** Answers every action whose time is up with its hook's default result. */
  expireDue(): void {
    const now = this.clock.now();
    for (const member of [...this.members.values()]) {
      const action = member.action;
      if (action && now >= Math.min(action.deadline, action.overallDeadline)) {
        this.#finish(member, action.hook.defaultResult);
      }
    }
  }

  #call<T>(command: string, run: () => T): T {
    this.calls.count(command);
    this.expireDue();
    this.faults.check(command);
    return run();
  }

  #active(): GroupMember[] {
    return [...this.members.values()].filter((m) => !LEAVING.test(m.lifecycleState));
  }

  #balance(): void {
    for (let missing = this.desired - this.#active().length; missing > 0; missing--) this.#launch();
  }

  #launch(): void {
    const instance = this.ec2.launch({ "aws:autoscaling:groupName": this.settings.name });
    const member: GroupMember = {
      instanceId: instance.instanceId,
      lifecycleState: "Pending",
      healthStatus: "Healthy",
    };
    this.members.set(member.instanceId, member);
    const hook = this.settings.launchHook;
    if (!hook) {
      member.lifecycleState = "InService";
      return;
    }
    member.lifecycleState = "Pending:Wait";
    this.#startAction(member, "launch", hook, { Origin: "EC2", Destination: "AutoScalingGroup" });
  }

  #beginTermination(member: GroupMember): void {
    delete member.action;
    const hook = this.settings.terminateHook;
    if (!hook) {
      this.#terminated(member);
      return;
    }
    member.lifecycleState = "Terminating:Wait";
    this.#startAction(member, "terminate", hook, { Origin: "AutoScalingGroup", Destination: "EC2" });
  }

  #terminated(member: GroupMember): void {
    this.members.delete(member.instanceId);
    const instance = this.ec2.instances.get(member.instanceId);
    if (instance) this.ec2.setState(member.instanceId, "terminated");
  }

  #startAction(
    member: GroupMember,
    transition: "launch" | "terminate",
    hook: HookSettings,
    route: object,
  ): void {
    const now = this.clock.now();
    const timeoutMs = hook.heartbeatTimeoutSeconds * 1000;
    const action: PendingAction = {
      transition,
      hook,
      token: randomUUID(),
      deadline: now + timeoutMs,
      overallDeadline: now + Math.min(48 * 3600_000, 100 * timeoutMs),
    };
    member.action = action;
    this.#scheduleExpiry(action);
    this.publish({
      version: "0",
      id: randomUUID(),
      "detail-type": `EC2 Instance-${transition} Lifecycle Action`,
      source: "aws.autoscaling",
      account: this.settings.account ?? "123456789012",
      time: new Date(now).toISOString().replace(/\.\d{3}Z$/, "Z"),
      region: this.settings.region ?? "us-east-1",
      resources: [
        `arn:aws:autoscaling:${this.settings.region ?? "us-east-1"}:${this.settings.account ?? "123456789012"}:autoScalingGroup:${randomUUID()}:autoScalingGroupName/${this.settings.name}`,
      ],
      detail: {
        LifecycleActionToken: action.token,
        AutoScalingGroupName: this.settings.name,
        LifecycleHookName: hook.name,
        EC2InstanceId: member.instanceId,
        LifecycleTransition: `autoscaling:EC2_INSTANCE_${transition === "launch" ? "LAUNCHING" : "TERMINATING"}`,
        ...route,
      },
    });
  }

  /** Expiry also happens with nobody calling: the group moves on by itself. */
  #scheduleExpiry(action: PendingAction): void {
    const wait = Math.min(action.deadline, action.overallDeadline) - this.clock.now();
    void this.clock.sleep(wait).then(() => {
      const member = [...this.members.values()].find((m) => m.action === action);
      if (!member) return;
      if (this.clock.now() >= Math.min(action.deadline, action.overallDeadline)) this.expireDue();
      else this.#scheduleExpiry(action);
    });
  }

  #finish(member: GroupMember, result: "CONTINUE" | "ABANDON"): void {
    const action = member.action;
    delete member.action;
    if (action?.transition === "launch") {
      if (result === "CONTINUE") member.lifecycleState = "InService";
      else this.#beginTermination(member);
    } else {
      this.#terminated(member);
    }
    this.#balance();
  }

  #findAction(input: {
    AutoScalingGroupName?: string;
    LifecycleHookName?: string;
    LifecycleActionToken?: string;
    InstanceId?: string;
  }) {
    if (input.AutoScalingGroupName !== this.settings.name) {
      throw validationError(`Group ${input.AutoScalingGroupName} not found`);
    }
    const member = [...this.members.values()].find(
      (m) =>
        m.action?.hook.name === input.LifecycleHookName &&
        (input.LifecycleActionToken
          ? m.action?.token === input.LifecycleActionToken
          : m.instanceId === input.InstanceId),
    );
    if (!member?.action) {
      const which = input.LifecycleActionToken
        ? `token ${input.LifecycleActionToken}`
        : `instance ID ${input.InstanceId}`;
      throw validationError(`No active Lifecycle Action found with ${which}`);
    }
    return { member, action: member.action };
  }

  #complete(input: CompleteLifecycleActionCommandInput) {
    if (input.LifecycleActionResult !== "CONTINUE" && input.LifecycleActionResult !== "ABANDON") {
      throw validationError("LifecycleActionResult must be CONTINUE or ABANDON");
    }
    const { member } = this.#findAction(input);
    this.#finish(member, input.LifecycleActionResult);
    return {};
  }

  #heartbeat(input: RecordLifecycleActionHeartbeatCommandInput) {
    const { action } = this.#findAction(input);
    action.deadline = this.clock.now() + action.hook.heartbeatTimeoutSeconds * 1000;
    this.#scheduleExpiry(action);
    return {};
  }

  #describe(input: DescribeAutoScalingGroupsCommandInput) {
    const names = input.AutoScalingGroupNames ?? [];
    if (names.length > 0 && !names.includes(this.settings.name)) return { AutoScalingGroups: [] };
    return {
      AutoScalingGroups: [
        {
          AutoScalingGroupName: this.settings.name,
          DesiredCapacity: this.desired,
          MinSize: 0,
          MaxSize: 1000,
          Instances: [...this.members.values()].map((m) => ({
            InstanceId: m.instanceId,
            LifecycleState: m.lifecycleState,
            HealthStatus: m.healthStatus,
            ProtectedFromScaleIn: false,
          })),
        },
      ],
    };
  }
}

function validationError(message: string): Error {
  return new AutoScalingServiceException({
    name: "ValidationError",
    $fault: "client",
    $metadata: { httpStatusCode: 400 },
    message,
  });
}
