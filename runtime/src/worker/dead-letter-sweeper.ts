import { ChangeMessageVisibilityCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterRows } from '../shared/dead-letter-rows';
import { errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { parseTaskMessage } from '../shared/task-message';
import { sleep } from './poll-gate';
import { ConsumerConfigError } from './worker-errors';

export interface DeadLetterSweeperOptions {
  readonly sqs: SQSClient;
  /** The lanes' dead-letter queue. */
  readonly queueUrl: string;
  readonly rows: DeadLetterRows;
  readonly logger: Logger;
  /** The lanes' redrive maxReceiveCount, named in the recorded reason. */
  readonly maxReceiveCount: number;
  /** Sends the FAILED task's completion webhook (runtime/src/shared/webhooks.ts). @default undefined (none) */
  readonly notifier?: { notify(taskId: string, signal?: AbortSignal): Promise<unknown> };
  /** Pause between sweeps, jittered ±20% so a fleet's sweepers spread out. @default 60_000 */
  readonly intervalMs?: number;
  /**
   * How long a swept message stays invisible: long enough that one sweep sees each message once,
   * short enough that a redrive finds it soon after. @default 30
   */
  readonly holdSeconds?: number;
  /** Messages looked at per sweep, so a flooded DLQ costs a bounded number of calls. @default 100 */
  readonly maxPerSweep?: number;
  /** Told about every task this sweeper failed (for metrics). @default none */
  readonly onDeadLettered?: (taskId: string) => void;
  /** @default Math.random */
  readonly random?: () => number;
}

export interface SweepResult {
  /** Tasks moved to FAILED (dead_lettered) by this sweep. */
  readonly failed: readonly string[];
  /** Messages whose task was already terminal (the worker recorded `poison`, or it finished). */
  readonly terminal: number;
  /** Messages whose task still has a live lease: looked at again once it could have lapsed. */
  readonly leased: number;
  /** Messages without a task ID, or for a task with no row. */
  readonly unknown: number;
}

/** Messages remembered as settled (by message ID: a redrive sends a new one), so later sweeps skip their DynamoDB reads. */
const SETTLED_MEMORY = 10_000;

/**
 * A slow second consumer on the dead-letter queue, run inside every worker process. A message
 * lands there without the worker's help when its process died on every receive (OOM, a crash in
 * the runtime); its row would otherwise stay RUNNING until its TTL. Each sweep records such tasks
 * as FAILED with `error.type = dead_lettered` and sends their webhooks. It never deletes: the
 * message stays in the DLQ for the operator (the DLQ depth alarm stays raised) and for
 * `npm run redrive` after a fix.
 */
export class DeadLetterSweeper {
  private readonly intervalMs: number;
  private readonly holdSeconds: number;
  private readonly maxPerSweep: number;
  private readonly random: () => number;
  private readonly settled = new Set<string>();
  private controller = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly o: DeadLetterSweeperOptions) {
    this.intervalMs = o.intervalMs ?? 60_000;
    this.holdSeconds = o.holdSeconds ?? 30;
    this.maxPerSweep = o.maxPerSweep ?? 100;
    this.random = o.random ?? Math.random;
    if (!(this.intervalMs >= 100)) {
      throw new ConsumerConfigError(`dead-letter sweep intervalMs=${this.intervalMs} must be at least 100`, { intervalMs: this.intervalMs });
    }
    if (!Number.isInteger(this.holdSeconds) || this.holdSeconds < 1 || this.holdSeconds > 43_200) {
      throw new ConsumerConfigError(`dead-letter holdSeconds=${this.holdSeconds} must be an integer from 1 to 43200 (the SQS visibility range)`, {
        holdSeconds: this.holdSeconds,
      });
    }
  }

  /** Sweep now, then every `intervalMs` until `stop()`. Errors are logged; the worker never stops for them. */
  start(): void {
    if (this.running !== undefined) return;
    this.controller = new AbortController();
    const signal = this.controller.signal;
    this.o.logger.info('dead_letter.sweeper_started', { intervalMs: this.intervalMs });
    this.running = (async () => {
      while (!signal.aborted) {
        try {
          await this.sweep(signal);
        } catch (err) {
          if (signal.aborted) break;
          this.o.logger.warn('dead_letter.sweep_failed', { error: errorMessage(err) });
        }
        await sleep(this.intervalMs * (0.8 + 0.4 * this.random()), signal);
      }
    })();
  }

  async stop(): Promise<void> {
    this.controller.abort(new Error('sweeper stopping'));
    await this.running;
    this.running = undefined;
  }

  /** One pass over what the DLQ shows now (at most `maxPerSweep` messages). */
  async sweep(signal: AbortSignal = new AbortController().signal): Promise<SweepResult> {
    const failed: string[] = [];
    let terminal = 0;
    let leased = 0;
    let unknown = 0;
    let seen = 0;
    while (seen < this.maxPerSweep && !signal.aborted) {
      const out = await this.o.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.o.queueUrl,
          MaxNumberOfMessages: Math.min(10, this.maxPerSweep - seen),
          WaitTimeSeconds: 0,
          // Held while this sweep lasts, so the same sweep does not see a message twice.
          VisibilityTimeout: this.holdSeconds,
        }),
        { abortSignal: signal },
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) break;
      seen += messages.length;
      for (const message of messages) {
        const outcome = await this.settle(message, signal);
        if (outcome.kind === 'failed') failed.push(outcome.taskId);
        else if (outcome.kind === 'terminal') terminal += 1;
        else if (outcome.kind === 'leased') leased += 1;
        else unknown += 1;
      }
    }
    if (failed.length + leased + unknown > 0) this.o.logger.info('dead_letter.swept', { failed: failed.length, terminal, leased, unknown });
    return { failed, terminal, leased, unknown };
  }

  private async settle(message: Message, signal: AbortSignal): Promise<{ kind: 'failed'; taskId: string } | { kind: 'terminal' | 'leased' | 'unknown' }> {
    const messageId = message.MessageId ?? '';
    const taskId = parseTaskMessage(message.Body)?.taskId;
    if (taskId === undefined) {
      if (!this.remember(messageId)) this.o.logger.error('dead_letter.malformed', { messageId });
      return { kind: 'unknown' };
    }
    if (this.settled.has(messageId)) return { kind: 'terminal' };
    const logger = this.o.logger.child({ taskId });
    const outcome = await this.o.rows.markDeadLettered(taskId, { maxReceiveCount: this.o.maxReceiveCount });
    switch (outcome.kind) {
      case 'missing':
        if (!this.remember(messageId)) logger.warn('dead_letter.task_missing', { messageId });
        return { kind: 'unknown' };
      case 'leased':
        // Look again just after the lease could have lapsed rather than on the next hold.
        await this.o.sqs
          .send(
            new ChangeMessageVisibilityCommand({
              QueueUrl: this.o.queueUrl,
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: Math.min(43_200, Math.ceil(outcome.retryInMs / 1000) + 1),
            }),
          )
          .catch(() => undefined);
        return { kind: 'leased' };
      case 'terminal':
        // Covers a crash between a FAILED record and its webhook: notify() sends only what was never recorded.
        await this.notify(taskId, logger, signal);
        this.remember(messageId);
        return { kind: 'terminal' };
      case 'failed':
        logger.error('task.dead_lettered', { error: outcome.task.error?.type, attempts: outcome.task.attempts });
        this.o.onDeadLettered?.(taskId);
        await this.notify(taskId, logger, signal);
        this.remember(messageId);
        return { kind: 'failed', taskId };
    }
  }

  /** True when `key` was already remembered. */
  private remember(key: string): boolean {
    if (this.settled.has(key)) return true;
    if (this.settled.size >= SETTLED_MEMORY) this.settled.clear();
    this.settled.add(key);
    return false;
  }

  private async notify(taskId: string, logger: Logger, signal: AbortSignal): Promise<void> {
    try {
      await this.o.notifier?.notify(taskId, signal);
    } catch (err) {
      logger.warn('webhook.error', { error: errorMessage(err) });
    }
  }
}
