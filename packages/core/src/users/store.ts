import { ManifestChangedError } from "../errors";
import type { Clock, Logger, UsersStore } from "../ports";
import { retry } from "../retry";
import { applyUserEdit, EMPTY_MANIFEST, type UserEdit } from "./edits";
import type { UsersManifest } from "./manifest";

export interface EditOutcome {
  /** The manifest as stored after the edit (or as found, when nothing changed). */
  manifest: UsersManifest;
  changed: boolean;
  /** How many times another writer got there first and the edit was redone on its result. */
  conflicts: number;
}

/** Read, edit, write conditionally; when another writer got there first, read their result and
 * make the edit again (it may no longer make sense: then EditRefusedError, nothing written).
 * `dryRun`: everything but the write. */
export async function editUsers(
  store: UsersStore,
  edit: UserEdit,
  context: { clock: Clock; log: Logger; dryRun?: boolean },
): Promise<EditOutcome> {
  let conflicts = 0;
  return retry(
    async () => {
      const stored = await store.read();
      const current = stored?.manifest ?? EMPTY_MANIFEST;
      const next = applyUserEdit(current, edit);
      if (next === "unchanged") return { manifest: current, changed: false, conflicts };
      if (!context.dryRun) await store.write(next, stored?.etag);
      context.log.info("users.edited", { edit: edit.kind, user: edit.name, revision: next.revision });
      return { manifest: next, changed: true, conflicts };
    },
    {
      clock: context.clock,
      isRetryable: (error) => error instanceof ManifestChangedError,
      maxAttempts: 8,
      baseDelayMs: 50,
      maxDelayMs: 1_000,
      onRetry: ({ attempt }) => {
        conflicts = attempt;
        context.log.info("users.conflict", { edit: edit.kind, user: edit.name, attempt });
      },
    },
  );
}
