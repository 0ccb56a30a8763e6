import { z } from "zod";
import { InvalidInputError } from "./errors";

const dnsName = z
  .string()
  .trim()
  .toLowerCase()
  .transform((name) => (name.endsWith(".") ? name : `${name}.`))
  .refine((name) => name.length <= 254 && /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+$/.test(name), {
    message: "must be a DNS name such as ftp.example.com",
  });

export const fleetConfigSchema = z
  .object({
    /** Names this fleet's records (SetIdentifier prefix); unique per stage. */
    ownerId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}$/, "lowercase letters, digits and '-', at most 48"),
    asgName: z
      .string()
      .regex(/^[\w.\-@+=]{1,255}$/, "an Auto Scaling group name of letters, digits and ._-@+="),
    hostedZoneId: z
      .string()
      .regex(/^(\/hostedzone\/)?Z[A-Z0-9]{1,32}$/, "a Route53 hosted zone id such as Z0123456789ABC")
      .transform((id) => id.replace(/^\/hostedzone\//, "")),
    recordName: dnsName,
    /** Short, so that clients follow scale-in quickly (DESIGN.md: TTL ≤ 60 s for passive FTP). */
    recordTtl: z.coerce.number().int().min(0).max(300).default(60),
    recordWeight: z.coerce.number().int().min(0).max(255).default(1),
    healthCheckId: z.guid().optional(),
    address: z.enum(["public", "private"]).default("public"),
    /** Time between leaving DNS and letting the instance terminate; at least the TTL. */
    drainSeconds: z.coerce.number().int().min(0).max(7200).optional(),
  })
  .transform((config) => ({ ...config, drainSeconds: config.drainSeconds ?? config.recordTtl + 30 }))
  .refine((config) => config.drainSeconds >= config.recordTtl, {
    message: "drainSeconds must be at least recordTtl, or clients still resolve a leaving instance",
    path: ["drainSeconds"],
  });

export type FleetConfig = z.output<typeof fleetConfigSchema>;

const envNames = {
  ownerId: "FTPFLEET_OWNER_ID",
  asgName: "FTPFLEET_ASG_NAME",
  hostedZoneId: "FTPFLEET_HOSTED_ZONE_ID",
  recordName: "FTPFLEET_RECORD_NAME",
  recordTtl: "FTPFLEET_RECORD_TTL",
  recordWeight: "FTPFLEET_RECORD_WEIGHT",
  healthCheckId: "FTPFLEET_HEALTH_CHECK_ID",
  address: "FTPFLEET_ADDRESS",
  drainSeconds: "FTPFLEET_DRAIN_SECONDS",
} as const satisfies Record<keyof z.input<typeof fleetConfigSchema>, string>;

/** The project's one config loader: every FTPFLEET_* variable, validated once at start-up. */
export function loadFleetConfig(env: Record<string, string | undefined> = process.env): FleetConfig {
  const raw = Object.fromEntries(
    Object.entries(envNames)
      .map(([key, name]) => [key, env[name] === "" ? undefined : env[name]] as const)
      .filter(([, value]) => value !== undefined),
  );
  return parseOrThrow(fleetConfigSchema, raw, "invalid ftpfleet configuration", (path) => {
    const key = path[0] as keyof typeof envNames | undefined;
    return key ? envNames[key] : "config";
  });
}

export function fleetEnvironment(config: z.input<typeof fleetConfigSchema>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [envNames[key as keyof typeof envNames], String(value)]),
  );
}

/** Parses `input` or throws an InvalidInputError naming every problem. */
export function parseOrThrow<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  describePath: (path: PropertyKey[]) => string = (path) => path.map(String).join(".") || "(root)",
): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => `${describePath(issue.path)}: ${issue.message}`);
  throw new InvalidInputError(what, issues, { cause: result.error });
}
