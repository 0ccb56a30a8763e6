import { MAX_DELAY_SECONDS } from "./adapters/completion-queue";
import type { FleetConfig } from "./config";

export interface LifecycleHookSpec {
  name: string;
  transition: "autoscaling:EC2_INSTANCE_LAUNCHING" | "autoscaling:EC2_INSTANCE_TERMINATING";
  /** 30–7200 s. */
  heartbeatTimeoutSeconds: number;
  defaultResult: "CONTINUE" | "ABANDON";
}

/** The group's lifecycle hooks, as the control plane needs them. The stack deploys them and the
 * simulation runs with them, so both agree. */
export function lifecycleHooks(config: Pick<FleetConfig, "drainSeconds">): {
  launch: LifecycleHookSpec;
  terminate: LifecycleHookSpec;
} {
  // A deferred completion wakes at least every MAX_DELAY_SECONDS and heartbeats; leave room for retries.
  const terminateHeartbeat = Math.min(
    7200,
    Math.max(300, Math.min(config.drainSeconds, MAX_DELAY_SECONDS) + 300),
  );
  return {
    // An instance that is not answered in time never served: abandon it so the group replaces it.
    launch: {
      name: "ftpfleet-launch",
      transition: "autoscaling:EC2_INSTANCE_LAUNCHING",
      heartbeatTimeoutSeconds: 900,
      defaultResult: "ABANDON",
    },
    // A terminating instance leaves either way; CONTINUE keeps a lost answer from blocking scale-in.
    terminate: {
      name: "ftpfleet-terminate",
      transition: "autoscaling:EC2_INSTANCE_TERMINATING",
      heartbeatTimeoutSeconds: terminateHeartbeat,
      defaultResult: "CONTINUE",
    },
  };
}
