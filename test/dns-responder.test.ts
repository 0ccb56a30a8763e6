import { Resolver } from "node:dns/promises";
import { connect } from "node:net";
import { type DnsResponder, pickWeighted, startDnsResponder, type WeightedSet } from "@ftpfleet/local";
import { afterEach, describe, expect, it } from "vitest";

let responder: DnsResponder | undefined;
afterEach(async () => {
  await responder?.close();
  responder = undefined;
});

const fleet: WeightedSet[] = [
  { values: ["10.231.0.2"], weight: 1, ttl: 60 },
  { values: ["10.231.0.3"], weight: 1, ttl: 60 },
  { values: ["10.231.0.4"], weight: 2, ttl: 60 },
];

async function serve(sets: Record<string, WeightedSet[]>) {
  responder = await startDnsResponder({ port: 0, lookup: (name) => sets[name] ?? [] });
  const resolver = new Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([`${responder.host}:${responder.port}`]);
  return resolver;
}

describe("startDnsResponder", () => {
  it("answers A queries over UDP with one weighted record set at a time, in proportion to weight", async () => {
    const resolver = await serve({ "ftp.example.com.": fleet });
    const seen = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const [answer] = await resolver.resolve4("ftp.example.com", { ttl: true });
      expect(answer?.ttl).toBe(60);
      seen.set(answer?.address ?? "", (seen.get(answer?.address ?? "") ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(["10.231.0.2", "10.231.0.3", "10.231.0.4"]);
    // Weight 2 of 4: about half the answers.
    expect(seen.get("10.231.0.4")).toBeGreaterThan(140);
    expect(seen.get("10.231.0.4")).toBeLessThan(260);
  });

  it("says NXDOMAIN for a name it does not hold and no data for other types", async () => {
    const resolver = await serve({ "ftp.example.com.": fleet });
    await expect(resolver.resolve4("other.example.com")).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(resolver.resolve6("ftp.example.com")).rejects.toMatchObject({ code: "ENODATA" });
  });

  it("answers over TCP with length-prefixed messages", async () => {
    await serve({ "ftp.example.com.": [{ values: ["10.231.0.9"], weight: 1, ttl: 30 }] });
    const query = Buffer.from([
      0x12,
      0x34,
      0x01,
      0x00,
      0x00,
      0x01,
      0x00,
      0x00,
      0x00,
      0x00,
      0x00,
      0x00,
      3,
      ...Buffer.from("ftp"),
      7,
      ...Buffer.from("example"),
      3,
      ...Buffer.from("com"),
      0,
      0x00,
      0x01,
      0x00,
      0x01,
    ]);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const socket = connect(responder?.port ?? 0, responder?.host ?? "127.0.0.1");
      const framed = Buffer.concat([Buffer.from([0, query.length]), query]);
      socket.on("connect", () => socket.write(framed));
      socket.on("data", (data) => {
        resolve(data);
        socket.end();
      });
      socket.on("error", reject);
    });
    const message = reply.subarray(2);
    expect(reply.readUInt16BE(0)).toBe(message.length);
    expect(message.readUInt16BE(0)).toBe(0x1234);
    expect(message.readUInt16BE(6)).toBe(1);
    expect([...message.subarray(message.length - 4)]).toEqual([10, 231, 0, 9]);
  });

  it("ignores garbage", async () => {
    const resolver = await serve({ "ftp.example.com.": fleet });
    const { createSocket } = await import("node:dgram");
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) =>
      socket.send(Buffer.from("hello"), responder?.port, "127.0.0.1", () => resolve()),
    );
    socket.close();
    await expect(resolver.resolve4("ftp.example.com")).resolves.toHaveLength(1);
  });
});

describe("pickWeighted", () => {
  it("treats all-zero weights as equal, and never picks a zero weight beside positive ones", () => {
    const zero = [
      { values: ["a"], weight: 0, ttl: 1 },
      { values: ["b"], weight: 0, ttl: 1 },
    ];
    expect(pickWeighted(zero, () => 0.99)?.values).toEqual(["b"]);
    const mixed = [
      { values: ["a"], weight: 0, ttl: 1 },
      { values: ["b"], weight: 3, ttl: 1 },
    ];
    for (const r of [0, 0.5, 0.999]) expect(pickWeighted(mixed, () => r)?.values).toEqual(["b"]);
    expect(pickWeighted([], Math.random)).toBeUndefined();
  });
});
