import { type Clock, SDK_CLIENT_SETTINGS } from "@ftpfleet/core";
import type { InitializeMiddleware, MiddlewareStack } from "@smithy/types";

type Handler = (input: never) => unknown;

/** Answers a real SDK client's commands from a fake, at the command boundary: the adapter code,
 * its command objects and the SDK's own middleware up to here run exactly as in AWS. */
// biome-ignore lint/suspicious/noExplicitAny: every SDK client's stack has its own input/output unions.
export function answerFrom<C extends { middlewareStack: MiddlewareStack<any, any> }>(
  client: C,
  service: string,
  handlers: Record<string, Handler>,
  /** The fake's clock and the time a request spends on the wire and in the service. */
  fake: { clock: Clock; latencyMs: number },
): C {
  const answer: InitializeMiddleware<object, object> = (_next, context) => async (args) => {
    const name = String((context as { commandName?: string }).commandName ?? "").replace(/Command$/, "");
    const handler = handlers[name];
    if (!handler) throw new Error(`simulated ${service} does not implement ${name}`);
    if (fake.latencyMs > 0) await fake.clock.sleep(fake.latencyMs);
    const output = await handler((args as { input: never }).input);
    return { output: { $metadata: { httpStatusCode: 200 }, ...(output as object) }, response: {} };
  };
  client.middlewareStack.add(answer, { step: "initialize", name: `simulated${service}`, priority: "high" });
  return client;
}

/** The deployed client settings (one SDK attempt: the adapters' retry is the retry layer), kept off
 * the network and the credential chain. */
export const offlineClientConfig = {
  ...SDK_CLIENT_SETTINGS,
  region: "us-east-1",
  credentials: { accessKeyId: "SIMULATED", secretAccessKey: "SIMULATED" },
} as const;
