import type { WorkerSizing } from './schema';

/** Numbers derived from the worker's latency goal, used by scaling and alarms alike. */
export interface CapacityPlan {
  /**
   * Target visible messages per running worker. A worker runs one task at a time, so a backlog of
   * N per worker is drained in N × averageTaskSeconds: holding N = latency ÷ task time keeps the
   * newest message's wait within the acceptable latency.
   */
  readonly backlogPerTaskTarget: number;
  /**
   * Oldest-message age that means the fleet is not keeping up: one full latency budget plus one
   * average task (the task ahead of it), plus the time to add capacity from zero.
   */
  readonly queueAgeAlarmSeconds: number;
  /** p99 task duration that means the tail has blown up: five average tasks. */
  readonly p99TaskSecondsAlarm: number;
  /** Tasks per minute the fleet completes at maximum capacity. */
  readonly maxThroughputPerMinute: number;
  /**
   * The worker scaling's drain time: the release and steady policies keep B × averageTaskSeconds ÷
   * this many workers for a backlog B on top of the arrivals' need. Long on purpose: a spike's
   * backlog drains on the confirm's headroom, inside the 10 % overshoot budget.
   */
  readonly surgeDrainSeconds: number;
}

/** Time for a new Fargate task to pull, start and pass its health check (measured ~60-90 s). */
export const SCALE_OUT_SECONDS = 120;

export function deriveCapacityPlan(worker: WorkerSizing): CapacityPlan {
  const backlogPerTaskTarget = Math.max(1, Math.floor(worker.acceptableLatencySeconds / worker.averageTaskSeconds));
  return {
    backlogPerTaskTarget,
    queueAgeAlarmSeconds: worker.acceptableLatencySeconds + worker.averageTaskSeconds + SCALE_OUT_SECONDS,
    p99TaskSecondsAlarm: worker.averageTaskSeconds * 5,
    maxThroughputPerMinute: (worker.maxTasks * 60) / worker.averageTaskSeconds,
    surgeDrainSeconds: worker.acceptableLatencySeconds * 10,
  };
}
