// Deep health in local mode (real namespaces, real health agents, Route53's checks simulated with
// real HTTP probes, the control plane in real time): three of four instances break at once — s3fs
// killed, s3fs stopped (a hung mount), pure-ftpd stopped — and each is timed from the failure to
// "no longer answered by DNS" and to its replacement serving. Beside it, in the same run, the naive
// check (an FTP greeting on port 21, like the seed's load balancer TCP check and the group's own
// check here): when, if ever, it notices each failure. Needs root.

import { createLogger } from "@ftpfleet/core";
import { dataPlaneSupport, ftpGreets, type LocalFleet } from "@ftpfleet/local";
import { startLocalFleet } from "../scripts/local-fleet";

export type Failure = "s3fs killed" | "s3fs stopped (hung mount)" | "pure-ftpd stopped";

export interface HealthFailureResult {
  failure: Failure;
  /** Failure → Route53 (simulated) no longer answers the instance's record. */
  secondsUntilOutOfDns: number | null;
  /** Failure → a new instance serving in its place (the fleet back to full strength). */
  secondsUntilReplacementServing: number | null;
  /** Failure → the port-21 greeting check fails; null: it still passed when the watch ended. */
  naiveSecondsUntilNoticed: number | null;
}

export type HealthBenchResult =
  | { skipped: string }
  | { skipped?: undefined; watchSeconds: number; failures: HealthFailureResult[] };

const INSTANCES = 4;
/** How long the naive check is watched after the failures (and the cap on every wait). */
const WATCH_MS = 120_000;

export async function healthBench(): Promise<HealthBenchResult> {
  const missing = dataPlaneSupport();
  if (missing) return { skipped: missing };
  const fleet = await startLocalFleet({
    instances: INSTANCES,
    dnsPort: 0,
    log: createLogger({ level: "error" }),
    reconcileEveryMs: 5_000,
    announce: false,
  });
  try {
    await waitUntil(() => serving(fleet).length === INSTANCES, 360_000, "the fleet to serve");
    const [dead, hung, down] = fleet.status().instances;
    if (!dead || !hung || !down) throw new Error("not enough instances");
    const failures: [Failure, { instanceId: string; address: string }][] = [
      ["s3fs killed", dead],
      ["s3fs stopped (hung mount)", hung],
      ["pure-ftpd stopped", down],
    ];
    const start = performance.now();
    await fleet.breakInstance(dead.instanceId, "mount");
    await fleet.breakInstance(hung.instanceId, "hang");
    await fleet.breakInstance(down.instanceId, "ftpd");

    const results = new Map<Failure, HealthFailureResult>(
      failures.map(([failure]) => [
        failure,
        {
          failure,
          secondsUntilOutOfDns: null,
          secondsUntilReplacementServing: null,
          naiveSecondsUntilNoticed: null,
        },
      ]),
    );
    const elapsed = () => Math.round((performance.now() - start) / 100) / 10;
    /** When each replacement started serving (the fleet's new instances, in order). */
    const replacedAt: number[] = [];
    while (performance.now() - start < WATCH_MS) {
      const answered = fleet.answerable();
      const members = new Set(fleet.status().instances.map((i) => i.instanceId));
      const fresh = serving(fleet).filter((i) => !failures.some(([, b]) => b.instanceId === i.instanceId));
      while (replacedAt.length < fresh.length - (INSTANCES - failures.length)) replacedAt.push(elapsed());
      for (const [failure, broken] of failures) {
        const result = results.get(failure) as HealthFailureResult;
        if (result.secondsUntilOutOfDns === null && !answered.includes(broken.address)) {
          result.secondsUntilOutOfDns = elapsed();
        }
        // The naive check watches the broken instance as long as it exists.
        if (result.naiveSecondsUntilNoticed === null && members.has(broken.instanceId)) {
          if (!(await ftpGreets(broken.address))) result.naiveSecondsUntilNoticed = elapsed();
        }
      }
      const watched = failures.every(
        ([failure, broken]) =>
          results.get(failure)?.naiveSecondsUntilNoticed !== null || !members.has(broken.instanceId),
      );
      if (replacedAt.length === failures.length && watched) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // Replacements are interchangeable: the k-th to serve completes the k-th exit from DNS.
    const byExit = [...results.values()].sort(
      (a, b) =>
        (a.secondsUntilOutOfDns ?? Number.POSITIVE_INFINITY) -
        (b.secondsUntilOutOfDns ?? Number.POSITIVE_INFINITY),
    );
    byExit.forEach((result, k) => {
      result.secondsUntilReplacementServing = replacedAt[k] ?? null;
    });
    return {
      watchSeconds: WATCH_MS / 1000,
      failures: failures.map(([failure]) => results.get(failure) as HealthFailureResult),
    };
  } finally {
    await fleet.stop();
  }
}

function serving(fleet: LocalFleet) {
  return fleet.status().instances.filter((i) => i.lifecycleState === "InService" && i.answered);
}

async function waitUntil(check: () => boolean, limitMs: number, what: string): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${limitMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
