import { Resolver } from "node:dns/promises";
import { createLogger, systemClock, until } from "@ftpfleet/core";
import type { LocalFleet } from "@ftpfleet/local";
import { startLocalFleet } from "../../scripts/local-fleet";

/** Waits in real time until `check` holds. */
export const waitFor = (what: string, check: () => boolean | Promise<boolean>, limitMs = 60_000) =>
  until(systemClock, check, { what, limitMs, stepMs: 250 });

/** Local mode as the suites run it: quick reconciles and group health checks, quiet, and never
 * taking over the announcement of a local mode a person runs on this machine. */
export function startTestFleet(instances: number, announce: string | false = false): Promise<LocalFleet> {
  return startLocalFleet({
    instances,
    dnsPort: 0,
    log: createLogger({ level: "error" }),
    reconcileEveryMs: 5_000,
    healthCheckMs: 1_000,
    announce,
  });
}

/** A resolver asking only the fleet's DNS responder. */
export function fleetResolver(fleet: LocalFleet): Resolver {
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([`127.0.0.1:${fleet.dns.port}`]);
  return resolver;
}
