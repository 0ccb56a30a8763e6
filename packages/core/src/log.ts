import type { Clock } from "./clock";
import { systemClock } from "./clock";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines all carry `fields` (e.g. the instance id, to follow one instance). */
  child(fields: LogFields): Logger;
}

const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  level?: LogLevel;
  /** Where JSON lines go; stdout by default (CloudWatch Logs in Lambda). */
  sink?: (line: string) => void;
  clock?: Clock;
  base?: LogFields;
}

/** The project's one logger: one JSON object per line. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = rank[options.level ?? "info"];
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const clock = options.clock ?? systemClock;
  const make = (base: LogFields): Logger => {
    const write = (level: LogLevel, msg: string, fields?: LogFields) => {
      if (rank[level] < threshold) return;
      const time = new Date(clock.now()).toISOString();
      sink(JSON.stringify({ time, level, msg, ...base, ...fields }, replaceErrors));
    };
    return {
      debug: (msg, fields) => write("debug", msg, fields),
      info: (msg, fields) => write("info", msg, fields),
      warn: (msg, fields) => write("warn", msg, fields),
      error: (msg, fields) => write("error", msg, fields),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(options.base ?? {});
}

function replaceErrors(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const cause = value.cause === undefined ? undefined : replaceErrors("cause", value.cause);
    return { name: value.name, message: value.message, ...(cause === undefined ? {} : { cause }) };
  }
  return value;
}

/** A logger that keeps its lines, for tests and for the local console. */
export function memoryLogger(level: LogLevel = "debug", clock?: Clock): Logger & { lines: LogFields[] } {
  const lines: LogFields[] = [];
  const logger = createLogger({
    level,
    ...(clock ? { clock } : {}),
    sink: (line) => lines.push(JSON.parse(line) as LogFields),
  });
  return Object.assign(logger, { lines });
}

/** Lifecycle action tokens authorise completing an action: log only enough to correlate. */
export function redactToken(token: string): string {
  return `${token.slice(0, 8)}…`;
}
