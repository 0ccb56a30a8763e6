import { randomUUID } from "node:crypto";
import {
  AutoScalingClient,
  AutoScalingServiceException,
  type CompleteLifecycleActionCommandInput,
  type DescribeAutoScalingGroupsCommandInput,
  type RecordLifecycleActionHeartbeatCommandInput,
  type SetInstanceHealthCommandInput,
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
  /** Time an instance spends in Pending:Proceed after its launch action is answered CONTINUE (or
   * expires so), before InService. */
  pendingProceedMs?: number;
  /** Time an instance spends in Terminating:Proceed (EC2 shutting-down) after its terminate action
   * ends, before it is terminated and leaves the group. */
  terminatingProceedMs?: number;
  /** Opt-in eventual consistency: DescribeAutoScalingGroups answers the group as it was this many
   * ms ago. 0 or absent: describes are current. */
  describeLagMs?: number;
  /** A warm pool (pool state Running) whose instances return to it on scale-in: the terminate hook
   * holds a leaving instance in Warmed:Pending:Wait (destination WarmPool), and a scale-out takes
   * warm instances first (launch hook, origin WarmPool). Warm instances are not group members.
   * `minSize` (opt-in): the pool is kept at that many instances by launching new ones INTO it: each
   * goes Warmed:Pending:Wait (launch hook, origin EC2, destination WarmPool), then on CONTINUE
   * Warmed:Pending:Proceed → Warmed:Running; ABANDON (or expiry with that default) terminates it
   * (Warmed:Terminated; a terminate hook is not run for it here) and the pool is refilled. */
  warmPool?: { reuseOnScaleIn: boolean; minSize?: number };
}

/** Short, as the proceed states are on AWS once nothing else (load balancers, warm pools) waits. */
export const DEFAULT_PENDING_PROCEED_MS = 1_000;
export const DEFAULT_TERMINATING_PROCEED_MS = 5_000;

interface GroupView {
  at: number;
  desired: number;
  instances: { InstanceId: string; LifecycleState: string; HealthStatus: string }[];
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

const LEAVING = /^(Terminating|Terminated|Warmed)/;

/** A stateful Auto Scaling group with lifecycle hooks: it launches and terminates simulated EC2
 * instances, publishes lifecycle events as EventBridge would, expires actions that are not answered
 * in time (applying the hook's default result), and refuses answers to actions that are not active.
 * A launch goes Pending:Wait → Pending:Proceed → InService, a termination Terminating:Wait →
 * Terminating:Proceed → gone; describes may lag behind (`describeLagMs`). */
export class SimulatedAutoScaling {
  readonly calls = new CallLog();
  /** Simulated time each API call takes. */
  latencyMs = 0;
  readonly faults = new Faults();
  readonly members = new Map<string, GroupMember>();
  /** Instances in the warm pool (Warmed:Running, or Warmed:Pending:* while launched into it):
   * running, tagged with the group, not members. */
  readonly warmPool = new Map<string, GroupMember>();
  desired = 0;
  /** What describes answer from when they lag: the group after each change, oldest first. */
  #history: GroupView[] = [];

