import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
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
        return script ? bundleScript(readFileSync(join(dir, "scripts", script), "utf8"), dir) : line;
      }),
    },
  }));
  return { ...source, mainSteps };
}

/**
 * One step's script as deployed: libraries, data and programs inlined, then made smaller, since
 * SSM refuses documents over 64 KiB and every step carries its own copy of what it sources. What
 * is left out is only ever for readers of the files (comments, indentation, blank lines) or never
 * called (a library's functions the step does not name); test/documents.test.ts has bash parse
 * both versions and checks that they are the same program.
 */
export function bundleScript(script: string, dir = DEFAULT_DOCUMENTS_DIR): string {
  return minified(assembledScript(script, dir));
}

/** `bundleScript` before `minified`: self-contained, with only the library functions it names. */
export function assembledScript(script: string, dir = DEFAULT_DOCUMENTS_DIR): string {
  const functions: LibraryFunction[] = [];
  return withoutUnusedFunctions(inlinePayloads(inlineLibrary(script, dir, functions), dir), functions);
}

interface LibraryFunction {
  name: string;
  /** Its whole definition, as it stands in the library. */
  text: string;
}

/** An SSM step is one self-contained script: each library it sources (lib/NAME.sh) is put in the
 * place of its `source` line, with the shellcheck directive that names it. The library's top-level
 * functions (`name() {` … `}` or `name() (` … `)` from column 0) are noted in `functions`. */
function inlineLibrary(script: string, dir: string, functions: LibraryFunction[]): string {
  return script.replace(
    /^# shellcheck source-path=SCRIPTDIR source=lib\/([a-z-]+)\.sh\nsource "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\/\1\.sh"$/gm,
    (_line, library: string) => {
      const text = readFileSync(join(dir, "scripts", "lib", `${library}.sh`), "utf8").trimEnd();
      for (const found of text.matchAll(/^([a-z_][a-z0-9_]*)\(\) (?:\{\n[\s\S]*?\n\}|\(\n[\s\S]*?\n\))$/gm)) {
        functions.push({ name: found[1] ?? "", text: found[0] });
      }
      return text;
    },
  );
}

/** Drops each library function whose name the rest of the step never mentions (not even in a
 * string), until none is left to drop: a step carries only the helpers it can call. */
function withoutUnusedFunctions(script: string, functions: readonly LibraryFunction[]): string {
  let kept = script;
  let dropped = true;
  while (dropped) {
    dropped = false;
    for (const { name, text } of functions) {
      if (!kept.includes(text)) continue;
      const rest = kept.replace(text, "");
      if (!new RegExp(`\\b${name}\\b`).test(rest)) {
        kept = rest;
        dropped = true;
      }
    }
  }
  return kept;
}

/** A program a step hands to an interpreter (`NAME="$(cat "$(dirname "${BASH_SOURCE[0]}")/lib/FILE.py")"`,
 * or `.jq`: the audit probe, the health agent, the manifest check) and a data file a step reads
 * (`.json`: the manifest rules, compacted, without their `$comment`s; `.service`: a systemd unit)
 * travel inside the step packed: gzipped, in base64, unpacked by the step itself (Python without
 * its comment-only and blank lines first, `pythonWithoutComments`). The shell stays readable;
 * programs and data are payloads, read in lib/ (test/documents.test.ts unpacks each one and
 * compares it with its file).
 * Packed, they cost about a third of their text, and SSM documents are limited to 64 KiB. */
function inlinePayloads(script: string, dir: string): string {
  return script.replace(
    /^([a-z_]+)="\$\(cat "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/lib\/([a-z-]+\.(?:py|jq|json|service))"\)"$/gm,
    (_line, variable: string, file: string) => {
      const packed = gzipSync(`${payload(dir, file)}\n`, { level: 9 }).toString("base64");
      return `${variable}="$(base64 -d <<'PAYLOAD' | gzip -dc\n${packed}\nPAYLOAD\n)"`;
    },
  );
}

