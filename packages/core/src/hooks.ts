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
  return {
    // Longer than provisioning may take (its steps time out first, and waiting for the agent is
    // heartbeated). An instance never answered never served: abandon it, the group replaces it.
    launch: {
      name: "ftpfleet-launch",
      transition: "autoscaling:EC2_INSTANCE_LAUNCHING",
      heartbeatTimeoutSeconds: 7200,
      defaultResult: "ABANDON",
    },
    // Long enough for a whole drain without a heartbeat; CONTINUE keeps a lost answer from blocking scale-in.
    terminate: {
      name: "ftpfleet-terminate",
      transition: "autoscaling:EC2_INSTANCE_TERMINATING",
      heartbeatTimeoutSeconds: Math.min(7200, Math.max(300, config.drainSeconds + 300)),
      defaultResult: "CONTINUE",
    },
  };
}
