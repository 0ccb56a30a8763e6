import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { InvalidInputError, provisionParameters } from "@ftpfleet/core";
import {
  bundleDocument,
  DEFAULT_DOCUMENTS_DIR,
  DOCUMENT_NAMES,
  MAX_DOCUMENT_BYTES,
  parameterEnvironment,
  readDocument,
  resolveParameters,
} from "@ftpfleet/core/documents";
import { describe, expect, it } from "vitest";
import { testConfig } from "./support";

/** Values that would do harm if a parameter were ever pasted into a shell line. */
const hostile = [
  "x; touch /tmp/pwned",
  "$(touch /tmp/pwned)",
  "`touch /tmp/pwned`",
  "a && b",
  "a | b",
  "a\nb",
  "../../etc/passwd",
  "x' || '1",
  '" ; rm -rf / ; "',
  "{{ BucketName }}",
];

describe.each(DOCUMENT_NAMES)("document %s", (name) => {
  const source = readDocument(name);

  it("is a schema 2.2 Command document whose every parameter is ENV_VAR with an anchored allowedPattern", () => {
    expect(source.schemaVersion).toBe("2.2");
    expect(Object.keys(source.parameters).length).toBeGreaterThan(0);
    for (const spec of Object.values(source.parameters)) {
      expect(spec.interpolationType).toBe("ENV_VAR");
      expect(spec.allowedPattern).toMatch(/^\^.*\$$/);
      if (spec.default !== undefined) expect(spec.default).toMatch(new RegExp(spec.allowedPattern));
    }
  });

  it("refuses shell metacharacters in every parameter", () => {
    for (const parameter of Object.keys(source.parameters)) {
      for (const value of hostile) {
        expect(
          () => resolveParameters(source, { [parameter]: value }),
          `${parameter}=${JSON.stringify(value)}`,
        ).toThrow(InvalidInputError);
      }
    }
  });

  it("names only scripts that exist as executable files", () => {
    for (const step of source.mainSteps) {
      for (const line of step.inputs.runCommand) {
        const script = /^@script (.+)$/.exec(line)?.[1];
        expect(script, `step ${step.name} runs a script file`).toBeDefined();
        const file = join(DEFAULT_DOCUMENTS_DIR, "scripts", script ?? "");
        expect(existsSync(file), file).toBe(true);
        expect(statSync(file).mode & 0o111, `${file} is executable`).not.toBe(0);
      }
    }
  });

  it("bundles into a document SSM accepts: scripts inlined, no {{ }} interpolation, under 64 KiB", () => {
    const bundled = bundleDocument(name);
    const text = JSON.stringify(bundled);
    expect(Buffer.byteLength(text)).toBeLessThan(MAX_DOCUMENT_BYTES);
    for (const step of bundled.mainSteps) {
      for (const command of step.inputs.runCommand) {
        expect(command.startsWith("#!/usr/bin/env bash\n")).toBe(true);
        expect(command).toContain("set -euo pipefail");
        expect(command).not.toMatch(/\{\{/);
        // Self-contained: the shared library is inlined, nothing is sourced from the instance's disk.
        expect(command).not.toMatch(/^\s*(source|\.) /m);
        expect(command).toContain("invalid() {");
      }
    }
  });
});

describe("resolveParameters", () => {
  const provision = readDocument("provision");

  it("accepts the parameters the control plane sends and fills defaults", () => {
    const config = testConfig({ FTPFLEET_BUCKET: "ftpfleet-files", FTPFLEET_BUCKET_REGION: "eu-west-1" });
    const resolved = resolveParameters(provision, provisionParameters(config));
    expect(resolved).toMatchObject({
      BucketName: "ftpfleet-files",
      PureFtpdSource: "build",
      S3fsSource: "build",
      TlsMode: "required",
      MaxClients: "50",
      MaxClientsPerIp: "10",
      ArtifactKeyParameter: "",
    });
    expect(parameterEnvironment(resolved)).toMatchObject({
      SSM_BucketName: "ftpfleet-files",
      SSM_PassivePorts: "30000:30099",
    });
  });

  it("names unknown, missing and mismatched parameters together", () => {
    expect(() => resolveParameters(provision, { Bogus: "1", BucketName: "Bad_Name" })).toThrow(
      /Bogus: not a parameter.*BucketName: "Bad_Name" does not match.*BucketRegion: required/,
    );
  });
});

describe("defaults", () => {
  const provision = readDocument("provision");
  const defaultOf = (name: string) => provision.parameters[name]?.default;

  it("the provision document's defaults are the configuration's: FTPS required, client limits, no artifact key", () => {
    const config = testConfig();
    expect(config.tlsMode).toBe("required");
    expect(defaultOf("TlsMode")).toBe(config.tlsMode);
    expect(defaultOf("MaxClients")).toBe(String(config.maxClients));
    expect(defaultOf("MaxClientsPerIp")).toBe(String(config.maxClientsPerIp));
    expect(defaultOf("ArtifactKeyParameter")).toBe("");
    expect(config.artifactKeyParameter).toBeUndefined();
  });

  it("every default a script falls back on for an unset parameter is the documents' default", () => {
    const documents = DOCUMENT_NAMES.map((name) => readDocument(name));
    const scripts = join(DEFAULT_DOCUMENTS_DIR, "scripts");
    const fallbacks = readdirSync(scripts)
      .filter((name) => name.endsWith(".sh"))
      .flatMap((name) =>
        [...readFileSync(join(scripts, name), "utf8").matchAll(/\$\{SSM_([A-Za-z0-9]+)-([^}]*)\}/g)].map(
          ([, parameter, value]) => ({ script: name, parameter, value }),
        ),
      );
    expect(fallbacks.map((f) => f.parameter)).toEqual(
      expect.arrayContaining(["TlsMode", "MaxClients", "MaxClientsPerIp"]),
    );
    for (const { script, parameter = "", value } of fallbacks) {
      const specs = documents.flatMap((document) => document.parameters[parameter] ?? []);
      expect(specs.length, `${script}: ${parameter} is a document parameter`).toBeGreaterThan(0);
      for (const spec of specs) expect(value, `${script}: fallback of ${parameter}`).toBe(spec.default);
    }
  });
});
