import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { InvalidInputError, provisionParameters } from "@ftpfleet/core";
import {
  assembledScript,
  bundleDocument,
  bundleScript,
  DEFAULT_DOCUMENTS_DIR,
  DOCUMENT_NAMES,
  MAX_DOCUMENT_BYTES,
  minified,
  parameterEnvironment,
  payload,
  readDocument,
  resolveParameters,
  unpackedPayloads,
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

/** What bash itself makes of a script: its parse, printed back (`declare -f` of a function whose
 * body is the script), comments and layout gone. Nothing runs. */
function parsed(script: string): string {
  const out = spawnSync("bash", ["-c", 'eval "__step() {\n$1\n}" && declare -f __step', "parse", script], {
    encoding: "utf8",
  });
  if (out.status !== 0) throw new Error(`bash cannot parse the script: ${out.stderr}`);
  return out.stdout;
}

const scriptsDir = join(DEFAULT_DOCUMENTS_DIR, "scripts");
const stepScripts = readdirSync(scriptsDir).filter((name) => name.endsWith(".sh"));
const shellcheck = spawnSync("shellcheck", ["--version"]).status === 0;
if (!shellcheck) console.warn("SKIPPED shellcheck of the bundled steps: shellcheck is not installed");
const python = spawnSync("python3", ["--version"]).status === 0;
if (!python) console.warn("SKIPPED the Python payload comparison: python3 is not installed");

describe("what the bundler deploys", () => {
  it.each(stepScripts)("%s: minified, bash parses the same program as from the file", (name) => {
    const assembled = assembledScript(readFileSync(join(scriptsDir, name), "utf8"));
    const bundled = minified(assembled);
    expect(bundled.startsWith("#!/usr/bin/env bash\n")).toBe(true);
    expect(bundled.length).toBeLessThan(assembled.length);
    expect(parsed(bundled)).toBe(parsed(assembled));
  });

  it("keeps quoted text and here-documents as they are, and a # inside a word", () => {
    const script = [
      "#!/usr/bin/env bash",
      "  # a comment",
      'x="two',
      '   lines # not a comment"',
      "  y=a#b # gone",
      "cat <<'EOF'",
      "  # kept",
      "EOF",
      "",
      "z='a",
      "  b'",
    ].join("\n");
    expect(minified(script)).toBe(
      [
        "#!/usr/bin/env bash",
        'x="two',
        '   lines # not a comment"',
        "y=a#b",
        "cat <<'EOF'",
        "  # kept",
        "EOF",
        "z='a",
        "  b'",
      ].join("\n"),
    );
  });

  it("leaves out only library functions the step never names", () => {
    const libraries = readdirSync(join(scriptsDir, "lib")).filter((name) => name.endsWith(".sh"));
    const functions = libraries.flatMap((name) =>
      [...readFileSync(join(scriptsDir, "lib", name), "utf8").matchAll(/^([a-z_0-9]+)\(\) [({]$/gm)].map(
        ([, fn]) => fn ?? "",
      ),
    );
    expect(functions).toEqual(expect.arrayContaining(["invalid", "ftp_sessions", "puredb_build", "s3_put"]));
    const provision = bundleDocument("provision").mainSteps;
    const step = (name: string) => provision.find((s) => s.name === name)?.inputs.runCommand[0] ?? "";
    // ftp_sessions is apply-users' (sessions of removed users), not the installer's.
    expect(step("applyUsers")).toContain("ftp_sessions() {");
    expect(step("installPackages")).not.toContain("ftp_sessions");
    for (const name of DOCUMENT_NAMES) {
      for (const { name: stepName, inputs } of bundleDocument(name).mainSteps) {
        const text = inputs.runCommand[0] ?? "";
        for (const fn of functions) {
          const definition = new RegExp(`^${fn}\\(\\) [({]$`, "m");
          if (new RegExp(`\\b${fn}\\b`).test(text.replace(definition, ""))) {
            expect(text, `${name}/${stepName} names ${fn}`).toMatch(definition);
          }
        }
      }
    }
  });

  it("packs each payload so that the step unpacks exactly its file (Python: the same program)", () => {
    const health = bundleScript(readFileSync(join(scriptsDir, "configure-health.sh"), "utf8"));
    const [agent, unit] = unpackedPayloads(health);
    expect(agent).toBe(payload(DEFAULT_DOCUMENTS_DIR, "health-agent.py"));
    expect(unit).toBe(payload(DEFAULT_DOCUMENTS_DIR, "ftpfleet-health.service"));
    const users = unpackedPayloads(bundleScript(readFileSync(join(scriptsDir, "apply-users.sh"), "utf8")));
    expect(users).toEqual([
      payload(DEFAULT_DOCUMENTS_DIR, "manifest-rules.json"),
      readFileSync(join(scriptsDir, "lib/manifest-check.jq"), "utf8").trimEnd(),
    ]);
    expect(JSON.parse(users[0] ?? "")).not.toHaveProperty("$comment");
    for (const file of ["health-agent.py", "audit-probe.py"]) {
      const source = readFileSync(join(scriptsDir, "lib", file), "utf8");
      expect(payload(DEFAULT_DOCUMENTS_DIR, file)).not.toMatch(/^\s*#/m);
      if (python) expect(pythonAst(payload(DEFAULT_DOCUMENTS_DIR, file))).toBe(pythonAst(source));
    }
  });

  // SC2034 (an assignment nothing reads) is expected once unused functions are left out; the
  // files themselves pass every check (test/dataplane/shellcheck.test.ts).
  it.skipIf(!shellcheck)("every bundled step passes shellcheck", () => {
    for (const name of DOCUMENT_NAMES) {
      for (const step of bundleDocument(name).mainSteps) {
        const out = spawnSync("shellcheck", ["--severity=warning", "--exclude=SC2034", "-"], {
          input: step.inputs.runCommand[0],
          encoding: "utf8",
        });
        expect(out.stdout, `${name}/${step.name}`).toBe("");
      }
    }
  });

  it("leaves the provision document room under SSM's limit", () => {
    const size = Buffer.byteLength(JSON.stringify(bundleDocument("provision")));
    console.info(`provision document: ${size} bytes of ${MAX_DOCUMENT_BYTES}`);
    expect(size).toBeLessThan(MAX_DOCUMENT_BYTES - 256);
  });
});

function pythonAst(program: string): string {
  return execFileSync("python3", ["-c", "import ast, sys; print(ast.dump(ast.parse(sys.stdin.read())))"], {
    input: program,
    encoding: "utf8",
  });
}
