import { type ChildProcess, spawn } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { runChecked, runCommand, Sandbox, scriptsDir } from "@ftpfleet/local";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataPlaneSkip, scratchDir, writeScratch } from "./helpers";

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

/**
 * AWS Signature Version 4 of a received request, computed here from the AWS documentation, not by
 * curl: the local S3 server does not check signatures, so this is what stands for S3 here.
 */
function signatureV4(
  request: { method: string; path: string; headers: IncomingHttpHeaders },
  secret: string,
  region: string,
): string {
  const signed = /SignedHeaders=([^,]+)/.exec(String(request.headers.authorization))?.[1]?.split(";") ?? [];
  const date = String(request.headers["x-amz-date"]);
  const canonical = [
    request.method,
    request.path,
    "",
    ...signed.map((name) => `${name}:${String(request.headers[name]).trim()}`),
    "",
    signed.join(";"),
    String(request.headers["x-amz-content-sha256"]),
  ].join("\n");
  const scope = `${date.slice(0, 8)}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope, sha256(canonical)].join("\n");
  const key = ["s3", "aws4_request"].reduce(
    (k, part) => hmac(k, part),
    hmac(hmac(`AWS4${secret}`, date.slice(0, 8)), region),
  );
  return createHmac("sha256", key).update(toSign).digest("hex");
}

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Runs bash code with lib/common.sh and lib/bucket.sh sourced, as a step would. */
const harness = (dir: string, code: string) =>
  writeScratch(
    dir,
    "s3-harness.sh",
    `#!/usr/bin/env bash
set -euo pipefail
step=s3-harness
source "$(dirname "\${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "\${BASH_SOURCE[0]}")/lib/bucket.sh"
s3_parameters
${code}
`,
  );

describe("lib/bucket.sh (S3 objects with curl --aws-sigv4, for the steps that run before the mount)", () => {
  const scratch = scratchDir();
  cpSync(join(scriptsDir, "lib"), join(scratch, "lib"), { recursive: true });
  // curl's arguments, as any local account could read them in /proc: no secret may be there.
  const shims = join(scratch, "shims");
  const argvLog = join(scratch, "curl-argv.log");
  mkdirSync(shims);
  writeFileSync(
    join(shims, "curl"),
    `#!/bin/sh\nprintf '%s\\n' "$*" >>"${argvLog}"\nexec /usr/bin/curl "$@"\n`,
    {
      mode: 0o755,
    },
  );
  const root = join(scratch, "root");
  const keyId = "AKIAIOSFODNN7EXAMPLE";
  const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  mkdirSync(join(root, "etc/ftpfleet"), { recursive: true });
  writeFileSync(join(root, "etc/ftpfleet/s3fs.passwd"), `${keyId}:${secret}\n`, { mode: 0o600 });

  const received: Received[] = [];
  const stored = new Map<string, Buffer>();
  let server: Server;
  let endpoint = "";

  beforeAll(async () => {
    // Answers like S3 for what the library sends: GET, PUT with If-None-Match / If-Match.
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const path = req.url ?? "";
        received.push({ method: req.method ?? "", path, headers: req.headers, body });
        const current = stored.get(path);
        const etag =
          current === undefined ? undefined : `"${createHash("md5").update(current).digest("hex")}"`;
        const error = (status: number, code: string) => {
          res.writeHead(status, { "content-type": "application/xml" });
          res.end(`<?xml version="1.0"?><Error><Code>${code}</Code></Error>`);
        };
        if (req.method === "GET") {
          if (current === undefined) return error(404, "NoSuchKey");
          res.writeHead(200, { etag });
          return res.end(current);
        }
        if (req.headers["if-none-match"] === "*" && current !== undefined)
          return error(412, "PreconditionFailed");
        if (req.headers["if-match"] !== undefined && req.headers["if-match"] !== etag) {
          return error(412, "PreconditionFailed");
        }
        stored.set(path, body);
        res.writeHead(200, { etag: `"${createHash("md5").update(body).digest("hex")}"` });
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await rm(scratch, { recursive: true, force: true });
  });

  const run = (code: string, parameters: Record<string, string> = {}) =>
    runCommand("bash", [harness(scratch, code)], {
      env: {
        PATH: `${shims}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
        FTPFLEET_ROOT: root,
        SSM_BucketName: "fleet-bucket",
        SSM_BucketRegion: "eu-west-1",
        SSM_S3Endpoint: endpoint,
        ...parameters,
      },
    });

  it("the signature check itself reproduces AWS's documented example (GET Object)", () => {
    const empty = sha256("");
    const headers = {
      authorization: "AWS4-HMAC-SHA256 SignedHeaders=host;range;x-amz-content-sha256;x-amz-date",
      host: "examplebucket.s3.amazonaws.com",
      range: "bytes=0-9",
      "x-amz-content-sha256": empty,
      "x-amz-date": "20130524T000000Z",
    };
    const documented = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    expect(signatureV4({ method: "GET", path: "/test.txt", headers }, documented, "us-east-1")).toBe(
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });

  it("GETs and conditionally PUTs objects with valid SigV4 signatures, the keys never among curl's arguments", async () => {
    received.length = 0;
    const payload = writeScratch(scratch, "payload.bin", Buffer.alloc(3 * 1024 * 1024, 7));
    const result = await run(`
      s=0; s3_get .ftpfleet/sources/absent.tar.gz "$PWD/absent" || s=$?; echo "get-absent $s"
      s=0; s3_put "${payload}" .ftpfleet/artifacts/x.sealed absent || s=$?; echo "put-new $s"
      s=0; s3_put "${payload}" .ftpfleet/artifacts/x.sealed absent || s=$?; echo "put-again $s"
      s=0; s3_get .ftpfleet/artifacts/x.sealed "${scratch}/got" || s=$?; echo "get $s $s3_etag"
      s=0; s3_put "${payload}" .ftpfleet/artifacts/x.sealed '"0000"' || s=$?; echo "put-if-other $s"
      s=0; s3_put "${payload}" .ftpfleet/artifacts/x.sealed "$s3_etag" || s=$?; echo "put-if-same $s"
    `);
    expect(result.code, result.stderr).toBe(0);
    const etag = `"${createHash("md5").update(readFileSync(payload)).digest("hex")}"`;
    expect(result.stdout.trim().split("\n")).toEqual([
      "get-absent 1",
      "put-new 0",
      "put-again 3",
      `get 0 ${etag}`,
      "put-if-other 3",
      "put-if-same 0",
    ]);
    expect(readFileSync(join(scratch, "got")).equals(readFileSync(payload))).toBe(true);
    expect(existsSync(join(scratch, "absent"))).toBe(false);

    expect(received.map((r) => `${r.method} ${r.path}`)).toEqual([
      "GET /fleet-bucket/.ftpfleet/sources/absent.tar.gz",
      ...Array(2).fill("PUT /fleet-bucket/.ftpfleet/artifacts/x.sealed"),
      "GET /fleet-bucket/.ftpfleet/artifacts/x.sealed",
      ...Array(2).fill("PUT /fleet-bucket/.ftpfleet/artifacts/x.sealed"),
    ]);
    for (const request of received) {
      const authorization = String(request.headers.authorization);
      expect(authorization).toMatch(
        new RegExp(`^AWS4-HMAC-SHA256 Credential=${keyId}/\\d{8}/eu-west-1/s3/aws4_request, SignedHeaders=`),
      );
      // S3 requires the payload's hash, and it is the hash of what was sent.
      expect(request.headers["x-amz-content-sha256"]).toBe(sha256(request.body));
      expect(/Signature=([0-9a-f]{64})/.exec(authorization)?.[1]).toBe(
        signatureV4(request, secret, "eu-west-1"),
      );
    }
    const conditions = received.map((r) => r.headers["if-none-match"] ?? r.headers["if-match"] ?? "-");
    expect(conditions).toEqual(["-", "*", "*", "-", '"0000"', etag]);
    // Conditions are signed: a proxy could not drop them.
    expect(String(received[1]?.headers.authorization)).toContain("if-none-match");
    const argv = readFileSync(argvLog, "utf8");
    expect(argv).toContain(`${endpoint}/fleet-bucket/.ftpfleet/artifacts/x.sealed`);
    expect(argv).not.toContain(secret);
  });

  it("says which request failed and how, and refuses keys with dot segments before any request", async () => {
    received.length = 0;
    const result = await run(`
      s=0; s3_get '.ftpfleet/../users.json' x || s=$?; echo "never $s"
    `);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("refusing the object key '.ftpfleet/../users.json'");
    expect(received).toEqual([]);
    const denied = await run(`s=0; s3_get .ftpfleet/x "$PWD/x" || s=$?; echo "get $s"`, {
      SSM_S3Endpoint: "http://127.0.0.1:1",
    });
    expect(denied.stdout.trim()).toBe("get 2");
    expect(denied.stderr).toContain("cannot read s3://fleet-bucket/.ftpfleet/x: HTTP 000");
  });
});

const skip = dataPlaneSkip("s3-lib.test.ts");

describe.skipIf(skip)("lib/bucket.sh on AWS: the instance role's credentials from IMDSv2", () => {
  let world: Sandbox;
  let imds: ChildProcess | undefined;
  const scratch = scratchDir();
  cpSync(join(scriptsDir, "lib"), join(scratch, "lib"), { recursive: true });
  const argvLog = join(scratch, "curl-argv.log");
  const imdsLog = join(scratch, "imds.log");
  const shims = join(scratch, "shims");
  mkdirSync(shims);
  writeFileSync(
    join(shims, "curl"),
    `#!/bin/sh\nprintf '%s\\n' "$*" >>"${argvLog}"\nexec /usr/bin/curl "$@"\n`,
    {
      mode: 0o755,
    },
  );
  const token = "AQAEAFakeImdsToken0123456789abcdefghij==";
  const credentials = {
    Code: "Success",
    Type: "AWS-HMAC",
    AccessKeyId: "ASIAFAKEFLEETROLE000",
    SecretAccessKey: "fakeSecretOfTheInstanceRole/0123456789+abc",
    Token: "IQoJb3JpZ2luX2VjEFakeSessionToken/0123456789+abcdefghijklmnopqrstuvwxyz==",
    Expiration: "2099-01-01T00:00:00Z",
  };

  beforeAll(async () => {
    world = await Sandbox.create();
  }, 30_000);

  afterAll(async () => {
    imds?.kill("SIGTERM");
    await world?.stop();
    await rm(scratch, { recursive: true, force: true });
  }, 60_000);

  it("asks for a session token, then the role, then its credentials with that token; none of them on a command line", async () => {
    const instance = await world.addInstance();
    // The instance metadata service at its link-local address, inside the instance's network only.
    await runChecked("ip", ["-n", instance.namespace.name, "addr", "add", "169.254.169.254/32", "dev", "lo"]);
    const server = writeScratch(
      scratch,
      "imds.mjs",
      `import { appendFileSync } from "node:fs";
import { createServer } from "node:http";
const token = ${JSON.stringify(token)};
createServer((req, res) => {
  appendFileSync(${JSON.stringify(imdsLog)}, JSON.stringify({ method: req.method, url: req.url, headers: req.headers }) + "\\n");
  if (req.method === "PUT" && req.url === "/latest/api/token") return res.end(token);
  if (req.headers["x-aws-ec2-metadata-token"] !== token) { res.writeHead(401); return res.end(); }
  if (req.url === "/latest/meta-data/iam/security-credentials/") return res.end("ftpfleet-instance-role");
  if (req.url === "/latest/meta-data/iam/security-credentials/ftpfleet-instance-role") {
    return res.end(JSON.stringify(${JSON.stringify(credentials)}));
  }
  res.writeHead(404);
  res.end();
}).listen(80, "169.254.169.254", () => console.log("listening"));
`,
    );
    imds = spawn("nsenter", [`--net=${instance.namespace.netnsPath}`, "--", process.execPath, server], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      imds?.stdout?.once("data", () => resolve());
      imds?.once("exit", (code) => reject(new Error(`fake IMDS exited ${code}`)));
    });

    const result = await instance.runScriptFile(
      harness(
        scratch,
        `s3_credentials
         echo "$s3_key_id \${#s3_secret} \${#s3_token} $s3_base"
         s=0; s3_get .ftpfleet/artifacts/x.sealed "$PWD/x" 2>/dev/null || s=$?; echo "get $s"`,
      ),
      { BucketName: "fleet-bucket", BucketRegion: "eu-west-1", S3Endpoint: "" },
      { PATH: `${shims}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim().split("\n")).toEqual([
      `${credentials.AccessKeyId} ${credentials.SecretAccessKey.length} ${credentials.Token.length} https://fleet-bucket.s3.eu-west-1.amazonaws.com`,
      // No internet here: S3 itself does not answer.
      "get 2",
    ]);
    const asked = readFileSync(imdsLog, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { method: string; url: string; headers: IncomingHttpHeaders });
    expect(asked.map((r) => `${r.method} ${r.url}`)).toEqual([
      "PUT /latest/api/token",
      "GET /latest/meta-data/iam/security-credentials/",
      "GET /latest/meta-data/iam/security-credentials/ftpfleet-instance-role",
    ]);
    expect(asked[0]?.headers["x-aws-ec2-metadata-token-ttl-seconds"]).toBe("300");
    expect(asked.slice(1).map((r) => r.headers["x-aws-ec2-metadata-token"])).toEqual([token, token]);
    const argv = readFileSync(argvLog, "utf8");
    expect(argv).toContain("https://fleet-bucket.s3.eu-west-1.amazonaws.com/.ftpfleet/artifacts/x.sealed");
    for (const secret of [token, credentials.SecretAccessKey, credentials.Token])
      expect(argv).not.toContain(secret);
  }, 30_000);
});
