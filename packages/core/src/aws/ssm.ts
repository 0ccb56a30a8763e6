import {
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  paginateDescribeInstanceInformation,
  paginateListCommandInvocations,
  SendCommandCommand,
  type SendCommandCommandInput,
  type SSMClient,
} from "@aws-sdk/client-ssm";
import { chunks } from "../batching";
import type { Clock, CommandPort, InvocationView, Logger, SendOptions } from "../ports";
import { retry } from "../retry";
import { isTransientAwsError } from "./errors";
import { collect } from "./pages";

/** SendCommand takes at most 50 instance ids. */
export const MAX_INSTANCES_PER_COMMAND = 50;

export function ssmCommands(client: SSMClient, clock: Clock, log?: Logger): CommandPort {
  const call = <T>(operation: () => Promise<T>, extraRetryable: (e: unknown) => boolean = () => false) =>
    retry(operation, {
      clock,
      isRetryable: (e) => isTransientAwsError(e) || extraRetryable(e),
      maxAttempts: 8,
      log,
      what: "ssm",
    });

  async function sendOnce(
    document: string,
    targets: Pick<SendCommandCommandInput, "InstanceIds" | "Targets" | "MaxConcurrency" | "MaxErrors">,
    parameters: Record<string, string>,
    options: SendOptions,
  ) {
    const out = await call(() =>
      client.send(
        new SendCommandCommand({
          DocumentName: document,
          ...targets,
          Parameters: Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, [v]])),
          Comment: options.comment?.slice(0, 100),
          ...(options.outputBucket
            ? {
                OutputS3BucketName: options.outputBucket,
                OutputS3KeyPrefix: options.outputPrefix ?? `ssm/${document}`,
              }
            : {}),
          CloudWatchOutputConfig: { CloudWatchOutputEnabled: true },
        }),
      ),
    );
    return out.Command?.CommandId ?? "";
  }

  return {
    async onlineAgents(instanceIds) {
      const online = new Set<string>();
      // The InstanceIds filter takes at most 50 values.
      for (const Values of chunks(instanceIds, MAX_INSTANCES_PER_COMMAND)) {
        const infos = await call(() =>
          collect(
            paginateDescribeInstanceInformation({ client }, { Filters: [{ Key: "InstanceIds", Values }] }),
            (page) => page.InstanceInformationList ?? [],
          ),
        );
        for (const info of infos)
          if (info.PingStatus === "Online" && info.InstanceId) online.add(info.InstanceId);
      }
      return online;
    },

    async send(document, instanceIds, parameters, options = {}) {
      const sent = new Map<string, string>();
      const refused: string[] = [];
      for (const chunk of chunks(instanceIds, MAX_INSTANCES_PER_COMMAND)) {
        try {
          const id = await sendOnce(document, { InstanceIds: [...chunk] }, parameters, options);
          for (const instance of chunk) sent.set(instance, id);
        } catch (error) {
          if (!isInvalidInstance(error)) throw error;
          // One unregistered agent fails the whole call: send one by one to find it.
          for (const instance of chunk) {
            try {
              sent.set(instance, await sendOnce(document, { InstanceIds: [instance] }, parameters, options));
            } catch (single) {
              if (!isInvalidInstance(single)) throw single;
              refused.push(instance);
            }
          }
        }
      }
      return { sent, refused };
    },

    async invocation(commandId, instanceId) {
      // GetCommandInvocation needs a step's PluginName once a document has several steps; the
      // invocation as a whole, with each step's status, comes from ListCommandInvocations. Right
      // after SendCommand the invocation may not be listed yet: ask again.
      const invocation = await call(
        async () => {
          const out = await client.send(
            new ListCommandInvocationsCommand({
              CommandId: commandId,
              InstanceId: instanceId,
              Details: true,
            }),
          );
          const found = out.CommandInvocations?.[0];
          if (!found) throw new InvocationNotListedError(commandId, instanceId);
          return found;
        },
        (e) => e instanceof InvocationNotListedError,
      );
      const failedStep = (invocation.CommandPlugins ?? []).find(
        (plugin) =>
          plugin.Status !== "Success" && plugin.Status !== "Pending" && plugin.Status !== "InProgress",
      );
      const finished = (invocation.CommandPlugins ?? []).map((p) => p.ResponseFinishDateTime?.getTime() ?? 0);
      const requested = invocation.RequestedDateTime?.getTime();
      const end = Math.max(0, ...finished);
      const ended = !["Pending", "InProgress", "Delayed"].includes(invocation.Status ?? "");
      const view: InvocationView = {
        document: invocation.DocumentName ?? "",
        status: invocation.Status ?? "",
        stderrHead: "",
        ...(failedStep ? { failedStep: failedStep.Name ?? "" } : {}),
        ...(ended && requested !== undefined && end >= requested ? { durationMs: end - requested } : {}),
      };
      if (!failedStep?.Name) return view;
      // The failed step's own stderr (8,000 characters inline) and where its full output is.
      const step = await call(() =>
        client.send(
          new GetCommandInvocationCommand({
            CommandId: commandId,
            InstanceId: instanceId,
            PluginName: failedStep.Name,
          }),
        ),
      );
      const outputUrl = step.StandardErrorUrl || step.StandardOutputUrl;
      return {
        ...view,
        stderrHead: (step.StandardErrorContent ?? "").split("\n").slice(0, 10).join("\n").trim(),
        ...(outputUrl ? { outputUrl } : {}),
      };
    },

    sendToTagged(document, tag, parameters, options) {
      return sendOnce(
        document,
        {
          Targets: [{ Key: `tag:${tag.key}`, Values: [tag.value] }],
          MaxConcurrency: options.maxConcurrency,
          MaxErrors: options.maxErrors,
        },
        parameters,
        options,
      );
    },

    async progress(commandId) {
      const [listed, invocations] = await Promise.all([
        call(() => client.send(new ListCommandsCommand({ CommandId: commandId }))),
        call(() =>
          collect(
            paginateListCommandInvocations({ client }, { CommandId: commandId }),
            (page) => page.CommandInvocations ?? [],
          ),
        ),
      ]);
      const command = listed.Commands?.[0];
      return {
        status: command?.Status ?? "Pending",
        ...(command?.TargetCount !== undefined ? { targetCount: command.TargetCount } : {}),
        invocations: invocations.map((i) => ({ instanceId: i.InstanceId ?? "", status: i.Status ?? "" })),
      };
    },
  };
}

/** ListCommandInvocations does not list an invocation yet (right after SendCommand). */
class InvocationNotListedError extends Error {
  override readonly name = "InvocationNotListedError";
  constructor(commandId: string, instanceId: string) {
    super(`invocation ${commandId} on ${instanceId} is not listed yet`);
  }
}

function isInvalidInstance(error: unknown): boolean {
  return error instanceof Error && error.name === "InvalidInstanceId";
}
