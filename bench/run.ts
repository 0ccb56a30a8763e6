// `npm run bench`: each scenario runs ftpfleet and the naive approach in the same process, prints a
// table, and the last line is one JSON object with every figure.
import { API_LATENCY_MS, FLEETS, ftpfleetBurst, INSTANCES_PER_FLEET, naiveBurst } from "./dns-burst";

const EVENTS = FLEETS.length * INSTANCES_PER_FLEET;

async function main() {
  const wallStart = performance.now();
  const ftpfleet = await ftpfleetBurst();
  const naive = await naiveBurst();
  const rows: [string, string | number, string | number][] = [
    ["route53 calls", ftpfleet.route53Calls, naive.route53Calls],
    ["throttled responses (retried inside)", ftpfleet.throttledResponses, naive.throttledResponses],
    [
      "throttling errors surfaced to callers",
      ftpfleet.throttlingErrorsSurfaced,
      naive.throttlingErrorsSurfaced,
    ],
    ["records missing at the end", ftpfleet.recordsMissing, naive.recordsMissing],
    ["simulated s until all records exist", fmt(ftpfleet), fmt(naive)],
  ];
  console.log(
    `\nDNS burst: ${EVENTS} launch events at once (${FLEETS.length} fleets × ${INSTANCES_PER_FLEET}, the most one name can hold),` +
      `\nRoute53 throttled at 5 requests/s for the account, every AWS call taking ${API_LATENCY_MS} ms\n`,
  );
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`${"".padEnd(width)}  ${"ftpfleet".padStart(10)}  ${"naive".padStart(14)}`);
  for (const [name, a, b] of rows)
    console.log(`${name.padEnd(width)}  ${String(a).padStart(10)}  ${String(b).padStart(14)}`);
  const wallSeconds = Math.round((performance.now() - wallStart) / 10) / 100;
  console.log(`\n(real time for both runs: ${wallSeconds} s)`);
  console.log(JSON.stringify({ bench: "dns-burst", events: EVENTS, ftpfleet, naive, wallSeconds }));
}

function fmt(r: { secondsUntilAllRecords: number; allRecordsExist: boolean }): string {
  return r.allRecordsExist
    ? r.secondsUntilAllRecords.toFixed(1)
    : `never (${r.secondsUntilAllRecords.toFixed(1)})`;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
