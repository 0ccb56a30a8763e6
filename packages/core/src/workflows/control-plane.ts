import type { Ports } from "../ports";
import { coalescedDnsSync, type DnsSync } from "./dns-sync";

/** The ports plus the fleet's one DNS sync (coalesced per process): what every workflow receives. */
export interface ControlPlane extends Ports {
  dns: DnsSync;
}

export function controlPlane(ports: Ports): ControlPlane {
  return { ...ports, dns: coalescedDnsSync(ports) };
}
