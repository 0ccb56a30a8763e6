import {
  CreateTagsCommand,
  DeleteTagsCommand,
  type EC2Client,
  type Instance,
  paginateDescribeInstances,
} from "@aws-sdk/client-ec2";
import { chunks, forEachConcurrently } from "../batching";
import type { Clock, InstancePort, InstanceView } from "../ports";
import { retry } from "../retry";
import { isTransientAwsError } from "./errors";
import { collect } from "./pages";

/** The launch an instance is being prepared for, and the launch it passed provisioning for: the
 * durable facts that let any sync decide readiness without remembering an event. */
export const LAUNCH_TAG = "ftpfleet:launch";
export const READY_TAG = "ftpfleet:ready";

/** CreateTags and DeleteTags take up to 1,000 resources per call. */
const MAX_TAG_RESOURCES = 1000;
const TAG_CONCURRENCY = 10;

export function ec2Instances(client: EC2Client, asgName: string, clock: Clock): InstancePort {
  const call = <T>(operation: () => Promise<T>) =>
    retry(operation, { clock, isRetryable: isTransientAwsError, maxAttempts: 8 });
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
  };
}

function tagValue<K extends string>(i: Instance, key: string, field: K): Partial<Record<K, string>> {
  const value = i.Tags?.find((t) => t.Key === key)?.Value;
  return value ? ({ [field]: value } as Record<K, string>) : {};
}
