// Time from "scale to N" until all N instances are serving and in DNS, in local mode (real
// namespaces, real provisioning scripts, the control plane in real time). Needs root.

import { createLogger } from "@ftpfleet/core";
import type { LocalFleet } from "@ftpfleet/local";
import { dataPlaneSupport } from "@ftpfleet/local";
import { startLocalFleet } from "../scripts/local-fleet";

export type ScaleBenchResult =
  | { skipped: string }
  | { skipped?: undefined; instances: number; secondsUntilServing: number };

async function until(fleet: LocalFleet, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const serving = fleet
      .status()
      .instances.filter((i) => i.lifecycleState === "InService" && i.inDns).length;
    if (serving === n && fleet.status().records.length === n) return;
    if (Date.now() > deadline) throw new Error(`local fleet did not reach ${n} serving instances`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function localScaleBench(instances = 3): Promise<ScaleBenchResult> {
  const missing = dataPlaneSupport();
  if (missing) return { skipped: missing };
  // announce: false: a bench never takes over the announcement of a local mode a person runs.
  const fleet = await startLocalFleet({
    instances: 0,
    dnsPort: 0,
    log: createLogger({ level: "error" }),
    announce: false,
  });
  try {
    const start = performance.now();
    fleet.scale(instances);
    await until(fleet, instances, 180_000);
    return { instances, secondsUntilServing: Math.round((performance.now() - start) / 100) / 10 };
  } finally {
    await fleet.stop();
  }
}
