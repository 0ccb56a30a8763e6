// The data-plane bench's tables: figure, ftpfleet, direct S3, ratio (ftpfleet ÷ direct).
import type { DataPlaneFigures, PairedFigures } from "./data-plane";
import type { ProvisionBenchFigures } from "./provision";
import { describeRequests } from "./s3-requests";

type Row = [string, string, string, string] | "";

function table(title: string, head: [string, string, string, string], rows: Row[]): void {
  console.log(`\n${title}\n`);
  const full = rows.filter((row): row is Exclude<Row, ""> => row !== "");
  const width = Math.max(head[0].length, ...full.map((r) => r[0].length));
  const cells = [1, 2, 3].map((c) => Math.max(head[c]?.length ?? 0, ...full.map((r) => r[c]?.length ?? 0)));
  const line = (r: Exclude<Row, "">) =>
    [r[0].padEnd(width), ...cells.map((w, i) => (r[i + 1] ?? "").padStart(w))].join("   ");
  console.log(line(head));
  for (const row of rows) console.log(row === "" ? "" : line(row));
}

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const ms = (n: number) => (n < 100 ? n.toFixed(1) : Math.round(n).toString());
const ratio = (r: number, [low, high]: [number, number]) => `${f2(r)} (${f2(low)}–${f2(high)})`;

function transferRows(label: string, p: PairedFigures, single: string, pattern: string): Row[] {
  return [
    [
      `${label}, MB/s — vs ${single}`,
      f1(p.ftpMBps),
      f1(p.singleMBps),
      ratio(p.ratioSingle, p.ratioSingleRange),
    ],
    [
      `${label}, MB/s — vs ${pattern}`,
      f1(p.ftpMBps),
      f1(p.patternMBps),
      ratio(p.ratioPattern, p.ratioPatternRange),
    ],
  ];
}

export function printProvisioning(p: ProvisionBenchFigures): void {
  const steps = (s: Record<string, number>) =>
    Object.entries(s)
      .map(([name, value]) => `${name} ${ms(value)}`)
      .join(", ");
  const cached = p.cachedArtifactProvisionSamplesMs;
  table(
    "Provisioning one local instance until it answers an FTPS login (host packages already installed;\n" +
      "instances share the host's; the first instance of a fresh bucket compiles both daemons)",
    ["figure", "ftpfleet", "goal", "met"],
    [
      [
        "provision to serving, cold: compiling both (s)",
        f1(p.coldProvisionMs / 1000),
        "≤ 30",
        p.coldProvisionMs <= 30_000 ? "yes" : "no",
      ],
      [
        `provision to serving, artifacts cached (s), median of ${cached.length}`,
        `${f2(p.cachedArtifactProvisionMs / 1000)} (${f2(Math.min(...cached) / 1000)}–${f2(Math.max(...cached) / 1000)})`,
        "≤ 2",
        p.cachedArtifactProvisionMs <= 2_000 ? "yes" : "no",
      ],
    ],
  );
  console.log(`\n  cold steps (ms): ${steps(p.coldStepsMs)}`);
  console.log(`  cached steps (ms, medians): ${steps(p.cachedStepsMs)}`);
  console.log(
    `  one FTPS login (basic-ftp, median of 3): SHA-512 crypt ${ms(p.loginSha512CryptMs)} ms, ` +
      `argon2id (pure-pw's default) ${ms(p.loginArgon2idMs)} ms`,
  );
}

