import { connect, type Socket } from "node:net";

/** A minimal FTP control connection: enough to probe a login and to hold a session open. */
export interface FtpSession {
  /** Sends a command and resolves with the final reply line (e.g. "230 OK"). */
  command(line: string): Promise<string>;
  close(): Promise<void>;
}

export async function openFtpSession(host: string, port = 21, timeoutMs = 5_000): Promise<FtpSession> {
  const socket = connect({ host, port });
  socket.setEncoding("utf8");
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`FTP ${host}:${port}: timed out`)));
  const replies = replyReader(socket);
  await replies.next("220");
  return {
    command: async (line) => {
      socket.write(`${line}\r\n`);
      return replies.next();
    },
    close: async () => {
      if (socket.destroyed) return;
      socket.write("QUIT\r\n");
      await new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.end();
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 1_000).unref();
      });
    },
  };
}

/**
 * Logs in and out; resolves with the time to the "230" reply, rejects on anything else. The
 * default timeout outlasts pure-ftpd's deliberate delay before it refuses a login.
 */
export async function probeLogin(
  host: string,
  user: string,
  password: string,
  options: { port?: number; timeoutMs?: number } = {},
): Promise<number> {
  const started = performance.now();
  const session = await openFtpSession(host, options.port ?? 21, options.timeoutMs ?? 15_000);
  try {
    const userReply = await session.command(`USER ${user}`);
    if (!userReply.startsWith("331")) throw new Error(`USER refused: ${userReply}`);
    const passReply = await session.command(`PASS ${password}`);
    if (!passReply.startsWith("230")) throw new Error(`login refused: ${passReply}`);
    return performance.now() - started;
  } finally {
    await session.close();
  }
}

// FTP replies may span lines ("220-..." continued until "220 ..."); only the last line counts.
function replyReader(socket: Socket) {
  let buffer = "";
  const finals: string[] = [];
  let waiter: ((line: string) => void) | undefined;
  let failure: Error | undefined;
  let failed: ((error: Error) => void) | undefined;
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    let end = buffer.indexOf("\n");
    while (end >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, "");
      buffer = buffer.slice(end + 1);
      if (/^\d{3} /.test(line)) finals.push(line);
      end = buffer.indexOf("\n");
    }
    flush();
  });
  const onEnd = (error?: Error) => {
    failure = error ?? new Error("FTP connection closed");
    failed?.(failure);
  };
  socket.on("error", onEnd);
  socket.on("close", () => onEnd());
  const flush = () => {
    const line = finals.shift();
    if (line !== undefined && waiter !== undefined) {
      const resolve = waiter;
      waiter = undefined;
      failed = undefined;
      resolve(line);
    } else if (line !== undefined) {
      finals.unshift(line);
    }
  };
  return {
    next(expect?: string): Promise<string> {
      return new Promise((resolve, reject) => {
        if (failure !== undefined && finals.length === 0) return reject(failure);
        waiter = (line) => {
          if (expect !== undefined && !line.startsWith(expect))
            reject(new Error(`unexpected reply: ${line}`));
          else resolve(line);
        };
        failed = reject;
        flush();
      });
    },
  };
}
