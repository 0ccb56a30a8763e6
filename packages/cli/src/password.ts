import { randomBytes } from "node:crypto";
import { openSync } from "node:fs";
import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { ReadStream } from "node:tty";
import { InvalidInputError } from "@ftpfleet/core";
import { encrypt } from "unixcrypt";

const SALT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** SHA-512 crypt with a fresh 16-character salt: what pure-ftpd checks with crypt(3). The password
 * never leaves this process; only the hash goes into the manifest. */
export function hashPassword(password: string): string {
  const salt = [...randomBytes(16)].map((byte) => SALT_ALPHABET[byte % 64]).join("");
  return encrypt(password, `$6$${salt}`);
}

/** Refused before hashing: an empty password, or one that would not survive being typed again. */
export function checkPassword(password: string): string {
  if (password.length < 8)
    throw new InvalidInputError("invalid password", ["password: at least 8 characters"]);
  if (password.length > 256)
    throw new InvalidInputError("invalid password", ["password: at most 256 characters"]);
  if ([...password].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127)) {
    throw new InvalidInputError("invalid password", ["password: control characters"]);
  }
  return password;
}

/** `--password-stdin`: all of standard input, without one trailing newline (as `echo` adds). */
export async function passwordFromStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer));
  return checkPassword(
    Buffer.concat(chunks)
      .toString("utf8")
      .replace(/\r?\n$/, ""),
  );
}

/** Asks twice on the terminal with echo off; never from arguments, never logged. */
export async function promptPassword(user: string): Promise<string> {
  let input: NodeJS.ReadableStream;
  try {
    input = new ReadStream(openSync("/dev/tty", "r"));
  } catch {
    throw new InvalidInputError("no terminal to ask for the password", [
      "password: use --password-stdin when not at a terminal",
    ]);
  }
  try {
    const first = await ask(input, `Password for ${user}: `);
    const second = await ask(input, "Again: ");
    if (first !== second)
      throw new InvalidInputError("invalid password", ["password: the two entries differ"]);
    return checkPassword(first);
  } finally {
    (input as ReadStream).destroy();
  }
}

function ask(input: NodeJS.ReadableStream, question: string): Promise<string> {
  process.stderr.write(question);
  // Typed characters go nowhere: the terminal shows nothing of the password.
  const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input, output: muted, terminal: true });
  return new Promise((resolve) => {
    rl.question("", (answer) => {
      rl.close();
      process.stderr.write("\n");
      resolve(answer);
    });
  });
}
