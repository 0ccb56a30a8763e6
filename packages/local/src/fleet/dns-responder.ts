import { createSocket } from "node:dgram";
import { createServer, type Socket } from "node:net";
import dnsPacket from "dns-packet";

/** One weighted record set at a name, as the simulated Route53 zone holds it. */
export interface WeightedSet {
  values: string[];
  weight: number;
  ttl: number;
}

export interface DnsResponderOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** The weighted A record sets at `name` (lowercase, ending in a dot); empty when the name is unknown. */
  lookup: (name: string) => WeightedSet[];
  random?: () => number;
}

export interface DnsResponder {
  host: string;
  port: number;
  close(): Promise<void>;
}

const NOT_IMPLEMENTED = 4;
const FORMAT_ERROR = 1;
const NAME_ERROR = 3;

/** Answers A queries over UDP and TCP the way Route53 answers a weighted name: one record set chosen
 * at random in proportion to its weight (all weights 0: equally), all of its values returned. So
 * `dig @127.0.0.1 -p 5353 ftp.example.com` shows the local fleet as clients would see it. */
export async function startDnsResponder(options: DnsResponderOptions): Promise<DnsResponder> {
  const host = options.host ?? "127.0.0.1";
  const random = options.random ?? Math.random;
  const answer = (query: Buffer) => respond(query, options.lookup, random);

  const udp = createSocket("udp4");
  udp.on("message", (query, peer) => {
    const reply = answer(query);
    if (reply) udp.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(options.port ?? 5353, host, () => resolve());
  });
  const port = udp.address().port;

  const sockets = new Set<Socket>();
  const tcp = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let pending = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const length = pending.readUInt16BE(0);
        const reply = answer(pending.subarray(2, 2 + length));
        pending = pending.subarray(2 + length);
        if (!reply) continue;
        const framed = Buffer.alloc(2 + reply.length);
        framed.writeUInt16BE(reply.length, 0);
        reply.copy(framed, 2);
        socket.write(framed);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(port, host, () => resolve());
  });

  return {
    host,
    port,
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([
        new Promise<void>((resolve) => udp.close(() => resolve())),
        new Promise<void>((resolve) => tcp.close(() => resolve())),
      ]);
    },
  };
}

/** Builds the reply to one query; undefined for packets too broken to answer. */
export function respond(
  query: Buffer,
  lookup: (name: string) => WeightedSet[],
  random: () => number,
): Buffer | undefined {
  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(query);
  } catch {
    return undefined;
  }
  if (packet.type !== "query") return undefined;
  const reply = (rcode: number, answers: dnsPacket.Answer[] = []) =>
    dnsPacket.encode({
      type: "response",
      id: packet.id ?? 0,
      flags: (packet.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | dnsPacket.AUTHORITATIVE_ANSWER | rcode,
      questions: packet.questions ?? [],
      answers,
    });
  // Only standard queries with one question.
  const opcode = (packet as { opcode?: string }).opcode;
  if (opcode !== "QUERY") return reply(NOT_IMPLEMENTED);
  const [question, ...more] = packet.questions ?? [];
  if (!question || more.length > 0) return reply(FORMAT_ERROR);
  const name = `${question.name.toLowerCase()}.`;
  const sets = lookup(name);
  if (sets.length === 0) return reply(NAME_ERROR);
  // dns-packet decodes type 255 as "ANY", which its typings leave out.
  const wantsA = question.type === "A" || (question.type as string) === "ANY";
  const chosen = wantsA && question.class === "IN" ? pickWeighted(sets, random) : undefined;
  const answers = (chosen?.values ?? []).filter(isIpv4).map(
    (data): dnsPacket.Answer => ({
      type: "A",
      class: "IN",
      name: question.name,
      ttl: chosen?.ttl ?? 0,
      data,
    }),
  );
  return reply(0, answers);
}

export function pickWeighted(sets: readonly WeightedSet[], random: () => number): WeightedSet | undefined {
  if (sets.length === 0) return undefined;
  const total = sets.reduce((sum, set) => sum + set.weight, 0);
  if (total === 0) return sets[Math.floor(random() * sets.length)];
  let point = random() * total;
  for (const set of sets) {
    point -= set.weight;
    if (point < 0) return set;
  }
  return sets[sets.length - 1];
}

function isIpv4(value: string): boolean {
  return /^(\d{1,3})(\.\d{1,3}){3}$/.test(value);
}
