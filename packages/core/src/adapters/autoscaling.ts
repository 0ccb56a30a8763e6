import {
  type AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  RecordLifecycleActionHeartbeatCommand,
} from "@aws-sdk/client-auto-scaling";
import type { Clock } from "../clock";
import type { LifecycleAction } from "../events/lifecycle";
import { retry } from "../retry";
import { isTransientAwsError } from "./aws-errors";

export interface GroupInstance {
  instanceId: string;
  /** e.g. Pending:Wait, InService, Terminating:Wait, Standby, Warmed:Running. */
  lifecycleState: string;
  healthStatus: string;
}

/** "active": the answer was taken. "closed": the action had already ended (completed before, expired,
 * or the instance left); the goal of answering it is reached either way. */
export type ActionAnswer = "active" | "closed";

/** Names one lifecycle action. Without a token, Auto Scaling finds the action by instance id. */
export type ActionRef = Pick<LifecycleAction, "instanceId" | "asgName" | "hookName"> & { token?: string };

export interface GroupPort {
  instances(): Promise<GroupInstance[]>;
  complete(action: ActionRef, result: "CONTINUE" | "ABANDON"): Promise<ActionAnswer>;
  heartbeat(action: ActionRef): Promise<ActionAnswer>;
}

export function autoScalingGroup(client: AutoScalingClient, asgName: string, clock: Clock): GroupPort {
  const call = <T>(operation: () => Promise<T>) =>
    retry(operation, { clock, isRetryable: isTransientAwsError, maxAttempts: 8 });

  const answer = async (send: () => Promise<unknown>): Promise<ActionAnswer> => {
    try {
      await call(send);
      return "active";
    } catch (error) {
      if (isClosedAction(error)) return "closed";
      throw error;
    }
  };

  return {
    async instances() {
      const out = await call(() =>
        client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [asgName] })),
      );
      const group = out.AutoScalingGroups?.[0];
      return (group?.Instances ?? []).map((i) => ({
        instanceId: i.InstanceId ?? "",
        lifecycleState: i.LifecycleState ?? "",
        healthStatus: i.HealthStatus ?? "",
      }));
    },
    complete: (action, result) =>
      answer(() =>
        client.send(
          new CompleteLifecycleActionCommand({
            AutoScalingGroupName: action.asgName,
            LifecycleHookName: action.hookName,
            LifecycleActionToken: action.token,
            InstanceId: action.instanceId,
            LifecycleActionResult: result,
          }),
        ),
      ),
    heartbeat: (action) =>
      answer(() =>
        client.send(
          new RecordLifecycleActionHeartbeatCommand({
            AutoScalingGroupName: action.asgName,
            LifecycleHookName: action.hookName,
            LifecycleActionToken: action.token,
            InstanceId: action.instanceId,
          }),
        ),
      ),
  };
}

/** Auto Scaling's answer for an action that is no longer waiting for us. */
export function isClosedAction(error: unknown): boolean {
  return (
    error instanceof Error &&
    error.name === "ValidationError" &&
    /No active Lifecycle Action found/i.test(error.message)
  );
}
