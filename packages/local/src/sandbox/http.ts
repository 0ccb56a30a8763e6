import { request } from "node:http";

/** One HTTP GET: the status and its text, or why there was none within `timeoutMs`. */
export function httpGet(
  host: string,
  port: number,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; message: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: "GET" }, (res) => {
      res.resume();
      done({ status: res.statusCode ?? 0, message: res.statusMessage ?? "" });
    });
    const timer = setTimeout(() => done({ error: `no answer within ${timeoutMs / 1000} s` }), timeoutMs);
    function done(result: { status: number; message: string } | { error: string }) {
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    }
    req.on("error", (error) => done({ error: error.message }));
    req.end();
  });
}
