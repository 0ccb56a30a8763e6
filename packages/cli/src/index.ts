// @ftpfleet/cli: the operator's `ftpfleet` command (bin/ftpfleet.mjs runs src/main.ts).

export { hashPassword } from "./password";
export { EXIT, type RunContext, run } from "./program";
export type { Target, TargetOptions } from "./target";
