import {
  createLogger,
  EditRefusedError,
  errorMessage,
  InvalidInputError,
  LOG_LEVELS,
  type LogLevel,
  parseGrant,
  parseUserEdit,
} from "@ftpfleet/core";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { auditCommand } from "./audit";
import { consoleIo, type Io } from "./io";
import { checkPassword, hashPassword, passwordFromStdin, promptPassword } from "./password";
import { statusCommand } from "./status";
import { openTarget, type Target, type TargetOptions } from "./target";
import { type ApplyOptions, applyCommand, changeUsers, collectGrant, listUsers } from "./users";

/** Exit codes an operator's script can act on. */
export const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;

export interface RunContext {
  io?: Io;
  /** Tests pass a target of their own; the CLI opens AWS or local mode. */
  openTarget?: (options: TargetOptions, logLevel: LogLevel) => Target;
  readPassword?: (user: string, fromStdin: boolean) => Promise<string>;
}

// SSM's own patterns for SendCommand's rate controls, checked before anything is sent.
const MAX_CONCURRENCY = /^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$/;
const MAX_ERRORS = /^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$/;
const pattern = (re: RegExp, what: string) => (value: string) => {
  if (!re.test(value)) throw new InvalidArgumentError(what);
  return value;
};

/** Runs one ftpfleet command; returns its exit code: 0 done, 1 failed, 2 invalid input (nothing
 * changed anywhere). */
export async function run(argv: string[], context: RunContext = {}): Promise<number> {
  let json = argv.includes("--json");
  const io = () => context.io ?? consoleIo(json);
  let code: number = EXIT.ok;
  const program = buildProgram(
    (value) => (code = value),
    context,
    (value) => (json = value),
    io,
  );
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; everything else commander refuses is a usage error.
      return error.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    }
    if (error instanceof InvalidInputError) {
      io().error(error.message);
      return EXIT.invalid;
    }
    io().error(error instanceof EditRefusedError ? `refused: ${error.message}` : errorMessage(error));
    return EXIT.failed;
  }
}

