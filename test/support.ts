import { readFileSync } from "node:fs";
import type { Metrics } from "@aws-lambda-powertools/metrics";
import {
  type Clock,
  type ControlPlane,
  controlPlane,
  type FleetConfig,
  loadFleetConfig,
  memoryLogger,
  systemClock,
  withMetrics,
} from "@ftpfleet/core";
import type { ConsumerSettings } from "@ftpfleet/simulated-aws";
import { SimulatedAws, type SimulationOptions } from "@ftpfleet/simulated-aws";
import type { Context } from "aws-lambda";
import { createLifecycleHandler } from "../functions/lifecycle";
import { sqsEvent } from "../scripts/sqs-event";

export { sqsEvent };

export const testEnv = {
  FTPFLEET_OWNER_ID: "test",
  FTPFLEET_ASG_NAME: "ftpfleet-test",
  FTPFLEET_HOSTED_ZONE_ID: "Z0TESTZONE",
  FTPFLEET_RECORD_NAME: "ftp.example.com",
  FTPFLEET_DRAIN_SECONDS: "90",
};

/** A fleet with a bucket: new instances are provisioned by the provision document. */
export const provisionedEnv = {
  FTPFLEET_BUCKET: "ftpfleet-files",
  FTPFLEET_BUCKET_REGION: "eu-west-1",
  FTPFLEET_OUTPUT_BUCKET: "ftpfleet-ssm-output",
  FTPFLEET_AGENT_TIMEOUT_SECONDS: "300",
};

export function testConfig(overrides: Record<string, string> = {}): FleetConfig {
  return loadFleetConfig({ ...testEnv, ...overrides });
}

export function fixture(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`./fixtures/events/${name}.json`, import.meta.url), "utf8"));
}

export const lambdaContext = { awsRequestId: "test-request", functionName: "lifecycle" } as Context;

export interface Fleet {
  aws: SimulatedAws;
  cp: ControlPlane;
  log: ReturnType<typeof memoryLogger>;
  /** Runs simulated time until `work` settles. */
  run<T>(work: Promise<T>): Promise<T>;
  /** Lets simulated time pass. */
  advance(ms: number): Promise<void>;
  stop(): Promise<void>;
}

/** A simulated account with the real lifecycle handler consuming the lifecycle queue, wired like the
 * stack wires it (batch size, batching window, concurrency). */
export function simulatedFleet(
  options: Partial<SimulationOptions> & {
    consumer?: Partial<ConsumerSettings>;
    env?: Record<string, string>;
    /** The lifecycle function's metrics, published (EMF on stdout) after each invocation. */
    metrics?: Metrics;
  } = {},
): Fleet {
  const aws = new SimulatedAws({ config: testConfig(options.env), ...options });
  const { cp, log } = wireLifecycle(aws, options.consumer, options.metrics);
  return {
    aws,
    cp,
    log,
    run: (work) => aws.clock.run(work),
    advance: (ms) => aws.clock.advance(ms),
    stop: () => aws.clock.run(aws.lifecycleQueue.stop()),
  };
}

/** The real lifecycle handler consuming the simulation's lifecycle queue, as the stack wires it. */
function wireLifecycle<C extends Clock>(
  aws: SimulatedAws<C>,
  consumer: Partial<ConsumerSettings> = {},
  metrics?: Metrics,
) {
  const log = memoryLogger("debug", aws.clock);
  // As the function's composition root does: the logged events counted into its metrics.
  const counted = metrics
    ? withMetrics(log, (name, unit, value) => metrics.addMetric(name, unit, value))
    : log;
  const cp = controlPlane(aws.ports(counted));
  const handler = createLifecycleHandler(() => cp, metrics);
  aws.lifecycleQueue.consume(
    async (messages) => {
      const response = await handler(sqsEvent(messages), lambdaContext);
      return { failedMessageIds: response.batchItemFailures.map((f) => f.itemIdentifier) };
    },
    { batchSize: 100, batchWindowMs: 2000, concurrency: 2, ...consumer },
  );
  return { cp, log };
}

/** The same fleet in real time, for workflows that also talk to a real server (the local S3 server,
 * whose LastModified is the wall clock's): quick agents and batches, stop() when done. */
export function realTimeFleet(
  options: Omit<Partial<SimulationOptions<Clock>>, "clock"> & { env?: Record<string, string> } = {},
) {
  const aws = new SimulatedAws<Clock>({
    config: testConfig(options.env),
    ...options,
    clock: systemClock,
    ssm: { agentDelayMs: 0, registrationDelayMs: 10, deliveryDelayMs: 10, ...options.ssm },
  });
  const { cp, log } = wireLifecycle(aws, { batchWindowMs: 20 });
  return { aws, cp, log, stop: () => aws.lifecycleQueue.stop() };
}

/** The instance ids behind the fleet's records, sorted. */
export function recordInstanceIds(aws: SimulatedAws<Clock>): string[] {
  return aws
    .recordsAt()
    .map((r) => r.SetIdentifier ?? "")
    .filter((id) => id.startsWith("ftpfleet:test:"))
    .map((id) => id.slice("ftpfleet:test:".length))
    .sort();
}

export function states(aws: SimulatedAws<Clock>): Record<string, string> {
  return Object.fromEntries(
    [...aws.autoscaling.members.values()].map((m) => [m.instanceId, m.lifecycleState]),
  );
}

/** What `work` writes to a stream (Powertools' EMF lines, commander's usage errors), kept from it. */
export async function capture<T>(
  stream: NodeJS.WriteStream,
  work: () => Promise<T>,
): Promise<{ result: T; written: string[] }> {
  const written: string[] = [];
  const write = stream.write.bind(stream);
  stream.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof stream.write;
  try {
    return { result: await work(), written };
  } finally {
    stream.write = write;
  }
}
