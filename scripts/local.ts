// Local mode's composition root and console: `npm run local` brings the whole fleet up on this
// machine; `npm run local -- down` removes whatever a crashed run left behind.
import { execFileSync } from "node:child_process";
import { createInterface } from "node:readline";
import { createLogger, errorMessage, LOG_LEVELS, type LogLevel } from "@ftpfleet/core";
import {
  BREAKAGES,
  type Breakage,
  cleanupLeftovers,
  DEMO_USER,
  dataPlaneSupport,
  LOCAL_RECORD,
  type LocalFleet,
  localS3Credentials,
} from "@ftpfleet/local";
import { Command, InvalidArgumentError, Option } from "commander";
import type { AuditResult } from "../functions/audit";
import { startLocalFleet } from "./local-fleet";

/** How often local mode's scheduled audit runs (the stack's default is 15 minutes). */
const AUDIT_EVERY_MS = 60_000;

async function up(instances: number, dnsPort: number, logLevel: LogLevel): Promise<void> {
  let missing = dataPlaneSupport();
  if (missing && process.getuid?.() === 0) {
    console.log(`Installing what local mode needs (${missing}) …`);
    execFileSync("bash", ["scripts/install-system-packages.sh"], { stdio: "inherit" });
    missing = dataPlaneSupport();
  }
  if (missing) {
    console.error(`ftpfleet local mode cannot run here: ${missing}.`);
    console.error("As root, `bash scripts/install-system-packages.sh` installs what it needs.");
    process.exitCode = 1;
    return;
  }
  const log = createLogger({ level: logLevel });
  console.log(`Starting ftpfleet locally: ${instances} instances, DNS on 127.0.0.1:${dnsPort} …`);
  // Where the CLI finds this fleet; tests point both at a file of their own.
  const announce = process.env.FTPFLEET_LOCAL_MODE_FILE || undefined;
  // The audit's metrics are for CloudWatch; here the console prints each run's summary.
  process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
  const fleet = await startLocalFleet({
    instances,
    dnsPort,
    log,
    announce,
    auditEveryMs: AUDIT_EVERY_MS,
    onAudit: (result, error) => console.log(auditSummary(result, error)),
  });
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      console.log("\nStopping: instances, mounts, namespaces, servers …");
      await fleet.stop();
      console.log("Everything is cleaned up.");
      process.exit(0);
    })();
    return stopping;
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);

  console.log(`
The fleet's name is ${LOCAL_RECORD} (TTL 5 s). Watch it:
  dig @127.0.0.1 -p ${dnsPort} ${LOCAL_RECORD} +short
Connect to any instance once it is in DNS (FTPS required, self-signed certificate):
  lftp -u ${DEMO_USER.name},${DEMO_USER.password} -e 'set ssl:verify-certificate no; ls; ls public' <address>
Commands: scale N · kill INSTANCE-ID|N · break N mount|hang|ftpd · stale N · audit · status · quit (or Ctrl-C)
  break N mount|hang|ftpd: kills instance N's s3fs, stops it (a hung mount) or stops pure-ftpd; its
  deep health check fails, DNS stops answering it within 30 s and the group replaces it.
  stale N: instance N mounts its bucket again with s3fs's default cache options (stale listings,
  truncated downloads): the audit, every ${AUDIT_EVERY_MS / 1000} s in repair mode, catches it, takes it out of DNS and repairs it.
Change an object behind the fleet's back (straight into the bucket, as another S3 client would):
  printf 'changed at %s, and longer than before\\n' "$(date)" | curl -sS -X PUT --data-binary @- \\
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --aws-sigv4 aws:amz:${fleet.world.region}:s3 --user ${localS3Credentials.accessKeyId}:${localS3Credentials.secretAccessKey} \\
    ${fleet.world.s3.endpoint}/${fleet.world.bucket}/public/README.txt
From another terminal, the operator CLI works on this fleet:
  npx ftpfleet status
  npx ftpfleet audit            (--repair to take failing instances out and repair them)
  npx ftpfleet users add alice --grant inbox/alice:rw --grant public:ro
`);
  let last = "";
  const show = (force = false) => {
    const text = render(fleet);
    if (force || text !== last) console.log(`[${new Date().toLocaleTimeString()}] ${text}`);
    last = text;
  };

  const ticker = setInterval(() => show(), 2_000);
  ticker.unref();
  // Started in the background, a read of the terminal would stop the process (SIGTTIN): with a
  // handler it fails instead, and local mode runs on without console commands.
  process.on("SIGTTIN", () => undefined);
  process.stdin.on("error", () => undefined);
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    const [command, argument, how] = line.trim().split(/\s+/);
    try {
      if (command === "scale" && /^\d+$/.test(argument ?? "") && Number(argument) <= 20)
        fleet.scale(Number(argument));
      else if (command === "kill" && argument) {
        const ids = fleet.status().instances.map((i) => i.instanceId);
        const id = /^\d+$/.test(argument) ? ids[Number(argument) - 1] : argument;
        fleet.kill(id ?? argument).catch((error: unknown) => console.error(String(error)));
      } else if (command === "break" && argument && BREAKAGES.includes(how as Breakage)) {
        const ids = fleet.status().instances.map((i) => i.instanceId);
        const id = /^\d+$/.test(argument) ? ids[Number(argument) - 1] : argument;
        fleet.breakInstance(id ?? argument, how as Breakage).then(
          () => console.log(`${id}: broken (${how}) at ${new Date().toLocaleTimeString()}`),
          (error: unknown) => console.error(String(error)),
        );
      } else if (command === "stale" && argument) {
        const ids = fleet.status().instances.map((i) => i.instanceId);
        const id = /^\d+$/.test(argument) ? ids[Number(argument) - 1] : argument;
        fleet.serveStale(id ?? argument).then(
          () => console.log(`${id}: bucket mounted again with s3fs's default cache options`),
          (error: unknown) => console.error(String(error)),
        );
      } else if (command === "audit") {
        fleet.auditNow().then(
          (result) => console.log(auditSummary(result)),
          (error: unknown) => console.log(auditSummary(undefined, error)),
        );
      } else if (command === "status") show(true);
      else if (command === "quit" || command === "exit") void stop();
      else if (command)
        console.log(
          "Commands: scale N (0-20) · kill INSTANCE-ID|N · break INSTANCE-ID|N mount|hang|ftpd · stale INSTANCE-ID|N · audit · status · quit",
        );
    } catch (error) {
      console.error(String(error));
    }
  });
  // End of input (stdin closed, /dev/null, a finished pipe) is not a request to stop: scripts and
  // a second terminal drive the fleet with the ftpfleet CLI; SIGINT, SIGTERM or `quit` stop it.
}

