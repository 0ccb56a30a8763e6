// How a second process (the ftpfleet CLI) reaches a running local mode. Local mode's AWS is a
// simulation inside its own process, so the CLI's real SDK clients are answered by that process:
// each command (service, name, input) crosses a Unix socket and is sent there through the
// simulation's own SDK clients. The adapters, the SDK's middleware up to the command, and the
// simulation's rules all run exactly as for local mode itself; only the command crosses. A Unix
// socket in a root-only folder is the whole access control: local mode runs as root.
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import { dirname, join } from "node:path";
import { deserialize, serialize } from "node:v8";
import * as autoscaling from "@aws-sdk/client-auto-scaling";
import * as ec2 from "@aws-sdk/client-ec2";
import * as route53 from "@aws-sdk/client-route-53";
import * as sqs from "@aws-sdk/client-sqs";
import * as ssm from "@aws-sdk/client-ssm";
import { type AwsClients, parseOrThrow } from "@ftpfleet/core";
import { offlineClientConfig } from "@ftpfleet/simulated-aws";
import type { InitializeMiddleware, MiddlewareStack } from "@smithy/types";
import { z } from "zod";

/** Where a running local mode says how to reach it (tests announce theirs elsewhere). */
export const LOCAL_MODE_FILE = "/run/ftpfleet-local/local-mode.json";

const services = { route53, autoscaling, ec2, ssm, sqs } as const;
type Service = keyof typeof services;

export const localModeSchema = z.strictObject({
  pid: z.number().int().positive(),
  socket: z.string(),
  /** The fleet's FTPFLEET_* variables: the CLI loads them with the one config loader. */
  environment: z.record(z.string(), z.string()),
  s3: z.strictObject({
    endpoint: z.string(),
    region: z.string(),
    accessKeyId: z.string(),
    secretAccessKey: z.string(),
  }),
  dns: z.strictObject({ address: z.string(), port: z.number().int() }),
});
export type LocalModeInfo = z.output<typeof localModeSchema>;

/** The running local mode, if there is one whose process is alive. */
export function findLocalMode(file = LOCAL_MODE_FILE): LocalModeInfo | undefined {
  if (!existsSync(file)) return undefined;
  const info = parseOrThrow(localModeSchema, JSON.parse(readFileSync(file, "utf8")), `invalid ${file}`);
  try {
    process.kill(info.pid, 0);
  } catch {
    return undefined;
  }
  return existsSync(info.socket) ? info : undefined;
}

function announcedPid(file: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(file, "utf8")) as { pid?: number }).pid;
  } catch {
    return undefined;
  }
}

interface Call {
  service: Service;
  command: string;
  input: unknown;
}

type Answer =
  | { output: object }
  | { error: { name: string; message: string; fault?: string; status?: number } };

/** Serves the simulation's SDK clients on a Unix socket and announces it in LOCAL_MODE_FILE. */
export async function serveLocalMode(
  clients: AwsClients,
  info: Omit<LocalModeInfo, "pid" | "socket">,
  file = LOCAL_MODE_FILE,
): Promise<{ close(): Promise<void> }> {
  const folder = dirname(file);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  await chmod(folder, 0o700);
  const socket = join(folder, `control-${process.pid}.sock`);
  await rm(socket, { force: true });
  const server = createServer(async (req, res) => {
    const body: Buffer[] = [];
    for await (const chunk of req) body.push(chunk as Buffer);
    const answer = await answerCall(clients, deserialize(Buffer.concat(body)) as Call);
    res.writeHead(200, { "content-type": "application/octet-stream" });
    res.end(serialize(answer));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socket, resolve);
  });
  const announced: LocalModeInfo = { pid: process.pid, socket, ...info };
  await writeFile(file, `${JSON.stringify(announced, null, 2)}\n`, { mode: 0o600 });
  return {
    async close() {
      await closeServer(server);
      // Only our own announcement: another local mode may have started since.
      if (announcedPid(file) === process.pid) await rm(file, { force: true });
      await rm(socket, { force: true });
    },
  };
}

async function answerCall(clients: AwsClients, call: Call): Promise<Answer> {
  const module = services[call.service] as Record<string, unknown> | undefined;
  const Command = module?.[`${call.command}Command`] as (new (input: unknown) => object) | undefined;
  const client = clients[call.service] as { send(command: object): Promise<object> } | undefined;
  if (!Command || !client) {
    return { error: { name: "UnknownOperationException", message: `${call.service}.${call.command}` } };
  }
  try {
    const { $metadata: _, ...output } = (await client.send(new Command(call.input))) as {
      $metadata?: unknown;
    };
    return { output };
  } catch (error) {
    const e = error as Error & { $fault?: string; $metadata?: { httpStatusCode?: number } };
    return {
      error: {
        name: e.name,
        message: e.message,
        ...(e.$fault ? { fault: e.$fault } : {}),
        ...(e.$metadata?.httpStatusCode ? { status: e.$metadata.httpStatusCode } : {}),
      },
    };
  }
}

/** Real SDK clients whose commands are answered by the local mode behind `socket`. */
export function localModeClients(socket: string): AwsClients {
  const settings = offlineClientConfig;
  return {
    route53: forward(new route53.Route53Client(settings), "route53", socket),
    autoscaling: forward(new autoscaling.AutoScalingClient(settings), "autoscaling", socket),
    ec2: forward(new ec2.EC2Client(settings), "ec2", socket),
    ssm: forward(new ssm.SSMClient(settings), "ssm", socket),
    sqs: forward(new sqs.SQSClient(settings), "sqs", socket),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: every SDK client's stack has its own input/output unions.
function forward<C extends { middlewareStack: MiddlewareStack<any, any> }>(
  client: C,
  service: Service,
  socket: string,
): C {
  const middleware: InitializeMiddleware<object, object> = (_next, context) => async (args) => {
    const command = String((context as { commandName?: string }).commandName ?? "").replace(/Command$/, "");
    const answer = deserialize(
      await post(socket, serialize({ service, command, input: (args as { input: unknown }).input })),
    ) as Answer;
    if ("error" in answer) {
      const { name, message, fault, status } = answer.error;
      throw Object.assign(new Error(message), {
        name,
        $fault: fault ?? "client",
        $metadata: { httpStatusCode: status ?? 400 },
      });
    }
    return { output: { $metadata: { httpStatusCode: 200 }, ...answer.output }, response: {} };
  };
  client.middlewareStack.add(middleware, { step: "initialize", name: "localMode", priority: "high" });
  return client;
}

function post(socket: string, body: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: "/", method: "POST" }, async (res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      resolve(Buffer.concat(chunks));
    });
    req.once("error", (error) =>
      reject(new Error(`local mode does not answer on ${socket}: ${error.message}`)),
    );
    req.end(body);
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
