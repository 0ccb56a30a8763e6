import {
  applyUsersToFleet,
  editUsers,
  type FleetApply,
  type Grant,
  parseGrant,
  parseUserEdit,
  type UserEdit,
  type UsersManifest,
} from "@ftpfleet/core";
import type { Io } from "./io";
import type { Target } from "./target";

export interface ApplyOptions {
  apply: boolean;
  dryRun: boolean;
  maxConcurrency: string;
  maxErrors: string;
}

/** `--grant PATH:ro|rw`, repeatable. */
export function collectGrant(value: string, previous: Grant[] = []): Grant[] {
  return [...previous, parseGrant(value)];
}

/** Makes one change to the manifest (conditionally, redone on a concurrent edit), then applies it to
 * every instance unless told not to. Values are checked before anything is read. */
export async function changeUsers(
  input: Record<string, unknown>,
  open: () => Target,
  options: ApplyOptions,
  io: Io,
): Promise<number> {
  const edit: UserEdit = parseUserEdit(input);
  const target = open();
  try {
    const outcome = await editUsers(target.users, edit, {
      clock: target.ports.clock,
      log: target.ports.log,
      dryRun: options.dryRun,
    });
    const what = `${describe(edit)}: ${
      !outcome.changed ? "already so, nothing written" : options.dryRun ? "would write" : "written"
    } (manifest revision ${outcome.manifest.revision}${outcome.conflicts ? `, redone after ${outcome.conflicts} concurrent edit(s)` : ""})`;
    const result = {
      edit: edit.kind,
      user: edit.name,
      changed: outcome.changed,
      revision: outcome.manifest.revision,
      conflicts: outcome.conflicts,
      dryRun: options.dryRun,
    };
    if (!options.apply || options.dryRun || !outcome.changed) {
      io.result(result, what);
      return 0;
    }
    io.progress(`${what}; applying to the fleet …`);
    const applied = await applyToFleet(target, options, io);
    io.result({ ...result, apply: applied }, describeApply(applied));
    return applied.ok ? 0 : 1;
  } finally {
    target.close();
  }
}

export async function applyCommand(open: () => Target, options: ApplyOptions, io: Io): Promise<number> {
  const target = open();
  try {
    if (options.dryRun) {
      const members = await target.ports.group.instances();
      const inService = members.filter((m) => m.lifecycleState === "InService").map((m) => m.instanceId);
      io.result(
        { dryRun: true, instances: inService },
        `would apply the users manifest on: ${inService.join(", ") || "no instance in service"}`,
      );
      return 0;
    }
    const applied = await applyToFleet(target, options, io);
    io.result(applied, describeApply(applied));
    return applied.ok ? 0 : 1;
  } finally {
    target.close();
  }
}

function applyToFleet(target: Target, options: ApplyOptions, io: Io): Promise<FleetApply> {
  return applyUsersToFleet(target.ports, {
    maxConcurrency: options.maxConcurrency,
    maxErrors: options.maxErrors,
    pollMs: target.kind === "local" ? 250 : 2_000,
    onProgress: (instanceId, status) => io.progress(`  ${instanceId}  ${status}`),
  });
}

function describeApply(applied: FleetApply): string {
  const lines = [
    `apply-users (command ${applied.commandId}): ${applied.status}, ${applied.instances.filter((i) => i.status === "Success").length} of ${applied.instances.length} instance(s) applied it`,
  ];
  for (const failed of applied.instances.filter((i) => i.status !== "Success")) {
    lines.push(
      `  FAILED ${failed.instanceId}: ${failed.status}${failed.failedStep ? ` in ${failed.failedStep}` : ""}`,
    );
    if (failed.stderrHead) lines.push(...failed.stderrHead.split("\n").map((l) => `    ${l}`));
    if (failed.outputUrl) lines.push(`    full output: ${failed.outputUrl}`);
  }
  for (const id of applied.unreached)
    lines.push(`  NOT REACHED ${id}: in service, but its SSM agent was not online`);
  return lines.join("\n");
}

function describe(edit: UserEdit): string {
  switch (edit.kind) {
    case "add":
      return `add ${edit.name}${edit.grants.map((g) => ` ${g.path}:${g.access}`).join("")}`;
    case "grant":
      return `grant ${edit.name} ${edit.grant.path}:${edit.grant.access}`;
    case "revoke":
      return `revoke ${edit.name} ${edit.path}`;
    default:
      return `${edit.kind} ${edit.name}`;
  }
}

export async function listUsers(open: () => Target, io: Io, name?: string): Promise<number> {
  // The name is checked by the manifest's rules (as any edit naming a user is) before anything is read.
  if (name !== undefined) parseUserEdit({ kind: "remove", name });
  const target = open();
  try {
    const stored = await target.users.read();
    const manifest: UsersManifest | undefined = stored?.manifest;
    // Never the hash: it is a secret too.
    const users = (manifest?.users ?? []).map((u) => ({
      name: u.name,
      disabled: u.disabled,
      grants: u.grants,
    }));
    if (name === undefined) {
      const rows = users.map(
        (u) =>
          `${u.name.padEnd(33)}${u.disabled ? "disabled" : "enabled "}  ${u.grants.map((g) => `${g.path}:${g.access}`).join(" ") || "-"}`,
      );
      io.result(
        { revision: manifest?.revision ?? 0, users },
        [`users manifest revision ${manifest?.revision ?? 0}`, ...rows].join("\n"),
      );
      return 0;
    }
    const user = users.find((u) => u.name === name);
    if (!user) {
      io.error(`user ${name} does not exist`);
      return 1;
    }
    io.result(
      { revision: manifest?.revision ?? 0, user },
      [
        `user      ${user.name}`,
        `state     ${user.disabled ? "disabled" : "enabled"}`,
        `password  set (SHA-512 crypt)`,
        `grants    ${user.grants.map((g) => `${g.path}:${g.access}`).join("\n          ") || "none"}`,
      ].join("\n"),
    );
    return 0;
  } finally {
    target.close();
  }
}
