import { InvalidInputError, loadFleetConfig, loadFunctionConfig } from "@ftpfleet/core";
import { describe, expect, it } from "vitest";
import { testEnv } from "./support";

describe("loadFleetConfig", () => {
  it("normalises names and fills defaults", () => {
    const config = loadFleetConfig({
      ...testEnv,
      FTPFLEET_RECORD_NAME: "FTP.Example.COM",
      FTPFLEET_HOSTED_ZONE_ID: "/hostedzone/Z0TESTZONE",
      FTPFLEET_DRAIN_SECONDS: "",
    });
    expect(config).toMatchObject({
      recordName: "ftp.example.com.",
      hostedZoneId: "Z0TESTZONE",
      recordTtl: 60,
      recordWeight: 1,
      address: "public",
      drainSeconds: 90,
    });
  });

  it("requires FTPS and limits clients unless told otherwise", () => {
    expect(loadFleetConfig(testEnv)).toMatchObject({
      tlsMode: "required",
      maxClients: 50,
      maxClientsPerIp: 10,
    });
    expect(
      loadFleetConfig({
        ...testEnv,
        FTPFLEET_TLS_MODE: "optional",
        FTPFLEET_MAX_CLIENTS: "200",
        FTPFLEET_MAX_CLIENTS_PER_IP: "4",
        FTPFLEET_ARTIFACT_KEY_PARAMETER: "/ftpfleet/artifact-key",
      }),
    ).toMatchObject({
      tlsMode: "optional",
      maxClients: 200,
      maxClientsPerIp: 4,
      artifactKeyParameter: "/ftpfleet/artifact-key",
    });
  });

  it("builds both daemons from pinned sources unless told otherwise; a source comes with its checksum", () => {
    expect(loadFleetConfig(testEnv)).toMatchObject({ pureFtpdSource: "build", s3fsSource: "build" });
    const sha = "a".repeat(64);
    expect(
      loadFleetConfig({
        ...testEnv,
        FTPFLEET_S3FS_SOURCE: "distro",
        FTPFLEET_PUREFTPD_SOURCE_URL: "bucket:.ftpfleet/sources/pure-ftpd-1.0.54.tar.gz",
        FTPFLEET_PUREFTPD_SOURCE_SHA256: sha,
      }),
    ).toMatchObject({
      s3fsSource: "distro",
      pureFtpdSourceUrl: "bucket:.ftpfleet/sources/pure-ftpd-1.0.54.tar.gz",
      pureFtpdSourceSha256: sha,
    });
    const problems = (env: Record<string, string>) => {
      try {
        loadFleetConfig({ ...testEnv, ...env });
        return [];
      } catch (error) {
        return (error as InvalidInputError).issues;
      }
    };
    expect(problems({ FTPFLEET_S3FS_SOURCE_URL: "https://mirror.example.com/s3fs.tar.gz" })).toEqual([
      "FTPFLEET_S3FS_SOURCE_SHA256: s3fsSourceUrl and s3fsSourceSha256 go together",
    ]);
    for (const url of [
      "http://download.pureftpd.org/x.tar.gz",
      "file:///tmp/x.tar.gz",
      "bucket:users/x.tar.gz",
      "bucket:.ftpfleet/sources/../users.json",
      "https://example.com/$(reboot).tar.gz",
    ]) {
      expect(
        problems({ FTPFLEET_PUREFTPD_SOURCE_URL: url, FTPFLEET_PUREFTPD_SOURCE_SHA256: sha })[0],
        url,
      ).toMatch(/^FTPFLEET_PUREFTPD_SOURCE_URL: /);
    }
    expect(
      problems({
        FTPFLEET_PUREFTPD_SOURCE_URL: "bucket:.ftpfleet/sources/p.tar.gz",
        FTPFLEET_PUREFTPD_SOURCE_SHA256: "ABC",
      })[0],
    ).toMatch(/^FTPFLEET_PUREFTPD_SOURCE_SHA256: a SHA-256/);
  });

  const queue = {
    FTPFLEET_LIFECYCLE_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/ftpfleet-lifecycle",
  };

  it("reads a function's log level in any case, and its queue", () => {
    expect(loadFunctionConfig({ ...testEnv, ...queue, LOG_LEVEL: "INFO" })).toMatchObject({
      logLevel: "info",
      lifecycleQueueUrl: queue.FTPFLEET_LIFECYCLE_QUEUE_URL,
    });
    expect(loadFunctionConfig({ ...testEnv, ...queue }).logLevel).toBe("info");
  });

  it.each([
    ["FTPFLEET_LIFECYCLE_QUEUE_URL", "http://sqs.eu-west-1.amazonaws.com/123456789012/q"],
    ["FTPFLEET_LIFECYCLE_QUEUE_URL", "https://evil.example.com/123456789012/q"],
  ])("refuses a function's %s=%s, naming it", (name, value) => {
    expect(() => loadFunctionConfig({ ...testEnv, [name]: value })).toThrow(new RegExp(`${name}: `));
  });

  it.each([
    ["FTPFLEET_ASG_NAME", "fleet; rm -rf /"],
    ["FTPFLEET_HOSTED_ZONE_ID", "not-a-zone"],
    ["FTPFLEET_RECORD_NAME", "ftp..example.com"],
    ["FTPFLEET_RECORD_TTL", "3600"],
    ["FTPFLEET_RECORD_WEIGHT", "256"],
    ["FTPFLEET_ADDRESS", "ipv6"],
    ["FTPFLEET_HEALTH_CHECKS", "on"],
    ["FTPFLEET_HEALTH_PORT", "80"],
    ["FTPFLEET_HEALTH_REPLACE_SECONDS", "5"],
    ["FTPFLEET_OWNER_ID", "Has Spaces"],
    ["FTPFLEET_TLS_MODE", "on"],
    ["FTPFLEET_MAX_CLIENTS", "0"],
    ["FTPFLEET_MAX_CLIENTS", "10000"],
    ["FTPFLEET_MAX_CLIENTS_PER_IP", "two"],
    ["FTPFLEET_MAX_CLIENTS_PER_IP", "51"], // more than the 50 in total
    ["FTPFLEET_ARTIFACT_KEY_PARAMETER", "ftpfleet/artifact-key"],
    ["FTPFLEET_ARTIFACT_KEY_PARAMETER", "/key;rm -rf /"],
    ["FTPFLEET_PASSIVE_PORTS", "30000:30000"],
    ["FTPFLEET_PASSIVE_PORTS", "30010:30000"],
    ["LOG_LEVEL", "verbose"],
  ])("rejects %s=%s, naming the variable", (name, value) => {
    const env = { ...testEnv, ...queue, [name]: value };
    // LOG_LEVEL is the functions' own setting; the stack's fleet configuration does not read it.
    if (name.startsWith("FTPFLEET_")) expect(() => loadFleetConfig(env)).toThrow(new RegExp(name));
    expect(() => loadFunctionConfig(env)).toThrow(new RegExp(`${name}: `));
  });

  it("puts a deep health check on every record of a provisioned fleet, and refuses one Route53 cannot run", () => {
    const withBucket = { ...testEnv, FTPFLEET_BUCKET: "fleet-bucket", FTPFLEET_BUCKET_REGION: "eu-west-1" };
    expect(loadFleetConfig(withBucket)).toMatchObject({
      healthChecks: "deep",
      healthPort: 8021,
      healthReplaceSeconds: 120,
    });
    const withoutBucket = testEnv;
    expect(loadFleetConfig(withoutBucket).healthChecks).toBe("off");
    expect(() => loadFleetConfig({ ...withoutBucket, FTPFLEET_HEALTH_CHECKS: "deep" })).toThrow(
      /FTPFLEET_HEALTH_CHECKS: deep health checks need a bucket/,
    );
    expect(() => loadFleetConfig({ ...withBucket, FTPFLEET_ADDRESS: "private" })).toThrow(
      /FTPFLEET_HEALTH_CHECKS: deep health checks need public addresses/,
    );
    expect(
      loadFleetConfig({ ...withBucket, FTPFLEET_ADDRESS: "private", FTPFLEET_HEALTH_CHECKS: "off" }),
    ).toMatchObject({
      address: "private",
      healthChecks: "off",
    });
  });

  it("refuses a drain shorter than the TTL", () => {
    expect(() =>
      loadFleetConfig({ ...testEnv, FTPFLEET_RECORD_TTL: "60", FTPFLEET_DRAIN_SECONDS: "30" }),
    ).toThrow(/FTPFLEET_DRAIN_SECONDS: drainSeconds must be at least recordTtl/);
  });

  it("names every missing variable at once", () => {
    try {
      loadFleetConfig({});
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).issues.map((i) => i.split(":")[0])).toEqual([
        "FTPFLEET_OWNER_ID",
        "FTPFLEET_ASG_NAME",
        "FTPFLEET_HOSTED_ZONE_ID",
        "FTPFLEET_RECORD_NAME",
      ]);
    }
  });
});