/** One audit run in a few lines: the outcome, each instance with findings or an action. */
function auditSummary(result: unknown, error?: unknown): string {
  const time = `[${new Date().toLocaleTimeString()}]`;
  if (error !== undefined) return `${time} audit failed: ${errorMessage(error)}`;
  const run = result as AuditResult;
  const lines = [
    `${time} audit ${run.runId}: ${run.ok ? "ok" : "NOT OK"} — ${run.metrics.instancesAudited} instance(s), stale objects ${run.metrics.staleObjects}, max lag ${run.metrics.maxLagMs} ms, bucket findings ${run.bucketFindings} (report: ${run.reportKey})`,
  ];
  for (const i of run.instances) {
    if (i.findings === 0 && i.action === "none") continue;
    lines.push(`  ${i.instanceId}: ${i.findings} finding(s), ${i.action}${i.first ? ` — ${i.first}` : ""}`);
  }
  return lines.join("\n");
}

function render(fleet: LocalFleet): string {
  const { instances, records } = fleet.status();
  const rows = instances.map(
    (i, n) =>
      `  ${String(n + 1).padStart(2)}  ${i.instanceId}  ${i.address.padEnd(13)}  ${i.lifecycleState.padEnd(17)}  ${i.health.padEnd(9)}  ${i.inDns ? (i.answered ? "in DNS" : "in DNS, not answered (health check failing)") : "-"}`,
  );
  const dns = records.map((r) => `${r.address} (weight ${r.weight})`).join(", ") || "no records";
  return `instances:\n${rows.join("\n") || "  none"}\n  ${LOCAL_RECORD} → ${dns}`;
}

const program = new Command("npm run local --")
  .description("ftpfleet on this machine: the fleet, its control plane and DNS, for real")
  .showHelpAfterError();
const wholeNumber = (max: number) => (value: string) => {
  if (!/^\d+$/.test(value) || Number(value) > max) {
    throw new InvalidArgumentError(`expected a whole number from 0 to ${max}`);
  }
  return Number(value);
};
program
  .command("up", { isDefault: true })
  .description("bring the fleet up and take console commands (scale, kill, status, quit)")
  .option("--instances <n>", "instances to start with", wholeNumber(20), 2)
  .option("--dns-port <port>", "UDP/TCP port of the DNS responder on 127.0.0.1", wholeNumber(65535), 5353)
  .addOption(
    new Option("--log-level <level>", "control-plane log lines to print").choices(LOG_LEVELS).default("warn"),
  )
  .action((options: { instances: number; dnsPort: number; logLevel: LogLevel }) =>
    up(options.instances, options.dnsPort, options.logLevel),
  );
program
  .command("down")
  .description("remove what a crashed run left: namespaces, mounts, processes")
  .action(async () => {
    console.log(JSON.stringify(await cleanupLeftovers(), null, 2));
  });

program.parseAsync().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
