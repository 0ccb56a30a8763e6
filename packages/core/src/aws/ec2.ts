import {
  CreateTagsCommand,
  type EC2Client,
  type Instance,
  paginateDescribeInstances,
} from "@aws-sdk/client-ec2";
import type { Clock, InstancePort, InstanceView } from "../ports";
import { retry } from "../retry";
import { isTransientAwsError } from "./errors";
import { collect } from "./pages";

/** Tag meaning "this instance passed provisioning and may serve": the durable fact that lets a
 * reconcile decide readiness without remembering any event. */
export const READY_TAG = "ftpfleet:ready";

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
    async markReady(instanceIds) {
      // CreateTags takes up to 1,000 resources per call.
      for (let i = 0; i < instanceIds.length; i += 1000) {
        const Resources = instanceIds.slice(i, i + 1000);
        await call(() =>
          client.send(new CreateTagsCommand({ Resources, Tags: [{ Key: READY_TAG, Value: "true" }] })),
        );
      }
    },
  };
}

function toView(i: Instance): InstanceView {
  return {
    instanceId: i.InstanceId ?? "",
    state: i.State?.Name ?? "",
    ...(i.PublicIpAddress ? { publicIp: i.PublicIpAddress } : {}),
    ...(i.PrivateIpAddress ? { privateIp: i.PrivateIpAddress } : {}),
    ready: (i.Tags ?? []).some((t) => t.Key === READY_TAG && t.Value === "true"),
  };
}
