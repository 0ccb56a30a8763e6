/** Where a command's output goes: one JSON document on stdout with --json, text otherwise; progress
 * and errors on stderr, so stdout stays the result. */
export interface Io {
  result(json: unknown, text: string): void;
  progress(line: string): void;
  error(line: string): void;
}

export function consoleIo(
  json: boolean,
  write = { out: (s: string) => process.stdout.write(s), err: (s: string) => process.stderr.write(s) },
): Io {
  return {
    result: (value, text) => write.out(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`),
    progress: (line) => {
      if (!json) write.err(`${line}\n`);
    },
    error: (line) => write.err(`ftpfleet: ${line}\n`),
  };
}
