import { Client, FTPError } from "basic-ftp";

export interface FtpTarget {
  port?: number;
  /** Per reply; a refused login takes pure-ftpd a few seconds on purpose, so logins get more. */
  timeoutMs?: number;
  /** Explicit FTPS (AUTH TLS, then PROT P), as the fleet requires by default; `false` logs in
   * with plain FTP. The sandbox's certificates are self-signed, so they are not verified. */
  secure?: boolean;
}

/** Whether an FTP server greets on `host` (what a TCP health check on port 21 sees). */
export async function ftpGreets(host: string, target: FtpTarget = {}): Promise<boolean> {
  const client = new Client(target.timeoutMs ?? 1_000);
  try {
    await client.connect(host, target.port ?? 21);
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

/** A logged-in FTP session (FTPS unless `target.secure` is false); the caller closes it. A refused
 * login throws "login refused: <reply>". */
export async function ftpLogin(
  host: string,
  user: string,
  password: string,
  target: FtpTarget = {},
): Promise<Client> {
  const client = new Client(target.timeoutMs ?? 15_000);
  try {
    await client.access({
      host,
      port: target.port ?? 21,
      user,
      password,
      secure: target.secure ?? true,
      secureOptions: { rejectUnauthorized: false },
    });
    return client;
  } catch (error) {
    client.close();
    if (error instanceof FTPError && error.code === 530) {
      throw new Error(`login refused: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** Logs in and out; resolves with the milliseconds until the login was accepted. */
export async function probeLogin(
  host: string,
  user: string,
  password: string,
  target: FtpTarget = {},
): Promise<number> {
  const started = performance.now();
  const client = await ftpLogin(host, user, password, target);
  const ms = performance.now() - started;
  client.close();
  return ms;
}
