import { Resolver } from "node:dns/promises";
import { type FleetStatus, fleetStatus } from "@ftpfleet/core";
import type { Io } from "./io";
import type { Target } from "./target";

/** Weighted records answer one address per query: ask a few times and count what comes back. */
const DNS_QUERIES = 12;

export async function statusCommand(open: () => Target, io: Io): Promise<number> {
  const target = open();
  try {
    const status = await fleetStatus(target.ports, target.users);
    const dns = await dnsAnswers(status.recordName, target.dnsServer);
    io.result({ ...status, dns }, render(status, dns));
    // Something an operator must look at: an instance in service but not in DNS, or behind.
    const lagging = status.instances.filter(
      (i) =>
        i.lifecycleState === "InService" &&
        (!i.record || !i.users || !("revision" in i.users) || i.users.revision < status.manifestRevision),
    );
    return lagging.length === 0 ? 0 : 1;
  } finally {
    target.close();
  }
}

async function dnsAnswers(
  name: string,
  server: string | undefined,
): Promise<{ server: string; answers: Record<string, number>; error?: string }> {
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });
  if (server) resolver.setServers([server]);
  const answers: Record<string, number> = {};
  try {
    for (let i = 0; i < DNS_QUERIES; i++) {
      for (const address of await resolver.resolve4(name.replace(/\.$/, "")))
        answers[address] = (answers[address] ?? 0) + 1;
    }
    return { server: server ?? "system resolver", answers };
  } catch (error) {
    return { server: server ?? "system resolver", answers, error: (error as Error).message };
  }
}

function render(status: FleetStatus, dns: Awaited<ReturnType<typeof dnsAnswers>>): string {
  const header = ["INSTANCE", "ADDRESS", "LIFECYCLE", "HEALTH", "DNS (weight)", "USERS APPLIED"];
  const rows = status.instances.map((i) => [
    i.instanceId,
    i.address ?? "-",
    i.lifecycleState,
    i.health,
    i.record ? `${i.record.address} (${i.record.weight})` : "not in DNS",
    !i.users
      ? "never"
      : "problem" in i.users
        ? `unreadable: ${i.users.problem}`
        : `revision ${i.users.revision} at ${i.users.appliedAt}`,
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join("  ")
      .trimEnd();
  const answered = Object.entries(dns.answers)
    .map(([address, n]) => `${address} ×${n}`)
    .join(", ");
  return [
    `fleet ${status.recordName}  users manifest revision ${status.manifestRevision}`,
    line(header),
    ...rows.map(line),
    ...status.strayRecords.map(
      (r) => `stray record: ${r.address} (weight ${r.weight}) of ${r.instanceId}, no longer in the group`,
    ),
    `DNS (${dns.server}, ${DNS_QUERIES} queries): ${dns.error ? `error: ${dns.error}` : answered || "no answer"}`,
  ].join("\n");
}
