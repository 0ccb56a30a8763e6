import { documentName, type FleetConfig } from "../config";
import type { Deferred } from "../events/deferred";
import type { LifecycleAction } from "../events/lifecycle";
import { type InvocationStatus, isTerminal } from "../events/ssm";
import { redactToken } from "../log";
import type { InvocationView } from "../ports";
import type { ControlPlane } from "./control-plane";
import type { SyncReport } from "./dns-sync";
import { activeLaunches, answerEntering, launchOfCommand, launchRef, provisionSentFor } from "./launch";
import { actionLog, answerAction, commandAction, deferAgain, done, failed, type Outcome } from "./outcome";

/** How often to look again for an SSM agent that is not online yet. */
export const AGENT_POLL_MS = 15_000;

/** Whether new instances are provisioned by the provision document (the fleet has a bucket). */
export function provisions(config: FleetConfig): boolean {
  return config.bucket !== undefined;
}

/** The provision document's parameters, from the fleet's configuration. */
export function provisionParameters(config: FleetConfig): Record<string, string> {
  return {
    BucketName: config.bucket ?? "",
    BucketRegion: config.bucketRegion ?? "",
    S3Endpoint: config.s3Endpoint ?? "",
    PureFtpdSource: config.pureFtpdSource,
    S3fsSource: config.s3fsSource,
    // Unset, the document's pinned official release and checksum apply.
    ...(config.pureFtpdSourceUrl && config.pureFtpdSourceSha256
      ? { PureFtpdSourceUrl: config.pureFtpdSourceUrl, PureFtpdSourceSha256: config.pureFtpdSourceSha256 }
      : {}),
    ...(config.s3fsSourceUrl && config.s3fsSourceSha256
      ? { S3fsSourceUrl: config.s3fsSourceUrl, S3fsSourceSha256: config.s3fsSourceSha256 }
      : {}),
    PassivePorts: config.passivePorts,
    PublicAddress: "",
    TlsMode: config.tlsMode,
    MaxClients: String(config.maxClients),
    MaxClientsPerIp: String(config.maxClientsPerIp),
    TlsCertificateParameter: config.tlsCertificateParameter ?? "",
    ArtifactKeyParameter: config.artifactKeyParameter ?? "",
    UsersManifestKey: ".ftpfleet/users.json",
    HealthPort: String(config.healthPort),
  };
}

/** Starts provision for launch actions that are still waiting, on instances whose SSM agent is
 * online; the others are looked at again later (heartbeating their action) until `deadline`, then
 * abandoned. An instance is provisioned once per launch: a late or repeated launch event for an
 * instance in service, leaving, or already being provisioned for this launch changes nothing.
 * Nothing waits here. */
export async function startProvisioning(
  items: readonly { action: LifecycleAction; deadline: number }[],
  cp: ControlPlane,
): Promise<Outcome[]> {
  if (items.length === 0) return [];
  const { config, clock } = cp;
  try {
    const { active, outcomes } = await activeLaunches(
      items.map((i) => i.action),
      cp,
    );
    const views = new Map((await cp.instances.groupInstances()).map((v) => [v.instanceId, v]));
    const pending = items.filter(({ action }) => {
      if (!active.has(action)) return false;
      if (!provisionSentFor(views.get(action.instanceId)?.launch, action.token)) return true;
      actionLog(cp, action, "launch").info("provision.already-started", {
        launch: views.get(action.instanceId)?.launch,
      });
      outcomes.set(action, done);
      return false;
    });
    const online = await cp.commands.onlineAgents(pending.map((i) => i.action.instanceId));
    const ready = pending.filter((i) => online.has(i.action.instanceId)).map((i) => i.action.instanceId);
    const { sent, refused } =
      ready.length > 0
        ? await cp.commands.send(documentName(config, "provision"), ready, provisionParameters(config), {
            outputBucket: config.outputBucket,
            comment: "ftpfleet provision",
          })
        : { sent: new Map<string, string>(), refused: [] };
    // The launch now belongs to this command: only its status can make the instance ready.
    const launches = new Map(
      pending.flatMap(({ action }) => {
        const commandId = sent.get(action.instanceId);
        return commandId ? [[action.instanceId, launchRef(action.token, commandId)] as const] : [];
      }),
    );
    if (launches.size > 0) await cp.instances.beginLaunch(launches);
    for (const { action, deadline } of pending) {
      const log = actionLog(cp, action, "launch");
      const commandId = sent.get(action.instanceId);
      if (commandId) {
        log.info("provision.started", { commandId, token: redactToken(action.token) });
        outcomes.set(action, done);
      } else if (clock.now() >= deadline) {
        log.error("provision.agent-offline", { waitedSeconds: config.agentTimeoutSeconds });
        outcomes.set(
          action,
          await answerAction(action, "ABANDON", cp, log, { reason: "SSM agent never came online" }),
        );
      } else {
        log.info("provision.awaiting-agent", { refused: refused.includes(action.instanceId) });
        const again: Deferred = {
          kind: "ftpfleet.await-agent",
          action,
          notBefore: clock.now() + AGENT_POLL_MS,
          deadline,
        };
        // activeLaunches has just recorded this action's heartbeat.
        outcomes.set(action, await deferAgain(again, cp, log));
      }
    }
    return items.map(({ action }) => outcomes.get(action) ?? done);
  } catch (error) {
    cp.log.error("provision.start-failed", { error, instances: items.length });
    return items.map(() => failed(error));
  }
}

