import type { SQSClient } from '@aws-sdk/client-sqs';
import type { AgentVersion } from '../shared/agent-version';
import { queueTask, type ApprovalEntry, type ApprovalStore } from '../shared/approvals';
import type { QueueUrls } from '../shared/config';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { noopMetrics, type Metrics } from '../shared/metrics';
import { METRICS } from '../shared/metrics-contract';
import { sleep } from './poll-gate';
import { ConsumerConfigError } from './worker-errors';

export interface ApprovalSweeperOptions {
  readonly approvals: ApprovalStore;
  readonly sqs: SQSClient;
  /** This worker's pool: it sweeps only its pool's approvals and queues them on its own lanes. */
  readonly pool: AgentVersion;
  readonly queues: QueueUrls;
  readonly logger: Logger;
  /** Where ApprovalsPending and ApprovalOldestPendingSeconds go (bound to Stage and Service). @default noopMetrics */
  readonly metrics?: Metrics;
  /** Pause between sweeps, jittered ±20% so a fleet's sweeps spread out. @default 60_000 */
  readonly intervalMs?: number;
  /**
   * How long a decided entry may wait for its decider to queue the task before the sweep queues it
   * (the decider failed between its decision and SendMessage). @default 30_000
   */
  readonly requeueAfterMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default Math.random */
  readonly random?: () => number;
}

export interface ApprovalSweepResult {
  /** Approvals still waiting for a person. */
  readonly pending: number;
  /** Seconds the oldest of them has waited (0 when none). */
  readonly oldestPendingSeconds: number;
  /** Tasks whose approval this sweep recorded as expired (denied) and queued again. */
  readonly expired: readonly string[];
  /** Decided tasks whose decider had not queued them, queued by this sweep. */
  readonly requeued: readonly string[];
}

/**
 * A slow loop inside every worker, like the dead-letter sweeper: it reads its pool's approval
 * registry (one Query, shared/approvals.ts) and
 * - records an approval that nobody decided before `expiresAt` as a denial (`reason: expired`) and
 *   queues the task, so the model hears "denied" and the task goes on; the write is conditional,
 *   so of all the workers sweeping at once exactly one wins;
 * - queues a decided task whose decider (the intake) died before SendMessage;
 * - publishes how many approvals wait and how old the oldest is.
 */
export class ApprovalSweeper {
  private readonly intervalMs: number;
  private readonly requeueAfterMs: number;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly metrics: Metrics;
  private controller = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly o: ApprovalSweeperOptions) {
    this.intervalMs = o.intervalMs ?? 60_000;
    this.requeueAfterMs = o.requeueAfterMs ?? 30_000;
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
    this.metrics = o.metrics ?? noopMetrics;
    if (!(this.intervalMs >= 100)) {
      throw new ConsumerConfigError(`approval sweep intervalMs=${this.intervalMs} must be at least 100`, { intervalMs: this.intervalMs });
    }
  }

  /** Sweep now, then every `intervalMs` until `stop()`. Errors are logged; the worker never stops for them. */
  start(): void {
    if (this.running !== undefined) return;
    this.controller = new AbortController();
    const signal = this.controller.signal;
    this.o.logger.info('approval.sweeper_started', { intervalMs: this.intervalMs, pool: this.o.pool });
    this.running = (async () => {
      while (!signal.aborted) {
        try {
          await this.sweep();
        } catch (err) {
          if (signal.aborted) break;
          this.o.logger.warn('approval.sweep_failed', { error: errorMessage(err) });
        }
        await sleep(this.intervalMs * (0.8 + 0.4 * this.random()), signal);
      }
    })();
  }

  async stop(): Promise<void> {
    this.controller.abort(new Error('approval sweeper stopping'));
    await this.running;
    this.running = undefined;
  }

  /** One pass over the pool's registry. */
  async sweep(): Promise<ApprovalSweepResult> {
    const now = this.now();
    const expired: string[] = [];
    const requeued: string[] = [];
    let pending = 0;
    let oldestMs = 0;
    for (const entry of await this.o.approvals.entries(this.o.pool)) {
      const logger = this.o.logger.child({ taskId: entry.taskId, approvalId: entry.approvalId });
      if (entry.decidedAt !== undefined) {
        if (now - Date.parse(entry.decidedAt) >= this.requeueAfterMs && (await this.queue(entry, logger))) {
          logger.warn('approval.requeued', { decidedAt: entry.decidedAt });
          requeued.push(entry.taskId);
        }
        continue;
      }
      if (now < Date.parse(entry.expiresAt)) {
        pending += 1;
        oldestMs = Math.max(oldestMs, now - Date.parse(entry.requestedAt));
        continue;
      }
      const outcome = await this.o.approvals.expire(entry);
      if (outcome.kind === 'expired') {
        logger.info('approval.expired', { expiresAt: entry.expiresAt });
        this.metrics.emit([{ name: METRICS.approvalsExpired, value: 1 }], {}, { taskId: entry.taskId, approvalId: entry.approvalId });
        if (await this.queue(entry, logger)) expired.push(entry.taskId);
      } else if (outcome.kind === 'stale') {
        // The row moved on (cancelled, say) without its entry: nothing to queue.
        await this.o.approvals.forget(entry, true);
      }
      // `lost`: a person or another worker's sweep decided first, and queues it.
    }
    const oldestPendingSeconds = Math.round(oldestMs / 1000);
    this.metrics.emit(
      [
        { name: METRICS.approvalsPending, value: pending },
        { name: METRICS.approvalOldestPendingSeconds, value: oldestPendingSeconds, unit: 'Seconds' },
      ],
      {},
      { pool: this.o.pool },
    );
    if (expired.length + requeued.length > 0) this.o.logger.info('approval.swept', { pending, oldestPendingSeconds, expired: expired.length, requeued: requeued.length });
    return { pending, oldestPendingSeconds, expired, requeued };
  }

  /** Queue the task on this pool's lane for its priority, then forget the entry; false when the send failed (the next sweep retries). */
  private async queue(entry: ApprovalEntry, logger: Logger): Promise<boolean> {
    try {
      await queueTask(this.o.sqs, this.o.queues[entry.priority], entry.taskId);
    } catch (err) {
      logger.warn('approval.enqueue_failed', { error: errorMessage(err) });
      return false;
    }
    await this.o.approvals.forget(entry);
    return true;
  }
}
