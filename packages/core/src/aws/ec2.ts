import { CreateTagsCommand, DescribeInstancesCommand, type EC2Client } from "@aws-sdk/client-ec2";
import type { Clock, InstancePort, InstanceView } from "../ports";
import { retry } from "../retry";
import { isTransientAwsError } from "./errors";

/** Tag meaning "this instance passed provisioning and may serve": the durable fact that lets a
 * reconcile decide readiness without remembering any event. */
export const READY_TAG = "ftpfleet:ready";

export function ec2Instances(client: EC2Client, asgName: string, clock: Clock): InstancePort {
  const call = <T>(operation: () => Promise<T>) =>
    retry(operation, { clock, isRetryable: isTransientAwsError, maxAttempts: 8 });
  return {
    async groupInstances() {
      const views: InstanceView[] = [];
      let NextToken: string | undefined;
      do {
        // Filters, not InstanceIds: an id that is already gone would fail the whole call.
        const page = await call(() =>
          client.send(
            new DescribeInstancesCommand({
              Filters: [
                { Name: "tag:aws:autoscaling:groupName", Values: [asgName] },
                { Name: "instance-state-name", Values: ["pending", "running"] },
              ],
              MaxResults: 1000,
              NextToken,
            }),
          ),
        );
        for (const reservation of page.Reservations ?? []) {
          for (const i of reservation.Instances ?? []) {
            views.push({
              instanceId: i.InstanceId ?? "",
              state: i.State?.Name ?? "",
              ...(i.PublicIpAddress ? { publicIp: i.PublicIpAddress } : {}),
              ...(i.PrivateIpAddress ? { privateIp: i.PrivateIpAddress } : {}),
              ready: (i.Tags ?? []).some((t) => t.Key === READY_TAG && t.Value === "true"),
            });
          }
        }
        NextToken = page.NextToken;
      } while (NextToken);
      return views;
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
