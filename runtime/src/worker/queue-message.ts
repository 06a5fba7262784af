import { ChangeMessageVisibilityCommand, DeleteMessageCommand, SendMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';

/** A message this worker holds, with where and when it was received. */
export interface Received {
  readonly message: Message;
  readonly queueUrl: string;
  /** SQS's ApproximateReceiveCount: what its DLQ redrive counts. */
  readonly receiveCount: number;
  readonly receivedAt: number;
  /**
   * Epoch ms the task's message was first sent: FIRST_SENT_ATTRIBUTE on a fresh copy, else SQS's
   * SentTimestamp. @default receivedAt (neither was returned)
   */
  readonly firstSentAt?: number;
}

/** SQS cannot keep a message invisible for more than 12 h after its receive. */
export const MAX_VISIBILITY_FROM_RECEIVE_S = 12 * 3600;

/** SQS's largest DelaySeconds. */
export const MAX_DELAY_S = 900;

/** The SQS operations on a received message: settle it, hide it longer, or replace it with a fresh copy. */
export class QueueMessages {
  constructor(private readonly sqs: SQSClient) {}

  async delete(received: Received): Promise<void> {
    await this.sqs.send(new DeleteMessageCommand({ QueueUrl: received.queueUrl, ReceiptHandle: received.message.ReceiptHandle }));
  }

  async setVisibility(received: Received, seconds: number): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: received.queueUrl, ReceiptHandle: received.message.ReceiptHandle, VisibilityTimeout: seconds }),
    );
  }

  /**
   * Send a copy of the message (same body and attributes, so its trace context survives) that
   * becomes visible after `delaySeconds`, then delete this one. The copy's receive count starts at
   * 0: nothing this receive did counts toward the DLQ. If the delete fails the copy is a duplicate,
   * which the lease and the terminal-status check make harmless.
   */
  async replace(received: Received, delaySeconds: number, extraAttributes: Message['MessageAttributes'] = {}): Promise<void> {
    const attributes = { ...(received.message.MessageAttributes ?? {}), ...extraAttributes };
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: received.queueUrl,
        MessageBody: received.message.Body ?? '',
        DelaySeconds: Math.max(0, Math.min(MAX_DELAY_S, Math.round(delaySeconds))),
        ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}),
      }),
    );
    await this.delete(received);
  }
}