export function printDataPlane(d: DataPlaneFigures): void {
  const rows: Row[] = [];
  for (const t of d.transfers) {
    const mb = `${t.sizeMB} MB`;
    rows.push(
      ...transferRows(
        `upload ${mb} (STOR)`,
        t.upload,
        "one PutObject",
        `s3fs's pattern: ${t.upload.pattern}`,
      ),
      [
        `upload ${mb} as lftp does it (STOR + MFMT: s3fs copies), MB/s — vs one PutObject`,
        f1(t.uploadWithMtime.ftpMBps),
        f1(t.uploadWithMtime.singleMBps),
        ratio(t.uploadWithMtime.ratioSingle, t.uploadWithMtime.ratioSingleRange),
      ],
      ...transferRows(`download ${mb}`, t.download, "one GetObject", `s3fs's pattern: ${t.download.pattern}`),
      "",
    );
  }
  const del = d.delete;
  const small = d.smallFiles;
  const list = d.listing;
  const c = d.concurrent;
  rows.push(
    [
      `DELE of a ${del.sizeMB} MB file, ms — vs one DeleteObject (goal: ratio ≤ 2)`,
      ms(del.ftpMs),
      ms(del.directMs),
      ratio(del.ratio, del.ratioRange),
    ],
    [
      `${small.files} files of ${small.fileKB} KB uploaded in one session, s — vs PutObjects one by one`,
      f1(small.ftpUploadMs / 1000),
      f1(small.directUploadMs / 1000),
      f2(small.uploadRatio),
    ],
    [
      `  then listed (LIST), ms — vs ListObjects`,
      ms(small.ftpListMs),
      ms(small.directListMs),
      ratio(small.listRatio, small.listRatioRange),
    ],
    [
      "  upload and list together, s",
      f1((small.ftpUploadMs + small.ftpListMs) / 1000),
      f1((small.directUploadMs + small.directListMs) / 1000),
      f2(small.totalRatio),
    ],
    [
      `LIST of a ${list.entries.toLocaleString("en")}-entry folder, ms — vs ListObjects (${list.directPages} pages)`,
      ms(list.ftpMs),
      ms(list.directMs),
      ratio(list.ratio, list.ratioRange),
    ],
    [
      `${c.sessions} sessions at once uploading ${c.sessionMB} MB each, MB/s — vs ${c.sessions} PutObjects at once`,
      f1(c.upload.ftpMBps),
      f1(c.upload.directMBps),
      ratio(c.upload.ratio, c.upload.ratioRange),
    ],
    [
      `${c.sessions} sessions at once downloading ${c.sessionMB} MB each, MB/s — vs ${c.sessions} GetObjects at once`,
      f1(c.download.ftpMBps),
      f1(c.download.directMBps),
      ratio(c.download.ratio, c.download.ratioRange),
    ],
    "",
    [
      "FTPS login as lftp does it, one session (in none of the figures above), ms",
      `${ms(d.ftpLoginMs)} (${ms(d.ftpLoginRangeMs[0])}–${ms(d.ftpLoginRangeMs[1])})`,
      "-",
      "-",
    ],
    [
      `  ${c.sessions} logging in at once, ms`,
      `${ms(c.loginMs)} (${ms(c.loginRangeMs[0])}–${ms(c.loginRangeMs[1])})`,
      "-",
      "-",
    ],
  );
  const rounds = d.transfers[0]?.rounds ?? 0;
  table(
    "FTPS through pure-ftpd and s3fs against direct S3 from a process of its own (same local S3 server,\n" +
      `same run). Transfers and DELE: medians of ${rounds} paired rounds, order alternating; listings: ` +
      `${small.listRounds} and ${list.rounds};\n` +
      `${c.sessions} sessions: ${c.rounds} rounds. Ratio = ftpfleet ÷ direct (lowest–highest of the rounds); ` +
      "MB = 2^20 bytes",
    ["figure", "ftpfleet", "direct S3", "ratio"],
    rows,
  );
  console.log("\n  S3 requests of one FTP operation (first round, between the timestamps):");
  for (const t of d.transfers) {
    console.log(`    upload ${t.sizeMB} MB (STOR): ${describeRequests(t.upload.ftpS3Requests)}`);
    console.log(
      `    upload ${t.sizeMB} MB (lftp, + MFMT): ${describeRequests(t.uploadWithMtime.ftpS3Requests)}`,
    );
    console.log(`    download ${t.sizeMB} MB: ${describeRequests(t.download.ftpS3Requests)}`);
  }
  console.log(`    DELE ${del.sizeMB} MB: ${describeRequests(del.ftpS3Requests)}`);
  console.log(`    ${small.files} small files up: ${describeRequests(small.ftpUploadS3Requests)}`);
  console.log(`    LIST of ${small.files}: ${describeRequests(small.ftpListS3Requests)}`);
  console.log(`    LIST of ${list.entries}: ${describeRequests(list.ftpS3Requests)}`);
  console.log(
    `\n  LIST of ${list.entries}: ${list.ftpListed} lines; pure-ftpd's reply: "${list.ftpReply}"` +
      ` (ListObjects: ${list.directEntries} entries; the folder was filled in ${f1(list.populateMs / 1000)} s)`,
  );
  console.log(
    `  ${c.sessions} sessions: the instance was provisioned with MaxClientsPerIp ${c.maxClientsPerIp} (default 10) ` +
      "and PassivePorts 30000:30099 (the document's default;\n  the sandbox's default of 20 ports allows 10 sessions); " +
      `failed sessions: ${c.upload.failures} uploading, ${c.download.failures} downloading` +
      [...c.upload.failureMessages, ...c.download.failureMessages].map((m) => `\n    ${m}`).join(""),
  );
  console.log(
    `  Every FTP time is between two lftp timestamps, less one timestamp's cost (${f2(d.markCostMs)} ms); ` +
      `this section took ${f1(d.wallSeconds)} s`,
  );
}
