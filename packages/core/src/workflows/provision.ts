import { documentName, type FleetConfig } from "../config";
import type { Deferred } from "../events/deferred";
import type { LifecycleAction } from "../events/lifecycle";
import type { InvocationStatus } from "../events/ssm";
import { redactToken } from "../log";
import type { ControlPlane } from "./control-plane";
import type { SyncReport } from "./dns-sync";
import { answerEntering } from "./launch";
import { actionLog, answerAction, commandAction, done, failed, type Outcome, waitLonger } from "./outcome";

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
    PassivePorts: config.passivePorts,
    PublicAddress: "",
    TlsMode: config.tlsMode,
    TlsCertificateParameter: config.tlsCertificateParameter ?? "",
    UsersManifestKey: ".ftpfleet/users.json",
  };
}

/** Starts provision on every instance whose SSM agent is online; the others are looked at again
 * later (heartbeating their action) until `deadline`, then abandoned. Nothing waits here. */
export async function startProvisioning(
  items: readonly { action: LifecycleAction; deadline: number }[],
  cp: ControlPlane,
): Promise<Outcome[]> {
  if (items.length === 0) return [];
  const { config, clock } = cp;
  try {
    const online = await cp.commands.onlineAgents(items.map((i) => i.action.instanceId));
    const ready = items.filter((i) => online.has(i.action.instanceId)).map((i) => i.action.instanceId);
    const { sent, refused } =
      ready.length > 0
        ? await cp.commands.send(documentName(config, "provision"), ready, provisionParameters(config), {
            outputBucket: config.outputBucket,
            comment: "ftpfleet provision",
          })
        : { sent: new Map<string, string>(), refused: [] };
    const outcomes: Outcome[] = [];
    for (const { action, deadline } of items) {
      const log = actionLog(cp, action, "launch");
      const commandId = sent.get(action.instanceId);
      if (commandId) {
        log.info("provision.started", { commandId, token: redactToken(action.token) });
        outcomes.push(done);
      } else if (clock.now() >= deadline) {
        log.error("provision.agent-offline", { waitedSeconds: config.agentTimeoutSeconds });
        outcomes.push(
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
        outcomes.push(await waitLonger(again, cp, log));
      }
    }
    return outcomes;
  } catch (error) {
    cp.log.error("provision.start-failed", { error, instances: items.length });
    return items.map(() => failed(error));
  }
}

/** The provision run ended. Success: the instance was marked ready before the DNS sync; let it in
 * service once its record exists. Anything else: it never serves — abandon it, saying why. */
export async function finishProvisioning(
  statuses: readonly InvocationStatus[],
  report: SyncReport,
  cp: ControlPlane,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const status of statuses) {
    const action = commandAction(cp, status, "launch");
    const log = actionLog(cp, action, "launch").child({ commandId: status.commandId });
    if (status.status === "Success") {
      log.info("provision.succeeded");
      outcomes.push(await answerEntering(action, report, cp, log));
      continue;
    }
    try {
      const result = await cp.commands.invocation(status.commandId, status.instanceId);
      log.error("provision.failed", {
        status: status.status,
        stderr: result.stderrHead,
        output: result.outputUrl,
      });
      outcomes.push(await answerAction(action, "ABANDON", cp, log, { reason: `provision ${status.status}` }));
    } catch (error) {
      outcomes.push(failed(error));
    }
  }
  return outcomes;
}