/** A provision status event, checked against what it claims. */
export interface ProvisionResult {
  status: InvocationStatus;
  /** The launch the command was sent for, which is the instance's current launch. */
  launch: string;
  /** As SSM reports it now (GetCommandInvocation), not as the event said. */
  invocation: InvocationView;
}

/** Keeps the provision status events that belong to the instance's current launch, with the
 * command's result read back from SSM: a replayed event (at-least-once delivery allows one hours
 * later), an event of an earlier launch of the same instance, or a forged message changes nothing. */
export async function checkProvisionStatuses(
  statuses: readonly InvocationStatus[],
  cp: ControlPlane,
): Promise<{ results: ProvisionResult[]; outcomes: Map<InvocationStatus, Outcome> }> {
  const outcomes = new Map<InvocationStatus, Outcome>();
  const results: ProvisionResult[] = [];
  if (statuses.length === 0) return { results, outcomes };
  const views = new Map((await cp.instances.groupInstances()).map((v) => [v.instanceId, v]));
  const provisionDoc = documentName(cp.config, "provision");
  for (const status of statuses) {
    const log = cp.log.child({ instanceId: status.instanceId, commandId: status.commandId });
    const launch = views.get(status.instanceId)?.launch;
    if (!launch || !launchOfCommand(launch, status.commandId)) {
      log.warn("provision.status-ignored", {
        reason: "not the command of the instance's current launch",
        launch,
      });
      outcomes.set(status, done);
      continue;
    }
    try {
      const invocation = await cp.commands.invocation(status.commandId, status.instanceId);
      if (invocation.document !== provisionDoc || !isTerminal(invocation.status)) {
        log.warn("provision.status-ignored", {
          reason: "SSM does not confirm the event",
          document: invocation.document,
          status: invocation.status,
        });
        outcomes.set(status, done);
        continue;
      }
      results.push({ status, launch, invocation });
    } catch (error) {
      outcomes.set(status, failed(error));
    }
  }
  return { results, outcomes };
}

/** The provision run ended. Success: the instance was marked ready for its launch before the DNS
 * sync; let it in service once its record exists. Anything else: it never serves — abandon it,
 * saying why. */
export async function finishProvisioning(
  results: readonly ProvisionResult[],
  report: SyncReport,
  cp: ControlPlane,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const { status, invocation } of results) {
    const action = commandAction(cp, status, "launch");
    const log = actionLog(cp, action, "launch").child({ commandId: status.commandId });
    if (invocation.status === "Success") {
      log.info("provision.succeeded", { durationMs: invocation.durationMs });
      outcomes.push(await answerEntering(action, report, cp, log));
      continue;
    }
    log.error("provision.failed", {
      status: invocation.status,
      step: invocation.failedStep,
      stderr: invocation.stderrHead,
      output: invocation.outputUrl,
    });
    outcomes.push(
      await answerAction(action, "ABANDON", cp, log, { reason: `provision ${invocation.status}` }),
    );
  }
  return outcomes;
}
