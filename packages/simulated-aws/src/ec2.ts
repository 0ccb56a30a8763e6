import {
  type CreateTagsCommandInput,
  type DeleteTagsCommandInput,
  type DescribeInstancesCommandInput,
  EC2Client,
  EC2ServiceException,
  type Instance,
} from "@aws-sdk/client-ec2";
import type { Clock } from "@ftpfleet/core";
import { CallLog, Faults } from "./faults";
import { answerFrom, offlineClientConfig } from "./sdk";

export interface SimulatedInstance {
  instanceId: string;
  state: "pending" | "running" | "stopping" | "stopped" | "shutting-down" | "terminated";
  publicIp?: string;
  privateIp: string;
  tags: Map<string, string>;
  launchedAt: number;
}

/** Assigns addresses to new instances; local mode gives each one its network namespace's address. */
export type AddressPlan = (index: number) => { publicIp?: string; privateIp: string };

/** Documentation and benchmarking ranges only: simulated addresses never reach anything real. */
export const documentationAddresses: AddressPlan = (n) => ({
  publicIp: `198.18.${(n >> 8) & 255}.${n & 255}`,
  privateIp: `10.0.${(n >> 8) & 255}.${n & 255}`,
});

export class SimulatedEc2 {
  readonly calls = new CallLog();
  /** Simulated time each API call takes. */
  latencyMs = 0;
  readonly faults = new Faults();
  readonly instances = new Map<string, SimulatedInstance>();
  #launched = 0;
  readonly #listeners: ((instance: SimulatedInstance) => void)[] = [];

  constructor(
    readonly clock: Clock,
    readonly addresses: AddressPlan = documentationAddresses,
  ) {}

  launch(tags: Record<string, string>): SimulatedInstance {
    const n = ++this.#launched;
    const instanceId = `i-${n.toString(16).padStart(17, "0")}`;
    const instance: SimulatedInstance = {
      instanceId,
      state: "running",
      ...this.addresses(n),
      tags: new Map(Object.entries(tags)),
      launchedAt: this.clock.now(),
    };
    this.instances.set(instanceId, instance);
    this.#notify(instance);
    return instance;
  }

  /** Changes an instance's state, as the instance (crash) or the group (terminate) would. */
  setState(instanceId: string, state: SimulatedInstance["state"]): void {
    const instance = this.instances.get(instanceId);
    if (!instance || instance.state === state) return;
    instance.state = state;
    this.#notify(instance);
  }

  /** Called on every launch and state change: local mode creates and removes the real instance. */
  watch(listener: (instance: SimulatedInstance) => void): void {
    this.#listeners.push(listener);
  }

  #notify(instance: SimulatedInstance): void {
    for (const listener of this.#listeners) listener(instance);
  }

  client(): EC2Client {
    return answerFrom(
      new EC2Client(offlineClientConfig),
      "EC2",
      {
        DescribeInstances: (input: DescribeInstancesCommandInput) =>
          this.#call("DescribeInstances", () => this.#describe(input)),
        CreateTags: (input: CreateTagsCommandInput) => this.#call("CreateTags", () => this.#tag(input)),
        DeleteTags: (input: DeleteTagsCommandInput) => this.#call("DeleteTags", () => this.#untag(input)),
      },
      this,
    );
  }

  #call<T>(command: string, run: () => T): T {
    this.calls.count(command);
    this.faults.check(command);
    return run();
  }

  #describe(input: DescribeInstancesCommandInput) {
    const missing = (input.InstanceIds ?? []).filter((id) => !this.instances.has(id));
    if (missing.length > 0) throw notFound(missing);
    const matches = [...this.instances.values()].filter(
      (i) =>
        (!input.InstanceIds?.length || input.InstanceIds.includes(i.instanceId)) &&
        (input.Filters ?? []).every((filter) => {
          const values = filter.Values ?? [];
          if (filter.Name === "instance-state-name") return values.includes(i.state);
          if (filter.Name === "instance-id") return values.includes(i.instanceId);
          if (filter.Name?.startsWith("tag:"))
            return values.includes(i.tags.get(filter.Name.slice(4)) ?? "\u0000");
          throw new EC2ServiceException({
            name: "InvalidParameterValue",
            $fault: "client",
            $metadata: {},
            message: `The filter '${filter.Name}' is invalid`,
          });
        }),
    );
    const max = Math.max(5, Math.min(input.MaxResults ?? 1000, 1000));
    const from = Number(input.NextToken ?? 0);
    const page = matches.slice(from, from + max);
    return {
      Reservations: page.map((i) => ({ Instances: [toInstance(i)] })),
      ...(from + max < matches.length ? { NextToken: String(from + max) } : {}),
    };
  }

  #tag(input: CreateTagsCommandInput) {
    const ids = input.Resources ?? [];
    const missing = ids.filter((id) => !this.instances.has(id));
    if (missing.length > 0) throw notFound(missing);
    for (const id of ids) {
      for (const tag of input.Tags ?? []) this.instances.get(id)?.tags.set(tag.Key ?? "", tag.Value ?? "");
    }
    return {};
  }

  /** A tag named without a value is deleted whatever its value; with a value, only if it matches. */
  #untag(input: DeleteTagsCommandInput) {
    const ids = input.Resources ?? [];
    const missing = ids.filter((id) => !this.instances.has(id));
    if (missing.length > 0) throw notFound(missing);
    for (const id of ids) {
      const tags = this.instances.get(id)?.tags;
      for (const tag of input.Tags ?? []) {
        if (tag.Value === undefined || tags?.get(tag.Key ?? "") === tag.Value) tags?.delete(tag.Key ?? "");
      }
    }
    return {};
  }
}

function notFound(ids: string[]): Error {
  return new EC2ServiceException({
    name: "InvalidInstanceID.NotFound",
    $fault: "client",
    $metadata: { httpStatusCode: 400 },
    message: `The instance IDs '${ids.join(", ")}' do not exist`,
  });
}

function toInstance(i: SimulatedInstance): Instance {
  return {
    InstanceId: i.instanceId,
    State: { Name: i.state },
    PrivateIpAddress: i.privateIp,
    ...(i.publicIp ? { PublicIpAddress: i.publicIp } : {}),
    Tags: [...i.tags].map(([Key, Value]) => ({ Key, Value })),
  };
}
