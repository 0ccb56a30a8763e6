// @ftpfleet/simulated-aws: stateful fakes of the AWS services the fleet uses, answering real SDK
// clients at the command boundary. Tests, the benchmark and local mode run the real adapters on them.
export * from "./account";
export * from "./autoscaling";
export * from "./clock";
export * from "./ec2";
export * from "./faults";
export * from "./health-checks";
export * from "./queue";
export * from "./route53";
export * from "./sdk";
export * from "./ssm";
