import { LogFormatter, LogItem, Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import type { LogAttributes, UnformattedAttributes } from "@aws-lambda-powertools/logger/types";
import { systemClock } from "./clock";
import type { LogLevel } from "./config";
import type { Clock, LogFields, Logger } from "./ports";

export interface LoggerOptions {
  level?: LogLevel;
  /** Where JSON lines go; stdout/stderr by default (CloudWatch Logs in Lambda). */
  sink?: (line: string) => void;
  clock?: Clock;
  base?: LogFields;
}

/** The project's one logger: Powertools Logger, writing one JSON object per line with the fields
 * `time`, `level`, `msg` and the caller's own, so log queries stay the same everywhere. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const powertools = new FleetPowertoolsLogger(
    {
      logLevel: (options.level ?? "info").toUpperCase() as Uppercase<LogLevel>,
      logFormatter: new FleetLogFormatter(options.clock ?? systemClock),
    },
    options.sink,
  );
  const make = (base: LogFields): Logger => ({
    debug: (msg, fields) => powertools.debug(msg, { ...base, ...fields }),
    info: (msg, fields) => powertools.info(msg, { ...base, ...fields }),
    warn: (msg, fields) => powertools.warn(msg, { ...base, ...fields }),
    error: (msg, fields) => powertools.error(msg, { ...base, ...fields }),
    child: (fields) => make({ ...base, ...fields }),
  });
  return make(options.base ?? {});
}

/** Keeps the project's field names (time, level, msg) and reads time from the workflows' clock,
 * so that simulated runs log simulated time. */
class FleetLogFormatter extends LogFormatter {
  constructor(private readonly clock: Clock) {
    super();
  }

  override formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    return new LogItem({
      attributes: {
        time: new Date(this.clock.now()).toISOString(),
        level: attributes.logLevel.toLowerCase(),
        msg: attributes.message,
      },
    }).addAttributes(additional);
  }

  /** Name, message and cause: enough to act on, without a stack trace per retried throttle. */
  override formatError(error: Error): LogAttributes {
    return {
      name: error.name,
      message: error.message,
      ...(error.cause instanceof Error
        ? { cause: this.formatError(error.cause) }
        : error.cause === undefined
          ? {}
          : { cause: String(error.cause) }),
    };
  }
}

/** Powertools prints to the console; tests and the local console may take the lines instead. */
class FleetPowertoolsLogger extends PowertoolsLogger {
  constructor(
    options: ConstructorParameters<typeof PowertoolsLogger>[0],
    private readonly sink: ((line: string) => void) | undefined,
  ) {
    super(options);
  }

  protected override printLog(logLevel: number, log: LogItem): void {
    if (!this.sink) {
      super.printLog(logLevel, log);
      return;
    }
    log.prepareForPrint();
    this.sink(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }
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
