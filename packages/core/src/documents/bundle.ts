import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { z } from "zod";
import { InvalidInputError, parseOrThrow } from "../errors";

/** The fleet's SSM Command documents: YAML wrappers in documents/, each step's `@script NAME` line
 * replaced by the script file of that name, so the shell lives in one place and is tested as a file. */
export const DOCUMENT_NAMES = ["provision", "apply-users", "drain", "audit-probe", "audit-repair"] as const;
export type DocumentName = (typeof DOCUMENT_NAMES)[number];

export const DEFAULT_DOCUMENTS_DIR = fileURLToPath(new URL("../../../../documents/", import.meta.url));

/** SSM refuses documents larger than this. */
export const MAX_DOCUMENT_BYTES = 64 * 1024;

const parameterSchema = z.strictObject({
  type: z.literal("String"),
  description: z.string().min(1),
  default: z.string().optional(),
  // Every parameter reaches the shell as an environment variable, never as interpolated text.
  interpolationType: z.literal("ENV_VAR"),
  allowedPattern: z.string().startsWith("^").endsWith("$"),
});

const stepSchema = z.strictObject({
  action: z.literal("aws:runShellScript"),
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  precondition: z.strictObject({ StringEquals: z.tuple([z.literal("platformType"), z.literal("Linux")]) }),
  inputs: z.strictObject({
    timeoutSeconds: z.number().int().min(1).max(172800),
    runCommand: z.array(z.string()).min(1),
    // A step whose failure makes the later steps pointless ends the run (SSM's shared input); without
    // it SSM runs the next steps anyway.
    onFailure: z.literal("exit").optional(),
  }),
});

const documentSchema = z.strictObject({
  schemaVersion: z.literal("2.2"),
  description: z.string().min(1),
  parameters: z.record(z.string().regex(/^[A-Za-z0-9]+$/), parameterSchema),
  mainSteps: z.array(stepSchema).min(1),
});

export type CommandDocument = z.infer<typeof documentSchema>;

/** Reads documents/NAME.yaml and inlines its scripts: the content deployed to SSM. */
export function bundleDocument(name: DocumentName, dir = DEFAULT_DOCUMENTS_DIR): CommandDocument {
  const source = readDocument(name, dir);
  const mainSteps = source.mainSteps.map((step) => ({
    ...step,
    inputs: {
      ...step.inputs,
      runCommand: step.inputs.runCommand.map((line) => {
        const script = /^@script ([a-z0-9-]+\.sh)$/.exec(line)?.[1];
        return script
          ? withoutComments(
              inlineProgram(
                inlineData(inlineLibrary(readFileSync(join(dir, "scripts", script), "utf8"), dir), dir),
                dir,
              ),
            )
          : line;
      }),
    },
  }));
  return { ...source, mainSteps };
}

/** An SSM step is one self-contained script: each library it sources (lib/NAME.sh) is put in the
 * place of its `source` line, with the shellcheck directive that names it. */
function inlineLibrary(script: string, dir: string): string {
  return script.replace(
    /^# shellcheck source-path=SCRIPTDIR source=lib\/([a-z-]+)\.sh\nsource "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\/\1\.sh"$/gm,
    (_line, library: string) => readFileSync(join(dir, "scripts", "lib", `${library}.sh`), "utf8").trimEnd(),
  );
}

/** A program a step hands to an interpreter (`NAME="$(cat "$(dirname "${BASH_SOURCE[0]}")/lib/FILE.py")"`,
 * e.g. the audit probe) travels inside the step verbatim, as a quoted here-document. */
function inlineProgram(script: string, dir: string): string {
  return script.replace(
    /^([a-z_]+)="\$\(cat "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\/([a-z-]+\.py)"\)"$/gm,
    (_line, variable: string, file: string) => {
      const program = readFileSync(join(dir, "scripts", "lib", file), "utf8").trimEnd();
      if (program.split("\n").includes("PROGRAM")) throw new Error(`lib/${file} holds the line PROGRAM`);
      return `${variable}="$(cat <<'PROGRAM'\n${program}\nPROGRAM\n)"`;
    },
  );
}

/** A data file a step reads from lib/ (`NAME="$(cat "$(dirname "${BASH_SOURCE[0]}")/lib/FILE.json")"`,
 * e.g. the users manifest's rules) travels inside the step as a quoted here-document, compacted and
 * without its `$comment`s (SSM documents are limited to 64 KiB). */
function inlineData(script: string, dir: string): string {
  return script.replace(
    /^([a-z_]+)="\$\(cat "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\/([a-z-]+\.json)"\)"$/gm,
    (_line, variable: string, file: string) => {
      const data: unknown = JSON.parse(readFileSync(join(dir, "scripts", "lib", file), "utf8"));
      const json = JSON.stringify(data, (key, value: unknown) => (key === "$comment" ? undefined : value));
      return `${variable}="$(cat <<'JSON'\n${json}\nJSON\n)"`;
    },
  );
}

/** Drops comment-only lines (not `#!`, not inside here-documents): they are for readers of the
 * files, and SSM refuses documents over 64 KiB. */
export function withoutComments(script: string): string {
  const kept: string[] = [];
  let heredocEnd: { word: string; tabs: boolean } | undefined;
  for (const line of script.split("\n")) {
    if (heredocEnd) {
      kept.push(line);
      if ((heredocEnd.tabs ? line.replace(/^\t+/, "") : line) === heredocEnd.word) heredocEnd = undefined;
      continue;
    }
    if (/^\s*#(?!!)/.test(line)) continue;
    kept.push(line);
    const opened = /<<(-?)\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2\s*\)?\s*$/.exec(line);
    if (opened) heredocEnd = { word: opened[3] ?? "", tabs: opened[1] === "-" };
  }
  return kept.join("\n");
}

/** The document as written, scripts not inlined: enough to check parameters. */
export function readDocument(name: DocumentName, dir = DEFAULT_DOCUMENTS_DIR): CommandDocument {
  return parseOrThrow(
    documentSchema,
    parse(readFileSync(join(dir, `${name}.yaml`), "utf8")),
    `document ${name}`,
  );
}

/** Checks parameter values as SSM does before running a command (unknown names, missing values,
 * allowedPattern), filling defaults. Throws InvalidInputError naming every problem. */
export function resolveParameters(
  document: CommandDocument,
  values: Readonly<Record<string, string | readonly string[]>>,
): Record<string, string> {
  const issues: string[] = [];
  const resolved: Record<string, string> = {};
  for (const name of Object.keys(values)) {
    if (!(name in document.parameters)) issues.push(`${name}: not a parameter of this document`);
  }
  for (const [name, spec] of Object.entries(document.parameters)) {
    const given = values[name];
    const value = Array.isArray(given) ? given.join("") : (given as string | undefined);
    if (Array.isArray(given) && given.length !== 1) issues.push(`${name}: expects exactly one value`);
    const effective = value ?? spec.default;
    if (effective === undefined) {
      issues.push(`${name}: required`);
      continue;
    }
    if (!new RegExp(spec.allowedPattern).test(effective)) {
      issues.push(`${name}: ${JSON.stringify(effective)} does not match ${spec.allowedPattern}`);
      continue;
    }
    resolved[name] = effective;
  }
  if (issues.length > 0) throw new InvalidInputError("invalid document parameters", issues);
  return resolved;
}

/** What SSM's ENV_VAR interpolation hands the shell: SSM_<Name>=value for each parameter. */
export function parameterEnvironment(parameters: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(parameters).map(([name, value]) => [`SSM_${name}`, value]));
}
