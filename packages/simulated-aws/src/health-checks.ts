import {
  type CreateHealthCheckCommandInput,
  type HealthCheck,
  HealthCheckAlreadyExists,
  type HealthCheckConfig,
  HealthCheckInUse,
  InvalidInput,
  type ListHealthChecksCommandInput,
  NoSuchHealthCheck,
  TooManyHealthChecks,
} from "@aws-sdk/client-route-53";
import type { Clock } from "@ftpfleet/core";

/** What a health checker found at an endpoint: pass, or the reason it failed. */
export type ProbeResult = { ok: true } | { ok: false; reason: string };

/** How the simulation's health checkers reach an endpoint (in local mode: a real HTTP request). */
export type HealthProbe = (endpoint: {
  type: string;
  ipAddress: string;
  port: number;
  resourcePath: string;
}) => Promise<ProbeResult> | ProbeResult;

/** The regions Route53's checkers report from (eight by default). */
const CHECKER_REGIONS = [
  "us-east-1",
  "us-west-1",
  "us-west-2",
  "eu-west-1",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-northeast-1",
  "sa-east-1",
];

const PROBED_TYPES = ["HTTP", "HTTPS", "TCP"];

interface Check {
  healthCheck: HealthCheck;
  /** Every checker applies the failure threshold to its own results; all checkers see the same. */
  healthy: boolean;
  failures: number;
  passes: number;
  lastReport?: { status: string; checkedAt: number };
}

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

/**
 * Route53 health checks as the fleet uses them: CreateHealthCheck with its CallerReference rules
 * (same reference and settings: the same check; other settings, or a deleted check's reference:
 * HealthCheckAlreadyExists), the settings' ranges, endpoints Route53 cannot check refused, an account
 * quota; DeleteHealthCheck refused while a record uses the check; GetHealthCheckStatus per checker;
 * ListHealthChecks paged. Checkers probe every RequestInterval and flip a check after
 * FailureThreshold results in a row; a new check counts as healthy until then.
 *
 * Addresses: Route53 checks only public endpoints. The simulation's instances have addresses from
 * 198.18.0.0/15 (reserved for benchmarking, never routed on the internet) standing for public ones,
 * so that range is accepted; every range an instance's private address can come from is refused.
 */
export class SimulatedHealthChecks {
  readonly #checks = new Map<string, Check>();
  /** References of deleted checks: Route53 never lets them be used again. */
  readonly #deletedReferences = new Set<string>();
  #seq = 0;
  #running = false;

  constructor(
    readonly clock: Clock,
    /** Route53's default quota of health checks per account. */
    readonly quota = 200,
  ) {}

  /** How checkers reach endpoints; without one, every endpoint passes. */
  probe: HealthProbe = () => ({ ok: true });