function buildProgram(
  setCode: (code: number) => void,
  context: RunContext,
  setJson: (json: boolean) => void,
  io: () => Io,
): Command {
  const program = new Command("ftpfleet")
    .description("Operate an ftpfleet: its FTP users and where the fleet stands, in AWS or in local mode")
    .option("--json", "print one JSON document (for scripts)")
    .option("--local", "the fleet of a running `npm run local`")
    .option("--aws", "the fleet in AWS named by FTPFLEET_* variables or --outputs")
    .option("--outputs <file>", "SST stage outputs naming the fleet (default .sst/outputs.json if present)")
    .addOption(
      new Option("--log-level <level>", "control-plane log lines on stderr")
        .choices(LOG_LEVELS)
        .default("error"),
    )
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .hook("preAction", (command) => setJson(Boolean(command.optsWithGlobals().json)));

  const target = (command: Command) => () => {
    const options = command.optsWithGlobals() as TargetOptions & { logLevel: LogLevel };
    if (context.openTarget) return context.openTarget(options, options.logLevel);
    const log = createLogger({ level: options.logLevel, sink: (line) => process.stderr.write(`${line}\n`) });
    return openTarget(options, log);
  };
  const readPassword =
    context.readPassword ?? ((user, fromStdin) => (fromStdin ? passwordFromStdin() : promptPassword(user)));

  const users = program
    .command("users")
    .description("add, change and remove FTP users; apply the manifest to the fleet");
  const changing = (command: Command) =>
    command
      .option("--dry-run", "check and show the change; write and apply nothing")
      .option("--no-apply", "write the manifest, but leave the instances until `users apply`")
      .addOption(
        new Option("--max-concurrency <n|%>", "instances applying at once")
          .default("10")
          .argParser(pattern(MAX_CONCURRENCY, "a count or a percentage, as SSM's MaxConcurrency")),
      )
      .addOption(
        new Option("--max-errors <n|%>", "failed instances before the rest are left alone")
          .default("25%")
          .argParser(pattern(MAX_ERRORS, "a count or a percentage, as SSM's MaxErrors")),
      );
  const applyOptions = (command: Command): ApplyOptions => {
    const o = command.opts() as {
      apply?: boolean;
      dryRun?: boolean;
      maxConcurrency: string;
      maxErrors: string;
    };
    return {
      apply: o.apply !== false,
      dryRun: Boolean(o.dryRun),
      maxConcurrency: o.maxConcurrency,
      maxErrors: o.maxErrors,
    };
  };
  const change = (command: Command, input: Record<string, unknown>) =>
    changeUsers(input, target(command), applyOptions(command), io()).then(setCode);

  changing(
    users
      .command("add <name>")
      .description("add a user; the password is asked twice (or read from stdin), only its hash is stored")
      .option(
        "--grant <path:ro|rw>",
        "a folder the user may read (ro) or write (rw); repeatable",
        collectGrant,
        [],
      )
      .option("--password-stdin", "read the password from standard input"),
  ).action(async (name: string, o: { grant: unknown[]; passwordStdin?: boolean }, command: Command) => {
    // The name and grants are checked before the password is asked for.
    parseUserEdit({ kind: "add", name, passwordHash: PLACEHOLDER_HASH, grants: o.grant });
    const passwordHash = hashPassword(checkPassword(await readPassword(name, Boolean(o.passwordStdin))));
    await change(command, { kind: "add", name, passwordHash, grants: o.grant });
  });
  changing(
    users.command("remove <name>").description("remove a user: their sessions end, their home goes"),
  ).action((name: string, _o: unknown, command: Command) => change(command, { kind: "remove", name }));
  changing(
    users
      .command("passwd <name>")
      .description("set a new password; the user's open sessions end")
      .option("--password-stdin", "read the password from standard input"),
  ).action(async (name: string, o: { passwordStdin?: boolean }, command: Command) => {
    parseUserEdit({ kind: "passwd", name, passwordHash: PLACEHOLDER_HASH });
    const passwordHash = hashPassword(checkPassword(await readPassword(name, Boolean(o.passwordStdin))));
    await change(command, { kind: "passwd", name, passwordHash });
  });
  changing(
    users
      .command("grant <name> <grant>")
      .description("let a user read (PATH:ro) or write (PATH:rw) a folder"),
  ).action((name: string, grant: string, _o: unknown, command: Command) =>
    change(command, { kind: "grant", name, grant: parseGrant(grant) }),
  );
  changing(users.command("revoke <name> <path>").description("take a folder away from a user")).action(
    (name: string, path: string, _o: unknown, command: Command) =>
      change(command, { kind: "revoke", name, path }),
  );
  changing(
    users
      .command("disable <name>")
      .description("keep the user, but refuse their logins and end their sessions"),
  ).action((name: string, _o: unknown, command: Command) => change(command, { kind: "disable", name }));
  changing(users.command("enable <name>").description("let a disabled user log in again")).action(
    (name: string, _o: unknown, command: Command) => change(command, { kind: "enable", name }),
  );
  users
    .command("list")
    .description("the users in the manifest (never their password hashes)")
    .action(async (_o: unknown, command: Command) => setCode(await listUsers(target(command), io())));
  users
    .command("show <name>")
    .description("one user: state and grants")
    .action(async (name: string, _o: unknown, command: Command) =>
      setCode(await listUsers(target(command), io(), name)),
    );
  changing(
    users
      .command("apply")
      .description("run apply-users now on every instance of the fleet (SSM Run Command)"),
  ).action(async (_o: unknown, command: Command) =>
    setCode(await applyCommand(target(command), applyOptions(command), io())),
  );

  program
    .command("status")
    .description(
      "each instance: lifecycle state, health, DNS record and weight, users revision applied; what DNS answers",
    )
    .action(async (_o: unknown, command: Command) => setCode(await statusCommand(target(command), io())));

  program
    .command("audit")
    .description(
      "prove that every in-service instance serves what S3 holds (canary, this run's slice of the bucket); exit 1 on any finding",
    )
    .option(
      "--repair",
      "take failing instances out of rotation (DNS weight 0), mount the bucket again, re-audit, return them",
    )
    .option("--slice-keys <n>", "objects of the bucket compared per run (1-100000)", positiveInt(100_000))
    .action(async (options: { repair?: boolean; sliceKeys?: number }, command: Command) =>
      setCode(
        await auditCommand(
          target(command),
          { repair: Boolean(options.repair), ...(options.sliceKeys ? { sliceKeys: options.sliceKeys } : {}) },
          io(),
        ),
      ),
    );

  // Every subcommand reports usage errors the same way.
  for (const command of [program, users, ...program.commands, ...users.commands])
    command.exitOverride().showHelpAfterError();
  return program;
}

const positiveInt = (max: number) => (value: string) => {
  if (!/^[1-9][0-9]{0,8}$/.test(value) || Number(value) > max)
    throw new InvalidArgumentError(`expected 1-${max}`);
  return Number(value);
};

/** Stands in for the hash while the other fields are checked, before a password is asked for. */
const PLACEHOLDER_HASH = `$6$placeholder$${"A".repeat(86)}`;
