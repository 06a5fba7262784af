import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { CheckpointLog } from './checkpoint-log';
import type { ConsumerEmitter, HandBackReason } from './consumer-events';
import type { LeaseHandle, LeaseManager } from './lease';
import type { QueueMessages, Received } from './queue-message';
import type { TaskStore } from '../shared/task-store';
import { FIRST_SENT_ATTRIBUTE } from '../shared/task-message';

/** Message attribute counting a task's hand-backs for weather, so its backoff grows across fresh copies. */
export const WEATHER_HANDBACKS_ATTRIBUTE = 'openclaw-weather-handbacks';

/** Hand-backs for weather this message has been through already. */
export function weatherHandBacks(received: Received): number {
  const n = Number(received.message.MessageAttributes?.[WEATHER_HANDBACKS_ATTRIBUTE]?.StringValue ?? 0);
  return Number.isInteger(n) && n > 0 ? n : 0;
}

export interface HandBackOptions {
  readonly messages: QueueMessages;
  readonly leases: LeaseManager;
  readonly log: CheckpointLog;
  readonly store: TaskStore;
  readonly logger: Logger;
  readonly events: ConsumerEmitter;
  /** The DLQ redrive's maxReceiveCount. */
  readonly maxReceiveCount: number;
  /** How long after its first send a message without a row is handed back rather than dropped (TASK_ROW_WAIT_MS). */
  readonly rowWaitMs: number;
  /** Sends the completion webhook of a task just recorded FAILED. */
  readonly notify: (taskId: string, logger: Logger) => Promise<void>;
}

/**
 * What happens to a message whose task did not finish: handed back uncounted (not the task's
 * fault), or counted toward the DLQ with backoff (the task's own failure), recording FAILED on the
 * last receive the redrive policy allows so the status never stays RUNNING.
 */
export class HandBacks {
  constructor(private readonly o: HandBackOptions) {}

  /**
   * Give a message back without it counting toward the DLQ. Normally visibility `delaySeconds`;
   * when this receive was the last one the redrive policy allows, a fresh copy is sent (receive
   * count 0) and this one deleted, so a deploy or an outage never pushes good work into the DLQ.
   */
  async handBack(received: Received, taskId: string, reason: HandBackReason, delaySeconds: number): Promise<void> {
    const requeue = received.receiveCount >= this.o.maxReceiveCount;
    try {
      // A fresh copy keeps the first send time, so the wait for a missing row stays bounded across copies.
      const firstSent = received.firstSentAt !== undefined ? { [FIRST_SENT_ATTRIBUTE]: { DataType: 'String', StringValue: String(received.firstSentAt) } } : {};
      if (requeue) await this.o.messages.replace(received, delaySeconds, firstSent);
      else await this.o.messages.setVisibility(received, delaySeconds);
    } catch (err) {
      // The message reappears after its visibility timeout anyway; nothing is lost.
      this.o.logger.warn('task.hand_back_failed', { taskId, error: errorMessage(err) });
    }
    this.o.logger.info('task.handed_back', { taskId, reason, requeued: requeue, delaySeconds });
    this.o.events.emit('task_handed_back', { taskId, reason, requeued: requeue, delaySeconds });
  }

  /**
   * A message whose task has no row: the intake writes the row and sends the message at once, so
   * a young message may simply be early. Hand it back (1, 2, 4 … s, within the wait) and return
   * true while it is younger than `rowWaitMs`; false once it is older (the task was never
   * accepted: the caller drops the message).
   */
  async awaitRow(received: Received, taskId: string, logger: Logger): Promise<boolean> {
    const ageMs = Date.now() - (received.firstSentAt ?? received.receivedAt);
    if (ageMs >= this.o.rowWaitMs) return false;
    const delaySeconds = Math.max(1, Math.min(2 ** Math.max(0, received.receiveCount - 1), Math.ceil((this.o.rowWaitMs - ageMs) / 1000)));
    logger.info('task.row_pending', { ageMs, delaySeconds });
    await this.handBack(received, taskId, 'row_pending', delaySeconds);
    return true;
  }

  /**
   * Give back a task we hold the lease on, for a reason that is not its fault (draining, an open
   * circuit, provider weather), spending nothing toward the DLQ: the attempt counted when the
   * lease was taken is refunded on the row, the lease released, and the message replaced by a fresh
   * copy (SQS's receive count starts over) visible after `delaySeconds`.
   */
  async handBackUncounted(received: Received, lease: LeaseHandle, reason: HandBackReason, delaySeconds: number): Promise<void> {
    const { taskId } = lease;
    await this.o.store.refundAttempt(taskId).catch((err: unknown) => this.o.logger.warn('task.refund_failed', { taskId, error: errorMessage(err) }));
    await this.o.leases.release(lease).catch(() => false);
    const handBacks = weatherHandBacks(received) + (reason === 'provider_weather' ? 1 : 0);
    try {
      await this.o.messages.replace(
        received,
        delaySeconds,
        handBacks > 0 ? { [WEATHER_HANDBACKS_ATTRIBUTE]: { DataType: 'Number', StringValue: String(handBacks) } } : {},
      );
    } catch (err) {
      // The message reappears after its visibility timeout (one receive spent); nothing is lost.
      this.o.logger.warn('task.hand_back_failed', { taskId, error: errorMessage(err) });
    }
    this.o.logger.info('task.handed_back', { taskId, reason, requeued: true, delaySeconds });
    this.o.events.emit('task_handed_back', { taskId, reason, requeued: true, delaySeconds });
  }

  /**
   * The task failed for its own reasons: the receive stays spent, the message comes back after a
   * backoff, and on the last receive allowed (by SQS's count, or by the row's `attempts`, which a
   * fresh copy does not reset) FAILED is recorded so the status does not stay RUNNING.
   */
  async countFailure(error: Error, received: Received, attempts: number, lease: LeaseHandle, logger: Logger): Promise<void> {
    const { taskId } = lease;
    const final = Math.max(received.receiveCount, attempts) >= this.o.maxReceiveCount;
    logger.error('task.error', { error: error.message, final });
    this.o.events.emit('task_failed', { taskId, receiveCount: received.receiveCount, error, final });
    if (final) {
      // Last receive before the DLQ: record why under our lease, so the status does not stay RUNNING.
      await this.o.log
        .finish(lease, {
          status: 'FAILED',
          fields: { error: { type: 'poison', message: `failed ${Math.max(received.receiveCount, attempts)} times; last error: ${error.message.slice(0, 1000)}` } },
        })
        .catch((e: unknown) => logger.warn('task.fail_record_failed', { error: errorMessage(e) }));
      await this.o.notify(taskId, logger);
    }
    await this.o.leases.release(lease).catch(() => false);
    await this.o.messages.setVisibility(received, final ? 0 : backoffSeconds(received.receiveCount)).catch(() => undefined);
  }
}

/** Exponential backoff with full jitter for a failed task's redelivery, in whole seconds. */
export function backoffSeconds(receiveCount: number, random: () => number = Math.random): number {
  const ceiling = Math.min(300, 2 ** Math.min(receiveCount, 8));
  return Math.max(1, Math.round(random() * ceiling));
}
