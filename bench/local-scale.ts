// Scale-out in local mode (real namespaces, real provisioning scripts, the control plane in real
// time): the first instance of a fresh fleet compiles both daemons and publishes the artifacts, so
// it is timed on its own (0 → 1); then `scale 1 → N`, every new instance installing the cached
// artifacts, until all N are serving and in DNS. Needs root.

import { createLogger } from "@ftpfleet/core";
import type { LocalFleet } from "@ftpfleet/local";
import { dataPlaneSupport } from "@ftpfleet/local";
import { startLocalFleet } from "../scripts/local-fleet";

export type ScaleBenchResult =
  | { skipped: string }
  | {
      skipped?: undefined;
      /** Scale 0 → 1 until serving and in DNS: the first instance, compiling both daemons. */
      firstInstanceSeconds: number;
      /** Scale-out with the artifacts cached: from `from` to `instances`. */
      from: number;
      instances: number;
      secondsUntilServing: number;
    };

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

const seconds = (since: number) => Math.round((performance.now() - since) / 100) / 10;

export async function localScaleBench(instances = 4): Promise<ScaleBenchResult> {
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
    const first = performance.now();
    fleet.scale(1);
    await until(fleet, 1, 300_000);
    const firstInstanceSeconds = seconds(first);
    const start = performance.now();
    fleet.scale(instances);
    await until(fleet, instances, 180_000);
    return { firstInstanceSeconds, from: 1, instances, secondsUntilServing: seconds(start) };
  } finally {
    await fleet.stop();
  }
}
