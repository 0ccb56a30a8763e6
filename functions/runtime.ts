import {
  awsClients,
  type ControlPlane,
  controlPlane,
  createLogger,
  loadFunctionConfig,
  portsOverAws,
  systemClock,
} from "@ftpfleet/core";

/** The composition root for AWS: real clients, configuration from the environment. Built on first
 * use, once per execution environment, so importing a handler has no side effects. */
let built: ControlPlane | undefined;

export function awsControlPlane(env: Record<string, string | undefined> = process.env): ControlPlane {
  if (built) return built;
  const { fleet: config, logLevel, lifecycleQueueUrl } = loadFunctionConfig(env);
  const log = createLogger({ level: logLevel, base: { fleet: config.ownerId } });
  built = controlPlane(portsOverAws(awsClients(), { config, log, clock: systemClock, lifecycleQueueUrl }));
  return built;
}
