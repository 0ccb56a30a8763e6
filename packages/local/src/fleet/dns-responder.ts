import { createSocket } from "node:dgram";
import { createServer, type Socket } from "node:net";

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

const TYPE_A = 1;
const TYPE_ANY = 255;
const CLASS_IN = 1;

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
  if (query.length < 12) return undefined;
  const flags = query.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response, not a query
  const opcode = (flags >> 11) & 0xf;
  const question = readQuestion(query, 12);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  const rd = flags & 0x0100;
  if (opcode !== 0 || query.readUInt16BE(4) !== 1 || !question) {
    // Only standard queries with one question: NOTIMP / FORMERR.
    header.writeUInt16BE(0x8000 | (opcode << 11) | rd | (opcode !== 0 ? 4 : 1), 2);
    return header;
  }
  const sets = lookup(question.name.toLowerCase());
  const chosen =
    question.type === TYPE_A || question.type === TYPE_ANY ? pickWeighted(sets, random) : undefined;
  const answers = question.class === CLASS_IN && chosen ? chosen.values.filter(isIpv4) : [];
  header.writeUInt16BE(0x8000 | 0x0400 | rd | (sets.length === 0 ? 3 : 0), 2); // QR, AA, NXDOMAIN when unknown
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const records = answers.map((ip) => {
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question
    record.writeUInt16BE(TYPE_A, 2);
    record.writeUInt16BE(CLASS_IN, 4);
    record.writeUInt32BE(chosen?.ttl ?? 0, 6);
    record.writeUInt16BE(4, 10);
    ip.split(".").forEach((octet, i) => {
      record.writeUInt8(Number(octet), 12 + i);
    });
    return record;
  });
  return Buffer.concat([header, query.subarray(12, question.end), ...records]);
}

function readQuestion(
  packet: Buffer,
  start: number,
): { name: string; type: number; class: number; end: number } | undefined {
  const labels: string[] = [];
  let at = start;
  for (;;) {
    const length = packet[at];
    if (length === undefined || length > 63) return undefined; // no compression in questions
    at++;
    if (length === 0) break;
    if (at + length > packet.length) return undefined;
    labels.push(packet.toString("latin1", at, at + length));
    at += length;
  }
  if (at + 4 > packet.length) return undefined;
  return {
    name: `${labels.join(".")}.`,
    type: packet.readUInt16BE(at),
    class: packet.readUInt16BE(at + 2),
    end: at + 4,
  };
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
