// `npm run bench`: each scenario runs ftpfleet beside the naive approach (or the direct path) in the
// same run, prints a table, and the last line is one JSON object with every figure.

import { auditDiffBench } from "./audit-diff";
import { auditRunBench } from "./audit-run";
import { dataPlaneBench } from "./data-plane";
import { printDataPlane, printProvisioning } from "./data-plane-report";
import { API_LATENCY_MS, FLEETS, ftpfleetBurst, INSTANCES_PER_FLEET, naiveBurst } from "./dns-burst";
import { healthBench } from "./health";
import { localScaleBench } from "./local-scale";
import { usersPropagationBench } from "./users-propagation";

type Row = [string, string | number, string | number];

function table(title: string, head: [string, string], rows: Row[]): void {
  console.log(`\n${title}\n`);
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`${"".padEnd(width)}  ${head[0].padStart(14)}  ${head[1].padStart(14)}`);
  for (const [name, a, b] of rows)
    console.log(`${name.padEnd(width)}  ${String(a).padStart(14)}  ${String(b).padStart(14)}`);
}

async function main() {
  const wallStart = performance.now();
  const events = FLEETS.length * INSTANCES_PER_FLEET;
  const ftpfleet = await ftpfleetBurst();
  const naive = await naiveBurst();
  const seconds = (r: { secondsUntilAllRecords: number; allRecordsExist: boolean }) =>
    r.allRecordsExist
      ? r.secondsUntilAllRecords.toFixed(1)
      : `never (${r.secondsUntilAllRecords.toFixed(1)})`;
  table(
    `DNS burst: ${events} launch events at once (${FLEETS.length} fleets × ${INSTANCES_PER_FLEET}, the most one name can hold),\n` +
      `Route53 throttled at 5 requests/s for the account, every AWS call taking ${API_LATENCY_MS} ms (simulated time)`,
    ["ftpfleet", "naive"],
    [
      ["route53 calls", ftpfleet.route53Calls, naive.route53Calls],
      ["throttled responses (retried inside)", ftpfleet.throttledResponses, naive.throttledResponses],
      [
        "throttling errors surfaced to callers",
        ftpfleet.throttlingErrorsSurfaced,
        naive.throttlingErrorsSurfaced,
      ],
      ["records missing at the end", ftpfleet.recordsMissing, naive.recordsMissing],
      ["simulated s until all records exist", seconds(ftpfleet), seconds(naive)],
    ],
  );

  const dataPlane = await dataPlaneBench();
  if (dataPlane.skipped !== undefined) console.log(`\nData-plane bench skipped: ${dataPlane.skipped}`);
  else {
    printProvisioning(dataPlane.provision);
    printDataPlane(dataPlane.dataPlane);
  }

  const scale = await localScaleBench(4);
  if (scale.skipped !== undefined) console.log(`\nLocal scale bench skipped: ${scale.skipped}`);
  else
    console.log(
      `\nLocal mode: scale 0 → 1, the first instance (compiling both daemons) serving and in DNS after ` +
        `${scale.firstInstanceSeconds} s;\nthen scale ${scale.from} → ${scale.instances} with the artifacts cached: ` +
        `all serving and in DNS after ${scale.secondsUntilServing} s`,
    );

  const users = await usersPropagationBench();
  if (users.skipped !== undefined) console.log(`\nUsers propagation bench skipped: ${users.skipped}`);
  else {
    console.log(
      "\nUsers propagation: spawning `ftpfleet users add` (the real CLI) until the new user logs in on\n" +
        "every one of N local instances; default rate controls against one instance at a time\n" +
        `(--max-concurrency 1); medians of ${users.rows[0]?.samples ?? 0} samples each, seconds\n`,
    );
    const head = ["N", "ftpfleet s", "one-at-a-time s", "ratio", "manifest written s"];
    console.log(head.map((h) => h.padStart(20)).join(""));
    for (const row of users.rows)
      console.log(
        [row.instances, row.ftpfleetSeconds, row.oneAtATimeSeconds, row.ratio, row.writtenSeconds]
          .map((v) => String(v).padStart(20))
          .join(""),
      );
    console.log(
      `\n(the CLI's own start-up, \`ftpfleet users list\` wall time: ${users.cliStartupSeconds} s, is part of every\n` +
        `figure; "manifest written" is when the CLI starts applying; the scenario took ${users.wallSeconds} s)`,
    );
  }

  // Issue 9's diff engine: an S3 listing against an instance's listing, streaming beside a naive
  // pair of Maps, each size in a fresh process.
  const audit = await auditDiffBench();
  console.log(
    `\nAudit diff: S3 listing against an instance listing (synthetic; ${Object.values(audit.planted).reduce((a, b) => a + b, 0)} planted differences)\n`,
  );
  console.log(
    ["objects", "streaming ms", "streaming MB", "naive ms", "naive MB", "correct"]
      .map((h) => h.padStart(14))
      .join(""),
  );
  for (const row of audit.rows)
    console.log(
      [
        row.objects,
        row.streaming.ms,
        row.streaming.peakRssMB,
        row.naive.ms,
        row.naive.peakRssMB,
        row.streaming.correct,
      ]
        .map((v) => String(v).padStart(14))
        .join(""),
    );
  console.log(
    `(aim: ${audit.target.objects} objects under ${audit.target.ms} ms and ${audit.target.peakRssMB} MB: ${audit.meetsTarget ? "met" : "NOT met"})`,
  );

  // Issue 9's audit on real instances: S3 requests per run as the bucket grows, and detection.
  const auditRun = await auditRunBench();
  if (auditRun.skipped !== undefined) console.log(`\nAudit run bench skipped: ${auditRun.skipped}`);
  else {
    console.log(
      `\nAudit runs on ${auditRun.instances} real instances (report only): every S3 request the server received during one run,\n` +
        `the sweep in slices of ${auditRun.sliceKeys} objects beside a whole-bucket sweep every run\n`,
    );
    console.log(
      ["objects", "slice requests", "slice s", "whole requests", "whole s"]
        .map((h) => h.padStart(16))
        .join(""),
    );
    for (const row of auditRun.rows)
      console.log(
        [row.objects, row.slice.requests, row.slice.seconds, row.whole.requests, row.whole.seconds]
          .map((v) => String(v).padStart(16))
          .join(""),
      );
    console.log(
      `one run taking 1,000 recent changes besides its slice: ${auditRun.recent.requests} requests, ${auditRun.recent.seconds} s`,
    );
    const d = auditRun.detection;
    console.log(
      `\nDetection: a file listed by an instance mounted with s3fs's default cache options grows in S3;\n` +
        `the canary names the instance ${d.canarySeconds} s after the overwrite (one run, started at once);\n` +
        `the sweep alone names the file after ${d.sweepRuns} runs (${d.sweepSeconds} s of runs, plus ${d.sweepRuns} schedule periods).`,
    );
  }

  // Issue 10's deep health: three failures at once in local mode, beside the port-21 greeting check.
  const health = await healthBench();
  if (health.skipped !== undefined) console.log(`\nDeep health bench skipped: ${health.skipped}`);
  else {
    console.log(
      "\nDeep health: 3 of 4 local instances broken at once; seconds from the failure until Route53 (simulated,\n" +
        "HTTP checks every 10 s) no longer answers the instance, until a replacement serves, and until the\n" +
        `naive check (an FTP greeting on port 21) notices ("never": still passing while the instance existed, ≤ ${health.watchSeconds} s)\n`,
    );
    const show = (v: number | null) => (v === null ? "never" : String(v));
    console.log(
      ["failure", "out of DNS s", "replaced s", "greeting check s"].map((h) => h.padStart(26)).join(""),
    );
    for (const row of health.failures)
      console.log(
        [
          row.failure,
          show(row.secondsUntilOutOfDns),
          show(row.secondsUntilReplacementServing),
          show(row.naiveSecondsUntilNoticed),
        ]
          .map((v) => v.padStart(26))
          .join(""),
      );
  }

  const wallSeconds = Math.round((performance.now() - wallStart) / 10) / 100;
  console.log(`\n(real time for the whole bench: ${wallSeconds} s)`);
  console.log(
    JSON.stringify({
      bench: "ftpfleet",
      dnsBurst: { events, ftpfleet, naive },
      provision: dataPlane.skipped === undefined ? dataPlane.provision : dataPlane,
      dataPlane: dataPlane.skipped === undefined ? dataPlane.dataPlane : dataPlane,
      localScale: scale,
      usersPropagation: users,
      auditDiff: audit,
      auditRun,
      health,
      wallSeconds,
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
