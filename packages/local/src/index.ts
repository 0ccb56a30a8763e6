// @ftpfleet/local: the embedded default. sandbox/ is the real data plane on one machine (a local S3
// server, instances as network namespaces running the SSM documents' scripts, s3fs, pure-ftpd);
// fleet/ is local mode: the control plane on the simulated AWS in real time over that sandbox.
export * from "./fleet/dns-responder";
export * from "./fleet/local-fleet";
export * from "./sandbox/artifact";
export * from "./sandbox/cleanup";
export * from "./sandbox/exec";
export * from "./sandbox/ftp";
export * from "./sandbox/mounts";
export * from "./sandbox/netns";
export * from "./sandbox/processes";
export * from "./sandbox/s3-server";
export * from "./sandbox/sandbox";
export * from "./sandbox/state";
export * from "./sandbox/support";