  create(input: CreateHealthCheckCommandInput) {
    const reference = input.CallerReference ?? "";
    if (reference.length < 1 || reference.length > 64) {
      throw new InvalidInput({ ...meta(400), message: "CallerReference must be 1 to 64 characters" });
    }
    const config = normalizedConfig(input.HealthCheckConfig);
    const existing = [...this.#checks.values()].find((c) => c.healthCheck.CallerReference === reference);
    if (existing) {
      if (JSON.stringify(existing.healthCheck.HealthCheckConfig) === JSON.stringify(config)) {
        return { HealthCheck: structuredClone(existing.healthCheck), Location: location(existing) };
      }
      throw new HealthCheckAlreadyExists({
        ...meta(409),
        message: `A health check with the caller reference ${reference} already exists with other settings`,
      });
    }
    if (this.#deletedReferences.has(reference)) {
      throw new HealthCheckAlreadyExists({
        ...meta(409),
        message: `The caller reference ${reference} belongs to a deleted health check`,
      });
    }
    if (this.#checks.size >= this.quota) {
      throw new TooManyHealthChecks({
        ...meta(400),
        message: `This account already has ${this.quota} health checks (the quota)`,
      });
    }
    this.#seq++;
    const id = `00000000-0000-4000-8000-${String(this.#seq).padStart(12, "0")}`;
    const check: Check = {
      healthCheck: { Id: id, CallerReference: reference, HealthCheckConfig: config, HealthCheckVersion: 1 },
      healthy: true,
      failures: 0,
      passes: 0,
    };
    this.#checks.set(id, check);
    return { HealthCheck: structuredClone(check.healthCheck), Location: location(check) };
  }

  /** `inUse` tells whether a record of any zone refers to the check. */
  delete(id: string | undefined, inUse: (id: string) => boolean) {
    const check = this.#get(id);
    if (inUse(check.healthCheck.Id as string)) {
      throw new HealthCheckInUse({
        ...meta(400),
        message: `The health check with id ${id} is still referenced from a resource record set`,
      });
    }
    this.#checks.delete(check.healthCheck.Id as string);
    this.#deletedReferences.add(check.healthCheck.CallerReference as string);
    return {};
  }

  status(id: string | undefined) {
    const check = this.#get(id);
    const report = check.lastReport;
    return {
      HealthCheckObservations: report
        ? CHECKER_REGIONS.map((Region) => ({
            Region,
            IPAddress: `15.177.${CHECKER_REGIONS.indexOf(Region)}.1`,
            StatusReport: { Status: report.status, CheckedTime: new Date(report.checkedAt) },
          }))
        : [],
    };
  }

  list(input: ListHealthChecksCommandInput) {
    const max = Number(input.MaxItems ?? 100);
    if (!Number.isInteger(max) || max < 1 || max > 1000) {
      throw new InvalidInput({ ...meta(400), message: "MaxItems must be 1 to 1000" });
    }
    const all = [...this.#checks.values()].map((c) => c.healthCheck);
    const start = input.Marker ? all.findIndex((c) => c.Id === input.Marker) : 0;
    if (start < 0) throw new InvalidInput({ ...meta(400), message: `Invalid marker ${input.Marker}` });
    const page = all.slice(start, start + max);
    const next = all[start + max];
    return {
      HealthChecks: structuredClone(page),
      Marker: input.Marker ?? "",
      MaxItems: max,
      IsTruncated: next !== undefined,
      ...(next ? { NextMarker: next.Id } : {}),
    };
  }

  /** Whether the check exists (records may only refer to existing checks). */
  has(id: string): boolean {
    return this.#checks.has(id);
  }

  /** Route53's verdict on a check; unknown ids count as healthy, as for a record without a check. */
  isHealthy(id: string): boolean {
    return this.#checks.get(id)?.healthy ?? true;
  }

  /** Every check probed once now, as each checker does every RequestInterval. */
  async checkAll(): Promise<void> {
    await Promise.all([...this.#checks.values()].map((check) => this.#checkOnce(check)));
  }

  /** Checkers running on the clock, each check at its own RequestInterval, until `stop()`. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const loop = async (interval: number) => {
      while (this.#running) {
        await this.clock.sleep(interval * 1000);
        if (!this.#running) return;
        const due = [...this.#checks.values()].filter(
          (c) => (c.healthCheck.HealthCheckConfig?.RequestInterval ?? 30) === interval,
        );
        await Promise.all(due.map((check) => this.#checkOnce(check)));
      }
    };
    void loop(10);
    void loop(30);
  }

  stop(): void {
    this.#running = false;
  }

  async #checkOnce(check: Check): Promise<void> {
    const config = check.healthCheck.HealthCheckConfig as HealthCheckConfig;
    let result: ProbeResult;
    try {
      result = await this.probe({
        type: config.Type as string,
        ipAddress: config.IPAddress as string,
        port: config.Port as number,
        resourcePath: config.ResourcePath ?? "/",
      });
    } catch (error) {
      result = { ok: false, reason: (error as Error).message };
    }
    // A check deleted while its probe ran is gone.
    if (!this.#checks.has(check.healthCheck.Id as string)) return;
    const threshold = config.FailureThreshold ?? 3;
    if (result.ok) {
      check.passes++;
      check.failures = 0;
      if (check.passes >= threshold) check.healthy = true;
    } else {
      check.failures++;
      check.passes = 0;
      if (check.failures >= threshold) check.healthy = false;
    }
    const status = check.healthy
      ? "Success: HTTP Status Code 200, OK"
      : `Failure: ${result.ok ? "recovering" : result.reason}`;
    check.lastReport = { status, checkedAt: this.clock.now() };
  }

  #get(id: string | undefined): Check {
    const check = this.#checks.get(id ?? "");
    if (!check) {
      throw new NoSuchHealthCheck({ ...meta(404), message: `No health check exists with the ID ${id}` });
    }
    return check;
  }
}

function location(check: Check): string {
  return `https://route53.amazonaws.com/2013-04-01/healthcheck/${check.healthCheck.Id}`;
}

/** The settings as Route53 stores them (defaults filled in), or InvalidInput naming the field. */
function normalizedConfig(config: HealthCheckConfig | undefined): HealthCheckConfig {
  const invalid = (message: string) =>
    new InvalidInput({ ...meta(400), message: `Invalid request: ${message}` });
  if (!config?.Type) throw invalid("HealthCheckConfig.Type is required");
  if (!PROBED_TYPES.includes(config.Type)) {
    throw invalid(`HealthCheckConfig.Type ${config.Type} is not simulated (${PROBED_TYPES.join(", ")} are)`);
  }
  if (!config.IPAddress) throw invalid("HealthCheckConfig.IPAddress is required here");
  const refused = uncheckableRange(config.IPAddress);
  if (refused) throw invalid(`IP address ${config.IPAddress} is in ${refused}: Route53 cannot check it`);
  const port = config.Port ?? (config.Type === "HTTPS" ? 443 : 80);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw invalid("HealthCheckConfig.Port is 1 to 65535");
  const interval = config.RequestInterval ?? 30;
  if (interval !== 10 && interval !== 30) throw invalid("HealthCheckConfig.RequestInterval is 10 or 30");
  const threshold = config.FailureThreshold ?? 3;
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > 10) {
    throw invalid("HealthCheckConfig.FailureThreshold is 1 to 10");
  }
  if (config.Type === "TCP" && config.ResourcePath !== undefined) {
    throw invalid("HealthCheckConfig.ResourcePath is not allowed for TCP health checks");
  }
  if (
    config.ResourcePath !== undefined &&
    (!config.ResourcePath.startsWith("/") || config.ResourcePath.length > 255)
  ) {
    throw invalid("HealthCheckConfig.ResourcePath starts with / and has at most 255 characters");
  }
  return {
    IPAddress: config.IPAddress,
    Port: port,
    Type: config.Type,
    ...(config.ResourcePath !== undefined ? { ResourcePath: config.ResourcePath } : {}),
    RequestInterval: interval,
    FailureThreshold: threshold,
    MeasureLatency: config.MeasureLatency ?? false,
    Inverted: config.Inverted ?? false,
    Disabled: config.Disabled ?? false,
    EnableSNI: config.EnableSNI ?? config.Type === "HTTPS",
  };
}

/** The ranges Route53 refuses to check (local, private, shared, link-local, multicast, reserved),
 * apart from the simulation's stand-in for public addresses (198.18.0.0/15). */
const UNCHECKABLE: [string, number, string][] = [
  ["0.0.0.0", 8, "0.0.0.0/8 (this network)"],
  ["10.0.0.0", 8, "10.0.0.0/8 (private)"],
  ["100.64.0.0", 10, "100.64.0.0/10 (shared address space)"],
  ["127.0.0.0", 8, "127.0.0.0/8 (loopback)"],
  ["169.254.0.0", 16, "169.254.0.0/16 (link-local)"],
  ["172.16.0.0", 12, "172.16.0.0/12 (private)"],
  ["192.0.0.0", 24, "192.0.0.0/24 (IETF protocol assignments)"],
  ["192.0.2.0", 24, "192.0.2.0/24 (documentation)"],
  ["192.168.0.0", 16, "192.168.0.0/16 (private)"],
  ["198.51.100.0", 24, "198.51.100.0/24 (documentation)"],
  ["203.0.113.0", 24, "203.0.113.0/24 (documentation)"],
  ["224.0.0.0", 4, "224.0.0.0/4 (multicast)"],
  ["240.0.0.0", 4, "240.0.0.0/4 (reserved)"],
];

function uncheckableRange(ip: string): string | undefined {
  const value = ipv4(ip);
  if (value === undefined) return "no IPv4 address";
  for (const [base, bits, name] of UNCHECKABLE) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if ((value & mask) >>> 0 === ((ipv4(base) as number) & mask) >>> 0) return name;
  }
  return undefined;
}

/** An IPv4 address as a number, or undefined if it is not one. */
export function ipv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((value, part) => ((value << 8) | Number(part)) >>> 0, 0);
}
