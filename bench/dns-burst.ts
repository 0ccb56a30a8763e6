import { CompleteLifecycleActionCommand } from "@aws-sdk/client-auto-scaling";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { ChangeResourceRecordSetsCommand } from "@aws-sdk/client-route-53";
import {
  controlPlane,
  isThrottle,
  isTransientAwsError,
  loadFleetConfig,
  memoryLogger,
  parseLifecycleEvent,
  processLifecycleMessages,
  retry,
  setIdentifierFor,
  until,
} from "@ftpfleet/core";
import { ROUTE53_RATE, SimulatedAws } from "@ftpfleet/simulated-aws";
import { lifecycleQueueSettings } from "../stacks/definitions";

export interface BurstResult {
  route53Calls: number;
  /** Throttled responses from Route53, including those retried away inside the caller. */
  throttledResponses: number;
  /** Throttling errors that escaped to the handler's caller (Lambda): failed invocations. */
  throttlingErrorsSurfaced: number;
  recordsMissing: number;
  /** Simulated seconds from the scale-out until every instance's record exists (or until the last attempt). */
  secondsUntilAllRecords: number;
  allRecordsExist: boolean;
}

/** Route53 allows 100 weighted records per name, so 200 instances means two fleets (say, two
 * stages) in one account: they share the hosted zone and the account's request rate. */
export const FLEETS = ["blue", "green"] as const;
export const INSTANCES_PER_FLEET = 100;
/** Every simulated AWS call takes this long, so that simulated time is not flattered. */
export const API_LATENCY_MS = 100;

function fleetConfig(name: string) {
  return loadFleetConfig({
    FTPFLEET_OWNER_ID: name,
    FTPFLEET_ASG_NAME: `ftpfleet-${name}`,
    FTPFLEET_HOSTED_ZONE_ID: "Z0BENCH",
    FTPFLEET_RECORD_NAME: `ftp-${name}.bench.example`,
  });
}

/** One simulated account holding every fleet. */
function account(): SimulatedAws[] {
  const fleets: SimulatedAws[] = [];
  for (const name of FLEETS) {
    const shared = fleets[0];
    fleets.push(
      new SimulatedAws({
        config: fleetConfig(name),
        zoneName: "bench.example",
        throttle: ROUTE53_RATE,
        apiLatencyMs: API_LATENCY_MS,
        ...(shared ? { clock: shared.clock, route53: shared.route53 } : {}),
      }),
    );
  }
  return fleets;
}

const ownedRecords = (fleets: SimulatedAws[]) =>
  fleets.reduce(
    (n, aws) =>
      n +
      aws.recordsAt().filter((r) => r.SetIdentifier?.startsWith(`ftpfleet:${aws.options.config.ownerId}:`))
        .length,
    0,
  );
function burstResult(fleets: SimulatedAws[], surfaced: number, elapsedMs: number): BurstResult {
  const route53 = (fleets[0] as SimulatedAws).route53;
  const events = FLEETS.length * INSTANCES_PER_FLEET;
  return {
    route53Calls: route53.calls.total(),
    throttledResponses: route53.throttled,
    throttlingErrorsSurfaced: surfaced,
    recordsMissing: events - ownedRecords(fleets),
    secondsUntilAllRecords: elapsedMs / 1000,
    allRecordsExist: ownedRecords(fleets) === events,
  };
}

/** ftpfleet: EventBridge → SQS → lifecycle function (batch 100, 5 s window, 2 pollers) → one sync per batch. */
export async function ftpfleetBurst(): Promise<BurstResult> {
  const fleets = account();
  const clock = (fleets[0] as SimulatedAws).clock;
  const events = FLEETS.length * INSTANCES_PER_FLEET;
  const logs = fleets.map((aws) => {
    const log = memoryLogger("info");
    const cp = controlPlane(aws.ports(log));
    aws.lifecycleQueue.consume((messages) => processLifecycleMessages(messages, cp), {
      batchSize: lifecycleQueueSettings.batchSize,
      batchWindowMs: lifecycleQueueSettings.batchWindowSeconds * 1000,
      concurrency: lifecycleQueueSettings.maximumConcurrency,
    });
    return log;
  });
  const start = clock.now();
  for (const aws of fleets) aws.autoscaling.setDesired(INSTANCES_PER_FLEET);
  let done = 0;
  await clock.run(
    until(clock, () => {
      if (done === 0 && ownedRecords(fleets) === events) done = clock.now();
      return done > 0 && fleets.every((aws) => aws.lifecycleQueue.depth === 0);
    }),
  );
  await clock.run(Promise.all(fleets.map((aws) => aws.lifecycleQueue.stop())));
  const surfaced = logs
    .flatMap((log) => log.lines)
    .filter((l) => l.msg === "dns.sync-failed" && /Throttl/.test(JSON.stringify(l.error ?? ""))).length;
  return burstResult(fleets, surfaced, done - start);
}

/** The naive design: EventBridge invokes a function per event, which UPSERTs its one record with the
 * SDK's standard retries (3 attempts); Lambda's asynchronous invocation retries a failed event twice
 * more, after about 1 and 2 minutes. */
export async function naiveBurst(): Promise<BurstResult> {
  const fleets = account();
  const clock = (fleets[0] as SimulatedAws).clock;
  let surfaced = 0;
  let lastRecordAt = clock.now();
  const start = clock.now();

  async function handle(aws: SimulatedAws, event: unknown): Promise<void> {
    const { config } = aws.options;
    const [route53, ec2, asg] = [aws.route53.client(), aws.ec2.client(), aws.autoscaling.client()];
    const parsed = parseLifecycleEvent(event, config.asgName);
    if (parsed.kind !== "action") return;
    const { action } = parsed;
    const sdk = <T>(call: () => Promise<T>) =>
      retry(call, {
        clock,
        isRetryable: isTransientAwsError,
        maxAttempts: 3,
        baseDelayMs: 100,
        maxDelayMs: 20_000,
      });
    const described = await sdk(() =>
      ec2.send(new DescribeInstancesCommand({ InstanceIds: [action.instanceId] })),
    );
    const ip = described.Reservations?.[0]?.Instances?.[0]?.PublicIpAddress ?? "";
    await sdk(() =>
      route53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: config.hostedZoneId,
          ChangeBatch: {
            Changes: [
              {
                Action: "UPSERT",
                ResourceRecordSet: {
                  Name: config.recordName,
                  Type: "A",
                  SetIdentifier: setIdentifierFor(config.ownerId, action.instanceId),
                  Weight: 1,
                  TTL: 60,
                  ResourceRecords: [{ Value: ip }],
                },
              },
            ],
          },
        }),
      ),
    );
    lastRecordAt = clock.now();
    await sdk(() =>
      asg.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: action.asgName,
          LifecycleHookName: action.hookName,
          LifecycleActionToken: action.token,
          LifecycleActionResult: "CONTINUE",
        }),
      ),
    );
  }

  async function invokeAsync(aws: SimulatedAws, event: unknown): Promise<void> {
    for (const delay of [0, 60_000, 120_000]) {
      await clock.sleep(delay);
      try {
        return await handle(aws, event);
      } catch (error) {
        if (isThrottle(error)) surfaced++;
      }
    }
  }

  for (const aws of fleets) aws.autoscaling.setDesired(INSTANCES_PER_FLEET);
  await clock.run(
    Promise.all(fleets.flatMap((aws) => aws.published.map((event) => invokeAsync(aws, event)))),
  );
  return burstResult(fleets, surfaced, lastRecordAt - start);
}
