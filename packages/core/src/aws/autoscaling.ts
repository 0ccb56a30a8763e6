import {
  type AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  RecordLifecycleActionHeartbeatCommand,
  SetInstanceHealthCommand,
} from "@aws-sdk/client-auto-scaling";
import type { ActionAnswer, Clock, GroupPort, Logger } from "../ports";
import { retry } from "../retry";
import { isTransientAwsError } from "./errors";

export function autoScalingGroup(
  client: AutoScalingClient,
  asgName: string,
  clock: Clock,
  log?: Logger,
): GroupPort {
  const call = <T>(operation: () => Promise<T>) =>
    retry(operation, { clock, isRetryable: isTransientAwsError, maxAttempts: 8, log, what: "autoscaling" });

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
    async markUnhealthy(instanceId) {
      // Now, whatever the group's health check grace period: the audit has seen it fail repairs.
      await call(() =>
        client.send(
          new SetInstanceHealthCommand({
            InstanceId: instanceId,
            HealthStatus: "Unhealthy",
            ShouldRespectGracePeriod: false,
          }),
        ),
      );
    },
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
