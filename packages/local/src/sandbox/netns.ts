import { runChecked, runCommand } from "./exec";

// Every local network is 10.231.<id>.0/24: the host's bridge is .1, instance k is .(k+1). Its
// instances' public addresses are 198.18.<id>.0/24 on the same bridge (a range reserved for
// benchmarking, never routed on the internet), standing for the public IPs EC2 gives instances:
// the addresses DNS answers and Route53's health checkers probe.
const subnetBase = "10.231";
const publicBase = "198.18";
const maxNetworkId = 250;

export interface LocalNetwork {
  id: number;
  bridge: string;
  /** The host's address on the bridge; servers the instances must reach listen here. */
  hostAddress: string;
}

export interface InstanceNamespace {
  /** `ftpfleet-<network>-<index>`, under /run/netns. */
  name: string;
  address: string;
  /** The instance's public address (a second address on its interface). */
  publicAddress: string;
  /** The `--net=` argument for nsenter. */
  netnsPath: string;
}

export const bridgeName = (id: number) => `ftpfleet-b${id}`;
export const namespaceName = (networkId: number, index: number) => `ftpfleet-${networkId}-${index}`;

/**
 * Creates a bridge with the first free id. Creating the link is the lock: two processes (e.g.
 * parallel test files) can never get the same network.
 */
export async function createNetwork(): Promise<LocalNetwork> {
  for (let id = 1; id <= maxNetworkId; id++) {
    const bridge = bridgeName(id);
    const created = await runCommand("ip", ["link", "add", "name", bridge, "type", "bridge"]);
    if (created.code !== 0) continue;
    const hostAddress = `${subnetBase}.${id}.1`;
    await runChecked("ip", ["addr", "add", `${hostAddress}/24`, "dev", bridge]);
    await runChecked("ip", ["addr", "add", `${publicBase}.${id}.1/24`, "dev", bridge]);
    await runChecked("ip", ["link", "set", bridge, "up"]);
    return { id, bridge, hostAddress };
  }
  throw new Error("no free local network (10.231.1-250.0/24 all in use)");
}

export async function deleteNetwork(network: LocalNetwork): Promise<void> {
  await runCommand("ip", ["link", "del", network.bridge]);
}

/** A network namespace joined to the bridge by a veth pair; `lo` and `eth0` are up. */
export async function createNamespace(network: LocalNetwork, index: number): Promise<InstanceNamespace> {
  if (index < 1 || index > 250) throw new Error(`instance index out of range: ${index}`);
  const name = namespaceName(network.id, index);
  const hostEnd = `fv${network.id}i${index}`;
  const address = `${subnetBase}.${network.id}.${index + 1}`;
  const publicAddress = `${publicBase}.${network.id}.${index + 1}`;
  await runChecked("ip", ["netns", "add", name]);
  try {
    // A veth of an earlier world with this network id can outlive its namespace for a moment (the
    // kernel tears namespaces down asynchronously); the id is ours now, so the name is too.
    await runCommand("ip", ["link", "del", hostEnd]);
    await runChecked("ip", ["link", "add", hostEnd, "type", "veth", "peer", "name", "eth0", "netns", name]);
    await runChecked("ip", ["link", "set", hostEnd, "master", network.bridge, "up"]);
    await runChecked("ip", ["-n", name, "addr", "add", `${address}/24`, "dev", "eth0"]);
    await runChecked("ip", ["-n", name, "addr", "add", `${publicAddress}/24`, "dev", "eth0"]);
    await runChecked("ip", ["-n", name, "link", "set", "eth0", "up"]);
    await runChecked("ip", ["-n", name, "link", "set", "lo", "up"]);
  } catch (error) {
    await deleteNamespace(name);
    throw error;
  }
  return { name, address, publicAddress, netnsPath: `/run/netns/${name}` };
}

/** Deleting the namespace also deletes its veth pair. */
export async function deleteNamespace(name: string): Promise<void> {
  await runCommand("ip", ["netns", "delete", name]);
}

export async function listNamespaces(): Promise<string[]> {
  const result = await runCommand("ip", ["netns", "list"]);
  return result.stdout
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith("ftpfleet-"));
}

export async function listBridges(): Promise<string[]> {
  const result = await runCommand("ip", ["-o", "link", "show", "type", "bridge"]);
  return [...result.stdout.matchAll(/^\d+: (ftpfleet-b\d+)[:@]/gm)].map((match) => match[1] ?? "");
}
