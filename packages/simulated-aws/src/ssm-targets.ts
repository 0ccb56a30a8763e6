import type { SendCommandCommandInput, Target } from "@aws-sdk/client-ssm";
import type { SimulatedInstance } from "./ec2";

/** SendCommand's limits from SSM's API model: InstanceIds and Targets, and each target's Values. */
const MAX_INSTANCE_IDS = 50;
const MAX_TARGETS = 5;
const MAX_TARGET_VALUES = 50;

/** The API model's patterns (each value 1 to 7 characters). */
const RATE_CONTROLS = {
  MaxConcurrency: /^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/,
  MaxErrors: /^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/,
} as const;
const TARGET_KEY = /^[\p{L}\p{Z}\p{N}_.:/=\-@]*$|resource-groups:ResourceTypeFilters|resource-groups:Name/u;

/** A ValidationException's message, as AWS words a failed constraint (the field in the wire's camelCase). */
const violation = (value: unknown, at: string, constraint: string) =>
  `1 validation error detected: Value '${String(value)}' at '${at}' failed to satisfy constraint: ${constraint}`;

/** What SendCommand refuses with a ValidationException before looking at documents or instances:
 * exactly one of InstanceIds or Targets, the lists' sizes, target keys, and the rate controls'
 * patterns. Undefined when the request is well-formed. */
export function sendCommandProblem(input: SendCommandCommandInput): string | undefined {
  const ids = input.InstanceIds ?? [];
  const targets = input.Targets ?? [];
  const byIds = ids.length > 0;
  const byTargets = targets.length > 0;
  if (byIds === byTargets) return "Exactly one of InstanceIds or Targets must be specified";
  if (ids.length > MAX_INSTANCE_IDS)
    return violation(ids, "instanceIds", `Member must have length less than or equal to ${MAX_INSTANCE_IDS}`);
  if (targets.length > MAX_TARGETS)
    return violation(targets, "targets", `Member must have length less than or equal to ${MAX_TARGETS}`);
  for (const [n, { Key, Values = [] }] of targets.entries()) {
    const at = `targets.${n + 1}.member`;
    if (Key === undefined) return violation(Key, `${at}.key`, "Member must not be null");
    if (Key.length < 1 || Key.length > 163)
      return violation(Key, `${at}.key`, "Member must have length between 1 and 163");
    if (!TARGET_KEY.test(Key))
      return violation(
        Key,
        `${at}.key`,
        `Member must satisfy regular expression pattern: ${TARGET_KEY.source}`,
      );
    if (Values.length > MAX_TARGET_VALUES)
      return violation(
        Values,
        `${at}.values`,
        `Member must have length less than or equal to ${MAX_TARGET_VALUES}`,
      );
    if (Key === "resource-groups:Name") return `Target key ${Key}: the simulation has no resource groups`;
    if (!isRunCommandKey(Key)) return `Target key ${Key} is not supported by Run Command`;
  }
  for (const [field, pattern] of Object.entries(RATE_CONTROLS)) {
    const value = input[field as keyof typeof RATE_CONTROLS];
    if (value === undefined) continue;
    const at = field.charAt(0).toLowerCase() + field.slice(1);
    if (value.length < 1 || value.length > 7)
      return violation(value, at, "Member must have length between 1 and 7");
    if (!pattern.test(value))
      return violation(value, at, `Member must satisfy regular expression pattern: ${pattern.source}`);
  }
  return undefined;
}

/** Run Command's keys (the Target reference's list), but for resource-groups:Name. */
function isRunCommandKey(key: string): boolean {
  return key.toLowerCase() === "instanceids" || key === "tag-key" || key.startsWith("tag:");
}

/** The instances well-formed Targets select: every target must match (SSM ANDs the keys), and a
 * target matches when one of its Values does. `tag:<key>` takes tag values, `tag-key` tag keys, and
 * `InstanceIds` (any case, as the user guide's `instanceids` example) instance ids. */
export function targetFilter(targets: readonly Target[]): (instance: SimulatedInstance) => boolean {
  const tests = targets.map(({ Key = "", Values = [] }): ((instance: SimulatedInstance) => boolean) => {
    if (Key.toLowerCase() === "instanceids") return (i) => Values.includes(i.instanceId);
    if (Key === "tag-key") return (i) => Values.some((key) => i.tags.has(key));
    const tag = Key.slice("tag:".length);
    return (i) => i.tags.has(tag) && Values.includes(i.tags.get(tag) ?? "");
  });
  return (instance) => tests.every((test) => test(instance));
}
