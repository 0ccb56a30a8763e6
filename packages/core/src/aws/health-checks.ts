import { createHash } from "node:crypto";
import {
  CreateHealthCheckCommand,
  DeleteHealthCheckCommand,
  GetHealthCheckStatusCommand,
  type HealthCheck,
  paginateListHealthChecks,
  type Route53Client,
} from "@aws-sdk/client-route-53";
import type { Clock, HealthCheckPort, HealthVerdict, InstanceHealthCheck, Logger } from "../ports";
import { retry } from "../retry";
import { isTransientAwsError } from "./errors";
import { collect } from "./pages";

/** Every check probes /health each 10 s and flips at the first result that differs: the endpoint's
 * own hysteresis (it fails after two bad checks and passes after three good ones) keeps a slow
 * instance from flapping, and a failure leaves DNS within 30 s. */
export const HEALTH_CHECK_SETTINGS = {
  type: "HTTP",
  resourcePath: "/health",
  requestIntervalSeconds: 10,
  failureThreshold: 1,
} as const;

/** Route53 counts an endpoint healthy while more than 18 % of its checkers find it so. */
const HEALTHY_SHARE = 0.18;

export interface HealthCheckOptions {
  ownerId: string;
  /** The instances' deep health endpoint port. */
  port: number;
  clock: Clock;
  log: Logger;
}

/**
 * The fleet's health checks, one per instance and address. A check carries its owner, instance
 * and creation time in its CallerReference (at most 64 characters, kept for good), so the fleet
 * finds its own checks by listing them and never touches anyone else's.
 */
export function route53HealthChecks(client: Route53Client, options: HealthCheckOptions): HealthCheckPort {
  const { clock, log } = options;
  const owner = `ftpfleet:${createHash("sha256").update(options.ownerId).digest("hex").slice(0, 12)}:`;
  const call = <T>(what: string, operation: () => Promise<T>) =>
    retry(operation, {
      clock,
      isRetryable: isTransientAwsError,
      maxAttempts: 12,
      baseDelayMs: 200,
      maxDelayMs: 20_000,
      log,
      what: `route53:${what}`,
    });

  const mine = (check: HealthCheck): InstanceHealthCheck | undefined => {
    const reference = check.CallerReference ?? "";
    if (!reference.startsWith(owner)) return undefined;
    const [instanceId, created] = reference.slice(owner.length).split(":");
    const address = check.HealthCheckConfig?.IPAddress;
    if (!check.Id || !instanceId || !address || !created) return undefined;
    return { id: check.Id, instanceId, address, createdAt: Number.parseInt(created, 36) };
  };

  return {
    async list() {
      const checks = await call("ListHealthChecks", () =>
        collect(paginateListHealthChecks({ client }, { MaxItems: 1000 }), (page) => page.HealthChecks ?? []),
      );
      return checks.flatMap((check) => mine(check) ?? []);
    },

    async create(instanceId, address) {
      const createdAt = clock.now();
      // Fixed before the first attempt: a retry after a lost answer gets the same check back.
      const reference = `${owner}${instanceId}:${createdAt.toString(36)}`;
      const output = await call("CreateHealthCheck", () =>
        client.send(
          new CreateHealthCheckCommand({
            CallerReference: reference,
            HealthCheckConfig: {
              Type: HEALTH_CHECK_SETTINGS.type,
              IPAddress: address,
              Port: options.port,
              ResourcePath: HEALTH_CHECK_SETTINGS.resourcePath,
              RequestInterval: HEALTH_CHECK_SETTINGS.requestIntervalSeconds,
              FailureThreshold: HEALTH_CHECK_SETTINGS.failureThreshold,
            },
          }),
        ),
      );
      const check = output.HealthCheck && mine(output.HealthCheck);
      if (!check) throw new Error(`Route53 answered CreateHealthCheck for ${instanceId} without the check`);
      return check;
    },

    async delete(id) {
      try {
        await call("DeleteHealthCheck", () =>
          client.send(new DeleteHealthCheckCommand({ HealthCheckId: id })),
        );
        return "deleted";
      } catch (error) {
        const name = (error as Error).name;
        if (name === "HealthCheckInUse") return "in-use";
        if (name === "NoSuchHealthCheck") return "gone";
        throw error;
      }
    },

    async verdict(id): Promise<HealthVerdict> {
      const status = await call("GetHealthCheckStatus", () =>
        client.send(new GetHealthCheckStatusCommand({ HealthCheckId: id })),
      );
      const reports = (status.HealthCheckObservations ?? []).map((o) => o.StatusReport?.Status ?? "");
      if (reports.length === 0) return "unknown";
      const passing = reports.filter((report) => report.startsWith("Success")).length;
      return passing / reports.length > HEALTHY_SHARE ? "healthy" : "failing";
    },
  };
}
