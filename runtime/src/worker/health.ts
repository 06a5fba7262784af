/**
 * What "healthy" means for a worker: the process answers (the event loop is responsive, or this
 * code would not run), and every slot is making progress. An idle slot's poll loop comes round
 * (a long poll or a pause lasts seconds); a busy slot's heartbeat keeps renewing its task's lease
 * and visibility, however long the task runs. A task of 10 minutes is normal; a heartbeat that
 * has not renewed for a whole lease is not.
 */

/** One consumer slot as the health check sees it. */
export type SlotProgress =
  | { readonly state: 'idle'; readonly tickAt: number }
  | { readonly state: 'busy'; readonly taskId: string; readonly renewedAt: number };

export interface HealthSnapshot {
  readonly running: boolean;
  readonly slots: readonly SlotProgress[];
}

export interface HealthLimits {
  /** An idle slot whose poll loop has not come round for this long is stuck. @default 120_000 */
  readonly idleStallMs?: number;
  /** A busy slot whose heartbeat has not renewed for this long has let its lease lapse (use the lease duration). */
  readonly busyStallMs: number;
}

export interface HealthVerdict {
  readonly healthy: boolean;
  readonly status: 'ok' | 'stalled' | 'stopped';
  /** Per stalled slot, what it is stuck on; empty when healthy. */
  readonly stalled: readonly string[];
}

/** Judge a consumer's snapshot at `now`. Pure, so the rule is tested without timers. */
export function judgeHealth(snapshot: HealthSnapshot, now: number, limits: HealthLimits): HealthVerdict {
  if (!snapshot.running) return { healthy: false, status: 'stopped', stalled: [] };
  const idleStallMs = limits.idleStallMs ?? 120_000;
  const stalled: string[] = [];
  snapshot.slots.forEach((slot, i) => {
    if (slot.state === 'idle') {
      const quiet = now - slot.tickAt;
      if (quiet > idleStallMs) stalled.push(`slot ${i}: poll loop quiet for ${quiet} ms (limit ${idleStallMs})`);
    } else {
      const quiet = now - slot.renewedAt;
      if (quiet > limits.busyStallMs) stalled.push(`slot ${i}: heartbeat of task ${slot.taskId} not renewed for ${quiet} ms (limit ${limits.busyStallMs})`);
    }
  });
  return stalled.length === 0 ? { healthy: true, status: 'ok', stalled } : { healthy: false, status: 'stalled', stalled };
}
