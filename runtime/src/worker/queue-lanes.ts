import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { QueueUrls } from '../shared/config';
import { FIRST_SENT_ATTRIBUTE } from '../shared/task-message';
import type { Received } from './queue-message';

export interface LaneReceiverOptions {
  readonly sqs: SQSClient;
  readonly queues: QueueUrls;
  /** Visibility timeout asked for on each receive (the queue's own). */
  readonly visibilitySeconds: number;
  /** Long-poll wait on the normal queue when both are empty. */
  readonly waitSeconds: number;
  /** High-priority messages taken in a row before one normal message gets a turn. */
  readonly highBurst: number;
  /** Called for every message received (the consumer emits its event). */
  readonly onReceived?: (received: Received) => void;
}

/**
 * Receives one message at a time from the two priority lanes: high first, but after `highBurst`
 * high messages in a row, normal gets one turn, so it is never starved.
 */
export class LaneReceiver {
  private highStreak = 0;

  constructor(private readonly o: LaneReceiverOptions) {}

  async receive(signal: AbortSignal): Promise<Received | undefined> {
    const { high, normal } = this.o.queues;
    const order = this.highStreak >= this.o.highBurst ? [normal, high] : [high, normal];
    for (const url of order) {
      const got = await this.receiveFrom(url, 0, signal);
      if (got !== undefined) return got;
    }
    // Both empty: long-poll the high queue briefly, then normal, so an idle worker costs few calls.
    return (await this.receiveFrom(high, Math.min(this.o.waitSeconds, 1), signal)) ?? (await this.receiveFrom(normal, this.o.waitSeconds, signal));
  }

  private async receiveFrom(queueUrl: string, waitSeconds: number, signal: AbortSignal): Promise<Received | undefined> {
    const out = await this.o.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 1,
        WaitTimeSeconds: waitSeconds,
        VisibilityTimeout: this.o.visibilitySeconds,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        MessageAttributeNames: ['All'],
      }),
      // Aborting the long poll is what lets stop() return without waiting up to 20 s.
      { abortSignal: signal },
    );
    const message = out.Messages?.[0];
    if (message === undefined) return undefined;
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? '1');
    this.highStreak = queueUrl === this.o.queues.high ? this.highStreak + 1 : 0;
    const firstSent = Number(message.MessageAttributes?.[FIRST_SENT_ATTRIBUTE]?.StringValue ?? message.Attributes?.SentTimestamp);
    const received: Received = { message, queueUrl, receiveCount, receivedAt: Date.now(), ...(Number.isFinite(firstSent) ? { firstSentAt: firstSent } : {}) };
    this.o.onReceived?.(received);
    return received;
  }
}