  constructor(
    readonly clock: Clock,
    readonly ec2: SimulatedEc2,
    readonly settings: GroupSettings,
    readonly publish: (event: EventBridgeEvent) => void,
  ) {
    this.#record();
  }

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
        SetInstanceHealth: (input: SetInstanceHealthCommandInput) =>
          this.#call("SetInstanceHealth", () => this.#setHealth(input)),
      },
      this,
    );
  }

  /** Changes the desired capacity; the group launches or terminates (newest first) to match. */
  setDesired(capacity: number): void {
    this.expireDue();
    this.desired = capacity;
    const active = this.#active();
    const reuse = this.settings.warmPool?.reuseOnScaleIn ?? false;
    for (const member of active.slice(capacity).reverse()) this.#beginTermination(member, reuse);
    this.#balance();
    this.#fillWarmPool();
    this.#record();
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
    this.#record();
  }

  /** Answers every action whose time is up with its hook's default result. */
  expireDue(): void {
    const now = this.clock.now();
    for (const member of [...this.members.values(), ...this.warmPool.values()]) {
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
    const warm = [...this.warmPool.values()].find((m) => m.lifecycleState === "Warmed:Running");
    if (warm) this.warmPool.delete(warm.instanceId);
    const member = warm ?? this.#newMember();
    this.members.set(member.instanceId, member);
    this.#awaitLaunchHook(member, "Pending", "InService", {
      Origin: warm ? "WarmPool" : "EC2",
      Destination: "AutoScalingGroup",
    });
  }

  /** Launches new instances into the warm pool until it holds `warmPool.minSize` (opt-in). */
  #fillWarmPool(): void {
    const minSize = this.settings.warmPool?.minSize ?? 0;
    for (let missing = minSize - this.warmPool.size; missing > 0; missing--) {
      const member = this.#newMember();
      this.warmPool.set(member.instanceId, member);
      this.#awaitLaunchHook(member, "Warmed:Pending", "Warmed:Running", {
        Origin: "EC2",
        Destination: "WarmPool",
      });
    }
  }

  #newMember(): GroupMember {
    const instance = this.ec2.launch({ "aws:autoscaling:groupName": this.settings.name });
    return { instanceId: instance.instanceId, lifecycleState: "Pending", healthStatus: "Healthy" };
  }

  /** `<pending>:Wait` under the launch hook, or straight to `done` when the group has none. */
  #awaitLaunchHook(member: GroupMember, pending: string, done: string, route: object): void {
    const hook = this.settings.launchHook;
    if (!hook) {
      member.lifecycleState = done;
      return;
    }
    member.lifecycleState = `${pending}:Wait`;
    this.#startAction(member, "launch", hook, route);
  }

  /** The end of a launch into the warm pool: Warmed:Pending:Proceed, then Warmed:Running; or, abandoned, terminated. */
  #finishWarming(member: GroupMember, result: "CONTINUE" | "ABANDON"): void {
    if (result === "ABANDON") {
      this.warmPool.delete(member.instanceId);
      member.lifecycleState = "Warmed:Terminated";
      if (this.ec2.instances.has(member.instanceId)) this.ec2.setState(member.instanceId, "terminated");
      this.#fillWarmPool();
      return;
    }
    member.lifecycleState = "Warmed:Pending:Proceed";
    void this.clock.sleep(this.settings.pendingProceedMs ?? DEFAULT_PENDING_PROCEED_MS).then(() => {
      if (
        this.warmPool.get(member.instanceId) !== member ||
        member.lifecycleState !== "Warmed:Pending:Proceed"
      )
        return;
      member.lifecycleState = "Warmed:Running";
    });
  }

  #beginTermination(member: GroupMember, reuse = false): void {
    delete member.action;
    const hook = this.settings.terminateHook;
    if (!hook) {
      if (reuse) this.#toWarmPool(member);
      else this.#terminated(member);
      return;
    }
    member.lifecycleState = reuse ? "Warmed:Pending:Wait" : "Terminating:Wait";
    this.#startAction(member, "terminate", hook, {
      Origin: "AutoScalingGroup",
      Destination: reuse ? "WarmPool" : "EC2",
    });
  }

  /** Back to the warm pool: still running, out of the group until a scale-out takes it again. */
  #toWarmPool(member: GroupMember): void {
    this.members.delete(member.instanceId);
    member.lifecycleState = "Warmed:Running";
    this.warmPool.set(member.instanceId, member);
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
      const member = [...this.members.values(), ...this.warmPool.values()].find((m) => m.action === action);
      if (!member) return;
      if (this.clock.now() >= Math.min(action.deadline, action.overallDeadline)) this.expireDue();
      else this.#scheduleExpiry(action);
    });
  }

  #finish(member: GroupMember, result: "CONTINUE" | "ABANDON"): void {
    const action = member.action;
    delete member.action;
    if (action?.transition === "launch" && this.warmPool.get(member.instanceId) === member) {
      this.#finishWarming(member, result);
      return;
    }
    if (action?.transition === "launch") {
      if (result === "CONTINUE") this.#proceed(member);
      else this.#beginTermination(member);
    } else if (member.lifecycleState === "Warmed:Pending:Wait") {
      this.#toWarmPool(member);
    } else {
      this.#terminating(member);
    }
    this.#balance();
    this.#record();
  }

  /** Pending:Proceed for a moment, then InService (unless the instance left meanwhile). */
  #proceed(member: GroupMember): void {
    member.lifecycleState = "Pending:Proceed";
    void this.clock.sleep(this.settings.pendingProceedMs ?? DEFAULT_PENDING_PROCEED_MS).then(() => {
      if (this.members.get(member.instanceId) !== member || member.lifecycleState !== "Pending:Proceed")
        return;
      member.lifecycleState = "InService";
      this.#record();
    });
  }

  /** Terminating:Proceed while EC2 shuts the instance down, then it is gone from the group. */
  #terminating(member: GroupMember): void {
    member.lifecycleState = "Terminating:Proceed";
    if (this.ec2.instances.has(member.instanceId)) this.ec2.setState(member.instanceId, "shutting-down");
    void this.clock.sleep(this.settings.terminatingProceedMs ?? DEFAULT_TERMINATING_PROCEED_MS).then(() => {
      if (this.members.get(member.instanceId) !== member) return;
      this.#terminated(member);
      this.#record();
    });
  }

  /** The group as DescribeAutoScalingGroups shows it right now. */
  #view(): GroupView {
    return {
      at: this.clock.now(),
      desired: this.desired,
      instances: [...this.members.values()].map((m) => ({
        InstanceId: m.instanceId,
        LifecycleState: m.lifecycleState,
        HealthStatus: m.healthStatus,
      })),
    };
  }

  /** Keeps the group's past for lagging describes: the newest view at or before the lag, and after. */
  #record(): void {
    const lag = this.settings.describeLagMs ?? 0;
    if (lag <= 0) return;
    const view = this.#view();
    const last = this.#history.at(-1);
    if (
      last &&
      last.desired === view.desired &&
      JSON.stringify(last.instances) === JSON.stringify(view.instances)
    )
      return;
    if (last?.at === view.at) this.#history[this.#history.length - 1] = view;
    else this.#history.push(view);
    const cutoff = view.at - lag;
    while ((this.#history[1]?.at ?? Number.POSITIVE_INFINITY) <= cutoff) this.#history.shift();
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
    const member = [...this.members.values(), ...this.warmPool.values()].find(
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

  /** SetInstanceHealth: only Healthy or Unhealthy, only an instance of the group. An unhealthy
   * instance is replaced (its termination goes through the terminate hook, as any other). */
  #setHealth(input: SetInstanceHealthCommandInput) {
    this.expireDue();
    if (input.HealthStatus !== "Healthy" && input.HealthStatus !== "Unhealthy") {
      throw validationError(
        `Valid instance health states are: [Healthy, Unhealthy], not ${input.HealthStatus}`,
      );
    }
    const member = this.members.get(input.InstanceId ?? "");
    if (!member)
      throw validationError(
        `Instance Id not found - No managed instance found for instance ID: ${input.InstanceId}`,
      );
    member.healthStatus = input.HealthStatus;
    if (input.HealthStatus === "Unhealthy" && !LEAVING.test(member.lifecycleState)) {
      this.#beginTermination(member);
      this.#balance();
    }
    this.#record();
    return {};
  }

  #describe(input: DescribeAutoScalingGroupsCommandInput) {
    const names = input.AutoScalingGroupNames ?? [];
    if (names.length > 0 && !names.includes(this.settings.name)) return { AutoScalingGroups: [] };
    const lag = this.settings.describeLagMs ?? 0;
    const then = this.clock.now() - lag;
    const view =
      lag > 0
        ? (this.#history.findLast((v) => v.at <= then) ?? { at: then, desired: 0, instances: [] })
        : this.#view();
    return {
      AutoScalingGroups: [
        {
          AutoScalingGroupName: this.settings.name,
          DesiredCapacity: view.desired,
          MinSize: 0,
          MaxSize: 1000,
          Instances: view.instances.map((i) => ({ ...i, ProtectedFromScaleIn: false })),
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
