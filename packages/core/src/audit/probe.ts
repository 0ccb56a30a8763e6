// What the audit asks an instance and what the probe (documents/scripts/lib/audit-probe.py) answers.
// Both travel as objects under .ftpfleet/audit/runs/<run>/<phase>/: an answer is input to the control
// plane like any object of the bucket, so it is parsed, never trusted.
import { z } from "zod";
import { parseJsonOrProblem } from "../errors";
import { RESERVED_PREFIX } from "../users/manifest";
import type { InstanceEntry } from "./diff";

export const AUDIT_PREFIX = `${RESERVED_PREFIX}/audit/`;
/** The object every instance reads back through its mount, written twice per run (then grown). */
export const CANARY_KEY = `${AUDIT_PREFIX}canary`;
/** Where the sweep continues next run, and each instance's repair history. */
export const AUDIT_STATE_KEY = `${AUDIT_PREFIX}state.json`;
export const AUDIT_LATEST_KEY = `${AUDIT_PREFIX}latest.json`;
export const AUDIT_REPORTS_PREFIX = `${AUDIT_PREFIX}reports/`;
export const AUDIT_RUNS_PREFIX = `${AUDIT_PREFIX}runs/`;

export const requestKey = (runId: string, phase: string) =>
  `${AUDIT_RUNS_PREFIX}${runId}/${phase}/request.json`;
export const answerKey = (runId: string, phase: string, instanceId: string) =>
  `${AUDIT_RUNS_PREFIX}${runId}/${phase}/${instanceId}.json`;

export interface CanarySpec {
  key: string;
  size: number;
  sha256: string;
  /** Epoch ms: the probe looks no earlier (the safe options' caches have expired by then). */
  notBefore: number;
  waitMs: number;
}

export interface ProbeRequest {
  version: 1;
  runId: string;
  canary?: CanarySpec;
  stat?: string[];
  hashMaxBytes?: number;
  /** skip: a folder key not listed (the reserved prefix). */
  sweep?: { after: string; through: string | null; maxEntries: number; skip?: string };
}

const entryType = z.enum(["file", "dir", "link", "other"]);
const ms = z.number().int().min(0);

const canaryAnswer = z.object({
  ok: z.boolean(),
  seenAt: ms.optional(),
  reads: z.number().int().min(1),
  size: z.number().int().min(0).nullable(),
  sha256: z.string().nullable(),
  error: z.string().optional(),
  /** The size stat showed before the first read (null: stat failed). */
  statSize: z.number().int().min(0).nullable(),
  first: z.object({ size: z.number().int().min(0).nullable(), sha256: z.string().nullable() }),
});

const statAnswer = z.object({
  key: z.string(),
  type: z.enum(["file", "dir", "link", "other", "nothing", "error"]),
  size: z.number().int().min(0).optional(),
  mtime: z.number().int().optional(),
  md5: z.string().nullable().optional(),
  readSize: z.number().int().min(0).optional(),
  error: z.string().optional(),
});

const probeAnswerSchema = z.object({
  version: z.literal(1),
  instanceId: z.string(),
  runId: z.string().nullable(),
  startedAt: ms,
  finishedAt: ms,
  canary: canaryAnswer.optional(),
  stat: z.array(statAnswer).optional(),
  sweep: z
    .object({
      entries: z.array(
        z.object({
          path: z.string(),
          type: entryType,
          size: z.number().int().min(0),
          mtime: z.number().int(),
        }),
      ),
      errors: z.array(z.object({ key: z.string(), error: z.string() })),
      complete: z.boolean(),
    })
    .optional(),
});

export type ProbeAnswer = z.infer<typeof probeAnswerSchema>;
export type StatAnswer = z.infer<typeof statAnswer>;
export type CanaryAnswer = z.infer<typeof canaryAnswer>;

/** Parses an answer object; a problem is named (field and what is wrong), never thrown. */
export function parseProbeAnswer(
  body: string,
  expected: { instanceId: string; runId: string },
): ProbeAnswer | { problem: string } {
  const answer = parseJsonOrProblem(probeAnswerSchema, body, "answer");
  if ("problem" in answer) return answer;
  if (answer.instanceId !== expected.instanceId) return { problem: `instanceId: is ${answer.instanceId}` };
  if (answer.runId !== expected.runId) return { problem: `runId: is ${answer.runId}` };
  return answer;
}

/** The probe's sweep entries as the diff engine takes them. */
export function sweepEntries(answer: ProbeAnswer): InstanceEntry[] {
  return answer.sweep?.entries ?? [];
}
