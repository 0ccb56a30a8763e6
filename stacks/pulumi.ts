import type * as Aws from "@pulumi/aws";
import type * as Pulumi from "@pulumi/pulumi";
import type * as Random from "@pulumi/random";

/**
 * Pulumi's SDKs, loaded when the stack runs. `sst install` evaluates sst.config.ts (bundled, with
 * every static import of a package hoisted to its top) before it has installed these packages, so
 * the stacks import only their types statically and reach the values through `sdk`, filled by
 * `loadPulumiSdk()` at the start of `run()` (and by the tests, under Pulumi's mocks).
 */
export const sdk = {} as { aws: typeof Aws; pulumi: typeof Pulumi; random: typeof Random };

export async function loadPulumiSdk(): Promise<void> {
  const [aws, pulumi, random] = await Promise.all([
    import("@pulumi/aws"),
    import("@pulumi/pulumi"),
    import("@pulumi/random"),
  ]);
  Object.assign(sdk, { aws, pulumi, random });
}