/** What a step gets of lib/FILE (without the final newline, as `$(cat …)` would give it). */
export function payload(dir: string, file: string): string {
  const text = readFileSync(join(dir, "scripts", "lib", file), "utf8").trimEnd();
  if (file.endsWith(".py")) return pythonWithoutComments(text);
  // A unit's comments are whole lines (systemd.syntax(7)).
  if (file.endsWith(".service")) return text.replace(/^#.*\n/gm, "");
  if (file.endsWith(".json")) {
    const data: unknown = JSON.parse(text);
    return JSON.stringify(data, (key, value: unknown) => (key === "$comment" ? undefined : value));
  }
  return text;
}

/** The payloads packed into a bundled step, unpacked (for tests). */
export function unpackedPayloads(step: string): string[] {
  return [
    ...step.matchAll(/="\$\(base64 -d <<'PAYLOAD' \| gzip -dc\n([A-Za-z0-9+/=]+)\nPAYLOAD\n\)"$/gm),
  ].map(([, packed]) =>
    gunzipSync(Buffer.from(packed ?? "", "base64"))
      .toString("utf8")
      .replace(/\n$/, ""),
  );
}

/** A Python program without its comment-only and blank lines (the `#!` line stays). Refuses a
 * program with a triple-quoted string, where such a line could be text (docstrings are comments'
 * job in lib/). */
export function pythonWithoutComments(program: string): string {
  const lines = program.split("\n");
  if (lines.some((line) => line.includes('"""') || line.includes("'''"))) {
    throw new Error("a program inlined into a step must not hold triple-quoted strings");
  }
  return lines
    .filter((line, index) => (index === 0 && line.startsWith("#!")) || !/^\s*(#|$)/.test(line))
    .join("\n");
}

type Quoting = { kind: "code" | "single" | "ansi" | "double" } | { kind: "substitution"; depth: number };

/**
 * A bash script without what only its readers need: comments (whole lines and the end of lines;
 * not `#!`), indentation and blank lines. Here-documents and quoted text spanning lines are kept
 * as they are: a small scanner follows quotes (`'…'`, `$'…'`, `"…"` with `$(…)` inside) and
 * here-document bodies; a `#` starts a comment only at the start of a word outside quotes.
 */
export function minified(script: string): string {
  const kept: string[] = [];
  const stack: Quoting[] = [{ kind: "code" }];
  let heredocEnd: { word: string; tabs: boolean } | undefined;
  for (const [index, original] of script.split("\n").entries()) {
    if (heredocEnd) {
      kept.push(original);
      if ((heredocEnd.tabs ? original.replace(/^\t+/, "") : original) === heredocEnd.word)
        heredocEnd = undefined;
      continue;
    }
    if (index === 0 && original.startsWith("#!")) {
      kept.push(original);
      continue;
    }
    const inText = (stack.at(-1)?.kind ?? "code") !== "code" && stack.at(-1)?.kind !== "substitution";
    let line = inText ? original : original.trimStart();
    const comment = scan(line, stack);
    if (comment !== undefined) line = line.slice(0, comment).trimEnd();
    if (!inText && line === "") continue;
    kept.push(line);
    const top = stack.at(-1)?.kind;
    const opened = /<<(-?)\s*(['"]?)([A-Za-z_][A-Za-z0-9_]*)\2\s*\)?\s*$/.exec(line);
    if (opened && (top === "code" || top === "substitution")) {
      heredocEnd = { word: opened[3] ?? "", tabs: opened[1] === "-" };
    }
  }
  if (stack.length !== 1) throw new Error("minified: a quote or $( is still open at the end of the script");
  return kept.join("\n");
}

/** Follows quoting through one line (updating `stack`); returns where a comment starts, if one does. */
function scan(line: string, stack: Quoting[]): number | undefined {
  for (let i = 0; i < line.length; i++) {
    const top = stack.at(-1) ?? { kind: "code" };
    const c = line[i];
    if (top.kind === "single") {
      if (c === "'") stack.pop();
    } else if (top.kind === "ansi") {
      if (c === "\\") i++;
      else if (c === "'") stack.pop();
    } else if (top.kind === "double") {
      if (c === "\\") i++;
      else if (c === '"') stack.pop();
      else if (c === "$" && line[i + 1] === "(") {
        stack.push({ kind: "substitution", depth: 1 });
        i++;
      }
    } else if (c === "\\") {
      i++;
    } else if (c === "#" && (i === 0 || /[\s;&|()<>]/.test(line[i - 1] ?? ""))) {
      return i;
    } else if (c === "'") {
      stack.push({ kind: line[i - 1] === "$" ? "ansi" : "single" });
    } else if (c === '"') {
      stack.push({ kind: "double" });
    } else if (c === "$" && line[i + 1] === "(") {
      stack.push({ kind: "substitution", depth: 1 });
      i++;
    } else if (top.kind === "substitution" && c === "(") {
      top.depth++;
    } else if (top.kind === "substitution" && c === ")" && --top.depth === 0) {
      stack.pop();
    }
  }
  return undefined;
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
