import { describe, expect, it } from "vitest";
import { bundleFunction, FUNCTION_HANDLERS, originOf } from "../scripts/bundles";

describe("Lambda bundles", () => {
  for (const [name, entry] of Object.entries(FUNCTION_HANDLERS)) {
    it(`${name} ships the control plane and nothing of the simulation, the sandbox or local mode`, async () => {
      const report = await bundleFunction(name, entry);
      const origins = Object.keys(report.origins);
      expect(origins).toContain("@ftpfleet/core");
      expect(report.inputs).toContain(entry);
      // Only the audit reads the bucket itself.
      const s3 = name === "audit" ? [] : ["@aws-sdk/client-s3"];
      for (const absent of ["@ftpfleet/simulated-aws", "@ftpfleet/local", "s3rver", "yaml", ...s3]) {
        expect(origins, absent).not.toContain(absent);
      }
      // Document bundling reads files at deploy time; functions never need it.
      expect(report.inputs.filter((path) => path.includes("core/src/documents/"))).toEqual([]);
    });
  }

  it("names where each input comes from", () => {
    expect(originOf("packages/core/src/workflows/lifecycle.ts")).toBe("@ftpfleet/core");
    expect(originOf("node_modules/@aws-sdk/client-ssm/dist-es/index.js")).toBe("@aws-sdk/client-ssm");
    expect(originOf("node_modules/zod/v4/core/core.js")).toBe("zod");
    expect(originOf("functions/lifecycle.ts")).toBe("functions");
  });
});
