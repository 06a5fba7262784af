import { FencedError, errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { LeaseHandle, LeaseManager } from './lease';
import { MAX_VISIBILITY_FROM_RECEIVE_S, type QueueMessages, type Received } from './queue-message';

export interface HeartbeatOptions {
  readonly leases: LeaseManager;
  readonly messages: QueueMessages;
  readonly received: Received;
  readonly lease: LeaseHandle;
  /** Period between renewals. */
  readonly periodMs: number;
  /** Visibility set on each beat (the queue's visibility timeout). */
  readonly visibilitySeconds: number;
  readonly logger: Logger;
  /** Called once when the lease is lost or about to lapse: the work must stop, not just be told. */
  readonly onLost: (err: FencedError, cause: unknown) => void;
  /** Called after each beat that renewed both the lease and the visibility (the health check's sign of progress). */
  readonly onRenewed?: (at: number) => void;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Keeps one task's lease and its message's visibility alive while the task runs: every
 * `periodMs`, a conditional renewal of the lease, then ChangeMessageVisibility (never past SQS's
 * 12 h from the receive). A lost lease, or a failing renewal that would let the lease lapse
 * before the next beat, stops the task through `onLost`.
 */
export class Heartbeat {
  private current: LeaseHandle;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private beating = true;
  private lostWith: FencedError | undefined;
  /** When the lease and visibility were last both renewed (or the task started); the health check reads it. */
  private renewedAt: number;
  private readonly now: () => number;

  constructor(private readonly o: HeartbeatOptions) {
    this.current = o.lease;
    this.now = o.now ?? Date.now;
    this.renewedAt = this.now();
    this.schedule();
  }

  /** The lease as last renewed; checkpoint writes are fenced on it. */
  get lease(): LeaseHandle {
    return this.current;
  }

  /** Set once the lease was lost: the reason the task stopped. */
  get lost(): FencedError | undefined {
    return this.lostWith;
  }

  get lastRenewedAt(): number {
    return this.renewedAt;
  }

  /** No more beats; settles once a beat already in flight has ended, so the lease can be released after it. */
  async stop(): Promise<void> {
    this.beating = false;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  private schedule(): void {
    if (!this.beating) return;
    this.timer = setTimeout(() => {
      this.inFlight = this.beat();
    }, this.o.periodMs);
  }

  private async beat(): Promise<void> {
    const { received, logger } = this.o;
    const taskId = this.current.taskId;
    try {
      this.current = await this.o.leases.renew(this.current);
      const left = MAX_VISIBILITY_FROM_RECEIVE_S - Math.floor((this.now() - received.receivedAt) / 1000);
      await this.o.messages.setVisibility(received, Math.max(0, Math.min(this.o.visibilitySeconds, left)));
      this.renewedAt = this.now();
      this.o.onRenewed?.(this.renewedAt);
    } catch (err) {
      if (!this.beating) return;
      // A lost lease, or one about to lapse before the next beat, must stop the work, not just be reported.
      if (err instanceof FencedError || this.current.expiresAt - this.now() < this.o.periodMs) {
        logger.warn('heartbeat.failed', { error: errorMessage(err), fence: this.current.fence });
        this.lostWith =
          err instanceof FencedError
            ? err
            : new FencedError(`Lease on task ${taskId} could not be renewed before it lapses`, { taskId, fence: this.current.fence }, { cause: err });
        this.beating = false;
        this.o.onLost(this.lostWith, err);
        return;
      }
      logger.warn('heartbeat.retry', { error: errorMessage(err) });
    }
    this.schedule();
  }
}
