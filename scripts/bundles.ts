// What each Lambda function ships: its handler bundled as SST bundles it (esbuild, ESM, Node 22,
// minified), and where the bytes come from, read from esbuild's metafile.
import { build, type Metafile } from "esbuild";

export const FUNCTION_HANDLERS = {
  lifecycle: "functions/lifecycle.ts",
  reconcile: "functions/reconcile.ts",
  audit: "functions/audit.ts",
};

export interface BundleReport {
  name: string;
  bytes: number;
  /** Bytes of output per origin: a workspace package, functions/, or an npm package. */
  origins: Record<string, number>;
  /** Every input file, relative to the repository. */
  inputs: string[];
}

export async function bundleFunction(name: string, entry: string): Promise<BundleReport> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    minify: true,
    platform: "node",
    format: "esm",
    target: "node22",
    outfile: `out/${name}.mjs`,
    logLevel: "silent",
  });
  const output = Object.values(result.metafile.outputs)[0];
  if (!output) throw new Error(`esbuild produced no output for ${entry}`);
  return {
    name,
    bytes: output.bytes,
    origins: originsOf(output),
    inputs: Object.keys(result.metafile.inputs),
  };
}

function originsOf(output: Metafile["outputs"][string]): Record<string, number> {
  const origins: Record<string, number> = {};
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    const origin = originOf(path);
    origins[origin] = (origins[origin] ?? 0) + bytesInOutput;
  }
  return Object.fromEntries(Object.entries(origins).sort((a, b) => b[1] - a[1]));
}

/** "packages/core/src/…" → "@ftpfleet/core"; "node_modules/@aws-sdk/client-ssm/…" → "@aws-sdk/client-ssm". */
export function originOf(path: string): string {
  const workspace = /^packages\/([^/]+)\//.exec(path);
  if (workspace) return `@ftpfleet/${workspace[1]}`;
  const modules = path.lastIndexOf("node_modules/");
  if (modules >= 0) {
    const [first = "", second = ""] = path.slice(modules + "node_modules/".length).split("/");
    return first.startsWith("@") ? `${first}/${second}` : first;
  }
  return path.split("/")[0] ?? path;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
  for (const [name, entry] of Object.entries(FUNCTION_HANDLERS)) {
    const report = await bundleFunction(name, entry);
    console.log(`\n${name} (${entry}): ${kib(report.bytes)} minified, ${report.inputs.length} input files`);
    console.log("| origin | bytes in the bundle |\n|---|---|");
    const rows = Object.entries(report.origins);
    for (const [origin, bytes] of rows.slice(0, 12)) console.log(`| ${origin} | ${kib(bytes)} |`);
    const rest = rows.slice(12).reduce((sum, [, bytes]) => sum + bytes, 0);
    if (rest > 0) console.log(`| ${rows.length - 12} more | ${kib(rest)} |`);
  }
}
