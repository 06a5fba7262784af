import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { FencedError, OpenClawError, errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { QueueUrls } from '../shared/config';
import type { TaskMessage } from '../shared/task-model';
import type { TaskStore } from '../shared/task-store';
import type { AgentLoop } from './agent-loop';
import type { CheckpointLog } from './checkpoint-log';
import type { LeaseHandle, LeaseManager } from './lease';

export interface ConsumerOptions {
  readonly sqs: SQSClient;
  readonly queues: QueueUrls;
  readonly store: TaskStore;
  readonly leases: LeaseManager;
  readonly log: CheckpointLog;
  readonly loop: AgentLoop;
  readonly logger: Logger;
  readonly workerId: string;
  /** Must match the queue's visibility timeout. @default 300 */
  readonly visibilityTimeoutSeconds?: number;
  /** How often the message visibility and the lease are extended. @default visibility / 3, capped at leaseMs / 4 */
  readonly heartbeatMs?: number;
  /** Long-poll wait on the normal queue. @default 20 */
  readonly waitTimeSeconds?: number;
  /** The DLQ redrive's maxReceiveCount: on the last receive a failing task is marked FAILED. @default 5 */
  readonly maxReceiveCount?: number;
  /** High-priority messages taken in a row before one normal message gets a turn. @default 4 */
  readonly highBurst?: number;
}

export class ConsumerConfigError extends OpenClawError {}

interface Received {
  readonly message: Message;
  readonly queueUrl: string;
}

/**
 * One task at a time: receive (high queue first, without starving normal), lease, run the agent
 * loop with heartbeats, write the outcome under the lease, delete the message. `stop()` aborts the
 * long poll and the running task's next step, releases the lease and makes the message visible.
 */
export class Consumer {
  private readonly visibility: number;
  private readonly heartbeatMs: number;
  private readonly wait: number;
  private readonly maxReceiveCount: number;
  private readonly highBurst: number;
  private stopController = new AbortController();
  private running: Promise<void> | undefined;
  private highStreak = 0;
  /** Last time the poll loop made progress; the health check reads it. */
  lastTick = Date.now();

  constructor(private readonly o: ConsumerOptions) {
    this.visibility = o.visibilityTimeoutSeconds ?? 300;
    this.heartbeatMs = o.heartbeatMs ?? Math.min((this.visibility * 1000) / 3, o.leases.leaseMs / 4);
    this.wait = o.waitTimeSeconds ?? 20;
    this.maxReceiveCount = o.maxReceiveCount ?? 5;
    this.highBurst = o.highBurst ?? 4;
    if (this.heartbeatMs * 2 > this.visibility * 1000) {
      throw new ConsumerConfigError(
        'config_error',
        `heartbeatMs=${this.heartbeatMs} must be at most half the visibility timeout (${this.visibility}s) so a message never becomes visible while its task runs; lower heartbeatMs or raise the queue's visibility timeout`,
      );
    }
    if (this.heartbeatMs * 2 > o.leases.leaseMs) {
      throw new ConsumerConfigError(
        'config_error',
        `heartbeatMs=${this.heartbeatMs} must be at most half the lease (${o.leases.leaseMs}ms); lower heartbeatMs or raise leaseMs`,
      );
    }
  }

  start(): void {
    if (this.running !== undefined) return;
    this.stopController = new AbortController();
    this.running = this.pollLoop().finally(() => {
      this.running = undefined;
    });
  }

  /** Stop receiving, abort the current task's next step, and wait for it to hand back, within `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    this.stopController.abort(new Error('consumer stopping'));
    const running = this.running;
    if (running === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([running, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    if (timer !== undefined) clearTimeout(timer);
  }

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  private async pollLoop(): Promise<void> {
    const signal = this.stopController.signal;
    while (!signal.aborted) {
      this.lastTick = Date.now();
      try {
        const received = await this.receive(signal);
        if (received === undefined) continue;
        await this.handle(received, signal);
      } catch (err) {
        if (signal.aborted) break;
        this.o.logger.error('consumer.error', { error: errorMessage(err) });
        await sleep(1000, signal);
      }
    }
  }

  private async receiveFrom(queueUrl: string, waitSeconds: number, signal: AbortSignal): Promise<Received | undefined> {
    const out = await this.o.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: waitSeconds,
        VisibilityTimeout: this.visibility,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: signal },
    );
    const message = out.Messages?.[0];
    return message === undefined ? undefined : { message, queueUrl };
  }

  private async receive(signal: AbortSignal): Promise<Received | undefined> {
    const { high, normal } = this.o.queues;
    // High first, but after a burst give normal one turn so it is never starved.
    const order = this.highStreak >= this.highBurst ? [normal, high] : [high, normal];
    const first = await this.receiveFrom(order[0] as string, 0, signal);
    if (first !== undefined) return this.track(first);
    const second = await this.receiveFrom(order[1] as string, 0, signal);
    if (second !== undefined) return this.track(second);
    // Both empty: long-poll the high queue briefly, then normal, so an idle worker costs few calls.
    const waited = await this.receiveFrom(high, Math.min(this.wait, 1), signal);
    if (waited !== undefined) return this.track(waited);
    const waitedNormal = await this.receiveFrom(normal, this.wait, signal);
    return waitedNormal === undefined ? undefined : this.track(waitedNormal);
  }

  private track(r: Received): Received {
    this.highStreak = r.queueUrl === this.o.queues.high ? this.highStreak + 1 : 0;
    return r;
  }

  private async handle({ message, queueUrl }: Received, stopSignal: AbortSignal): Promise<void> {
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
    let body: TaskMessage;
    try {
      body = JSON.parse(message.Body ?? '') as TaskMessage;
      if (typeof body.taskId !== 'string' || body.taskId.length === 0) throw new Error('missing taskId');
    } catch (err) {
      // A malformed message can never succeed: leave it for the DLQ by not deleting it.
      this.o.logger.error('message.malformed', { messageId: message.MessageId, error: errorMessage(err) });
      return;
    }
    const logger = this.o.logger.child({ taskId: body.taskId, receiveCount });
    const task = await this.o.store.markRunning(body.taskId);
    if (task === undefined) {
      logger.info('task.duplicate_or_missing');
      await this.delete(queueUrl, message);
      return;
    }
    const acquired = await this.o.leases.acquire(task.taskId, this.o.workerId);
    if (acquired === undefined) {
      // Another worker holds a live lease (a duplicate delivery): let it finish; this copy goes back.
      logger.info('task.leased_elsewhere');
      await this.setVisibility(queueUrl, message, Math.min(60, this.visibility));
      return;
    }
    let lease: LeaseHandle = acquired;
    logger.info('task.started', { fence: lease.fence });

    const taskController = new AbortController();
    const onStop = () => taskController.abort(stopSignal.reason);
    stopSignal.addEventListener('abort', onStop, { once: true });
    const heartbeat = setInterval(() => {
      void (async () => {
        try {
          lease = await this.o.leases.renew(lease);
          await this.setVisibility(queueUrl, message, this.visibility);
        } catch (err) {
          logger.warn('heartbeat.failed', { error: errorMessage(err) });
          // A heartbeat that fails must stop the work, not just report it.
          taskController.abort(err);
        }
      })();
    }, this.heartbeatMs);

    try {
      const outcome = await this.o.loop.run({
        task,
        lease: () => lease,
        signal: taskController.signal,
        isCancelled: async () => (await this.o.store.get(task.taskId))?.cancelRequested === true,
      });
      clearInterval(heartbeat);
      await this.o.log.finish(lease, outcome);
      logger.info('task.finished', { status: outcome.status });
      await this.delete(queueUrl, message);
      await this.o.leases.release(lease);
    } catch (err) {
      clearInterval(heartbeat);
      if (err instanceof FencedError) {
        logger.warn('task.fenced', { error: err.message });
        return;
      }
      if (stopSignal.aborted) {
        // Draining: hand the task back at once; the next worker resumes from the checkpoints.
        await this.o.leases.release(lease).catch(() => false);
        await this.setVisibility(queueUrl, message, 0).catch(() => undefined);
        logger.info('task.handed_back');
        return;
      }
      const reason = errorMessage(err);
      logger.error('task.error', { error: reason });
      await this.o.leases.release(lease).catch(() => false);
      if (receiveCount >= this.maxReceiveCount) {
        // Last chance before the DLQ: record why, so the status is not stuck at RUNNING.
        await this.o.store.finishUnfenced(task.taskId, 'FAILED', { error: { type: 'poison', message: `failed ${receiveCount} times; last error: ${reason}` } });
      }
      await this.setVisibility(queueUrl, message, backoffSeconds(receiveCount)).catch(() => undefined);
    } finally {
      stopSignal.removeEventListener('abort', onStop);
    }
  }

  private async delete(queueUrl: string, message: Message): Promise<void> {
    await this.o.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
  }

  private async setVisibility(queueUrl: string, message: Message, seconds: number): Promise<void> {
    await this.o.sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: seconds }),
    );
  }
}

/** Exponential backoff with full jitter for a failed task's redelivery, in whole seconds. */
export function backoffSeconds(receiveCount: number, random: () => number = Math.random): number {
  const ceiling = Math.min(300, 2 ** Math.min(receiveCount, 8));
  return Math.max(1, Math.round(random() * ceiling));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
