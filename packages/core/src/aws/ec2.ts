import {
  CreateTagsCommand,
  DeleteTagsCommand,
  type EC2Client,
  type Instance,
  paginateDescribeInstances,
} from "@aws-sdk/client-ec2";
import { chunks, forEachConcurrently } from "../batching";
import type { Clock, InstancePort, InstanceView, Logger } from "../ports";
import { retry } from "../retry";
import { isTransientAwsError } from "./errors";
import { collect } from "./pages";

/** The launch an instance is being prepared for, and the launch it passed provisioning for: the
 * durable facts that let any sync decide readiness without remembering an event. */
export const LAUNCH_TAG = "ftpfleet:launch";
export const READY_TAG = "ftpfleet:ready";
/** The audit's marks: why the instance is out of rotation, and how many repairs failed in a row. */
export const ROTATION_TAG = "ftpfleet:out-of-rotation";
export const FAILED_REPAIRS_TAG = "ftpfleet:failed-repairs";
/** Set by the reconcile while Route53's deep health check of the instance fails. */
export const FAILING_SINCE_TAG = "ftpfleet:failing-since";

/** CreateTags and DeleteTags take up to 1,000 resources per call. */
const MAX_TAG_RESOURCES = 1000;
const TAG_CONCURRENCY = 10;

export function ec2Instances(client: EC2Client, asgName: string, clock: Clock, log?: Logger): InstancePort {
  const call = <T>(operation: () => Promise<T>) =>
    retry(operation, { clock, isRetryable: isTransientAwsError, maxAttempts: 8, log, what: "ec2" });
  return {
    async groupInstances() {
      // Filters, not InstanceIds: an id that is already gone would fail the whole call. A throttled
      // page restarts the listing: it is a read, and a partial one would drop instances.
      const pages = paginateDescribeInstances(
        { client, pageSize: 1000 },
        {
          Filters: [
            { Name: "tag:aws:autoscaling:groupName", Values: [asgName] },
            { Name: "instance-state-name", Values: ["pending", "running"] },
          ],
        },
      );
      const instances = await call(() => collect(pages, (page) => page.Reservations ?? []));
      return instances.flatMap((reservation) => (reservation.Instances ?? []).map(toView));
    },
    async beginLaunch(launches, options) {
      if (options?.ready) return tagEach(launches, [LAUNCH_TAG, READY_TAG]);
      // Readiness first: between the two calls the instance is merely not ready.
      await untag([...launches.keys()], [READY_TAG]);
      await tagEach(launches, [LAUNCH_TAG]);
    },
    markReady: (launches) => tagEach(launches, [READY_TAG]),
    forgetLaunch: (instanceIds) => untag(instanceIds, [LAUNCH_TAG, READY_TAG]),
    async mark(instanceId, marks) {
      const set: { Key: string; Value: string }[] = [];
      const remove: string[] = [];
      const mark = (key: string, value: string | number | null | undefined) => {
        if (value === null) remove.push(key);
        // Tag values are at most 256 characters.
        else if (value !== undefined) set.push({ Key: key, Value: String(value).slice(0, 256) });
      };
      mark(ROTATION_TAG, marks.outOfRotation);
      mark(FAILED_REPAIRS_TAG, marks.failedRepairs);
      mark(FAILING_SINCE_TAG, marks.failingSince);
      if (set.length > 0)
        await call(() => client.send(new CreateTagsCommand({ Resources: [instanceId], Tags: set })));
      if (remove.length > 0) await untag([instanceId], remove);
    },
  };

  /** One CreateTags call per distinct value: a batch's instances mostly share one launch command. */
  async function tagEach(values: ReadonlyMap<string, string>, keys: readonly string[]): Promise<void> {
    const byValue = new Map<string, string[]>();
    for (const [instanceId, value] of values) byValue.set(value, [...(byValue.get(value) ?? []), instanceId]);
    const requests = [...byValue].flatMap(([Value, ids]) =>
      chunks(ids, MAX_TAG_RESOURCES).map((Resources) => ({
        Resources,
        Tags: keys.map((Key) => ({ Key, Value })),
      })),
    );
    // A few at a time: each launch of a provisioning fleet has its own value.
    await forEachConcurrently(requests, TAG_CONCURRENCY, async (input) => {
      await call(() => client.send(new CreateTagsCommand(input)));
    });
  }

  async function untag(instanceIds: readonly string[], keys: readonly string[]): Promise<void> {
    for (const Resources of chunks(instanceIds, MAX_TAG_RESOURCES)) {
      // A tag without Value deletes the tag whatever its value.
      await call(() => client.send(new DeleteTagsCommand({ Resources, Tags: keys.map((Key) => ({ Key })) })));
    }
  }
}

function toView(i: Instance): InstanceView {
  return {
    instanceId: i.InstanceId ?? "",
    state: i.State?.Name ?? "",
    ...(i.PublicIpAddress ? { publicIp: i.PublicIpAddress } : {}),
    ...(i.PrivateIpAddress ? { privateIp: i.PrivateIpAddress } : {}),
    ...tagValue(i, LAUNCH_TAG, "launch"),
    ...tagValue(i, READY_TAG, "readyFor"),
    ...tagValue(i, ROTATION_TAG, "outOfRotation"),
    ...tagValue(i, FAILING_SINCE_TAG, "failingSince"),
    ...failedRepairs(i),
  };
}

function failedRepairs(i: Instance): { failedRepairs?: number } {
  const value = i.Tags?.find((t) => t.Key === FAILED_REPAIRS_TAG)?.Value;
  // A tag anyone may have edited: only a plain count is one.
  return value && /^[0-9]{1,4}$/.test(value) ? { failedRepairs: Number(value) } : {};
}

function tagValue<K extends string>(i: Instance, key: string, field: K): Partial<Record<K, string>> {
  const value = i.Tags?.find((t) => t.Key === key)?.Value;
  return value ? ({ [field]: value } as Record<K, string>) : {};
}
