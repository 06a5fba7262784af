/**
 * How long a task's items (META, STEP#, INTENT#, LOCK) live after their last write. The tasks
 * table's TTL attribute (lib/constructs/task-store.ts TTL_ATTRIBUTE) deletes them afterwards, so
 * storage stays bounded. TTL deletion is lazy (it can lag by days): nothing may rely on it for
 * correctness, only for cleanup.
 */
export const TASK_TTL_ATTRIBUTE = 'ttl';

/** @default of every store's `retentionDays` and of TASK_RETENTION_DAYS. */
export const DEFAULT_TASK_RETENTION_DAYS = 30;

const DAY_SECONDS = 86_400;

/** The `ttl` value (epoch seconds) of an item written at `nowMs` that should live `retentionDays`. */
export function taskExpiry(nowMs: number, retentionDays: number): number {
  return Math.ceil(nowMs / 1000) + retentionDays * DAY_SECONDS;
}
