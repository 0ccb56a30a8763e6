import { InvalidInputError, loadFleetConfig } from "@ftpfleet/core";
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

  it.each([
    ["FTPFLEET_ASG_NAME", "fleet; rm -rf /"],
    ["FTPFLEET_HOSTED_ZONE_ID", "not-a-zone"],
    ["FTPFLEET_RECORD_NAME", "ftp..example.com"],
    ["FTPFLEET_RECORD_TTL", "3600"],
    ["FTPFLEET_RECORD_WEIGHT", "256"],
    ["FTPFLEET_ADDRESS", "ipv6"],
    ["FTPFLEET_HEALTH_CHECK_ID", "abc"],
    ["FTPFLEET_OWNER_ID", "Has Spaces"],
  ])("rejects %s=%s, naming the variable", (name, value) => {
    expect(() => loadFleetConfig({ ...testEnv, [name]: value })).toThrow(new RegExp(name));
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
