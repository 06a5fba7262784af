import { context, trace, type Tracer } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { SendMessageBatchCommand, SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import { OpenClawError } from '../shared/errors';
import { GroupCommit, outcomeOf, type ItemOutcome } from '../shared/group-commit';
import { TRACER } from '../shared/spans';

/** SendMessageBatch takes at most 10 entries; 256 KiB in all keeps within every region's payload limit. */
export const MESSAGE_BATCH_MAX_ENTRIES = 10;
export const MESSAGE_BATCH_MAX_BYTES = 256 * 1024;

/** One task message for a lane. */
export interface LaneMessage {
  readonly queueUrl: string;
  readonly body: string;
  readonly attributes?: Record<string, MessageAttributeValue>;
}

/** SQS refused one entry of a batch (the others may have gone): this message is not on its queue. */
export class MessageNotSentError extends OpenClawError {
  constructor(queueUrl: string, code: string | undefined, detail: string | undefined, senderFault: boolean | undefined) {
    super('message_not_sent', `SQS did not take the message for ${queueUrl}: ${code ?? 'no code'}${detail !== undefined ? ` (${detail})` : ''}`, {
      queueUrl,
      ...(code !== undefined ? { code } : {}),
      ...(senderFault !== undefined ? { senderFault } : {}),
    });
  }
}

export interface MessageBatchesOptions {
  readonly sqs: SQSClient;
  /**
   * Sends in flight at once per queue. Under load, the messages that arrive while these are out go
   * in the next SendMessageBatch; a lone message is a plain SendMessage.
   * @default 4
   */
  readonly maxInFlight?: number;
  /** Each batch write is a span of this tracer (child of the first request, linked to all). @default trace.getTracer(TRACER.intake) */
  readonly tracer?: Tracer;
}

/** Roughly what SQS counts against the batch payload: the body and every attribute's name, type and value. */
function messageBytes(message: LaneMessage): number {
  let bytes = Buffer.byteLength(message.body);
  for (const [name, value] of Object.entries(message.attributes ?? {})) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? '') + (value.BinaryValue?.byteLength ?? 0);
  }
  return bytes;
}

/**
 * Task messages, group-committed per queue: one SendMessageBatch carries the messages submitted
 * while earlier sends were in flight, and each caller learns whether its own entry was taken
 * (SQS answers per entry). Batches cost what single sends cost per request, so this also cuts the
 * intake's SQS requests by up to ten under load.
 */
export class MessageBatches {
  private readonly sqs: SQSClient;
  private readonly maxInFlight: number;
  private readonly tracer: Tracer;
  private readonly perQueue = new Map<string, GroupCommit<LaneMessage, void>>();

  constructor(options: MessageBatchesOptions) {
    this.sqs = options.sqs;
    this.maxInFlight = options.maxInFlight ?? 4;
    this.tracer = options.tracer ?? trace.getTracer(TRACER.intake);
  }

  send(message: LaneMessage): Promise<void> {
    let batches = this.perQueue.get(message.queueUrl);
    if (batches === undefined) {
      const queueUrl = message.queueUrl;
      batches = new GroupCommit<LaneMessage, void>({
        maxItems: MESSAGE_BATCH_MAX_ENTRIES,
        maxBytes: MESSAGE_BATCH_MAX_BYTES,
        maxInFlight: this.maxInFlight,
        span: { tracer: this.tracer, name: 'group_commit messages' },
        write: (messages) => this.write(queueUrl, messages),
      });
      this.perQueue.set(queueUrl, batches);
    }
    return batches.submit(message, { sizeBytes: messageBytes(message) });
  }

  private async write(queueUrl: string, messages: readonly LaneMessage[]): Promise<readonly ItemOutcome<void>[]> {
    if (messages.length === 1) {
      const only = messages[0] as LaneMessage;
      return [
        await outcomeOf(
          this.sqs
            .send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: only.body, ...(only.attributes !== undefined ? { MessageAttributes: only.attributes } : {}) }))
            .then(() => undefined),
        ),
      ];
    }
    const batch = new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: messages.map((m, i) => ({ Id: String(i), MessageBody: m.body, ...(m.attributes !== undefined ? { MessageAttributes: m.attributes } : {}) })),
    });
    // Each entry already carries its own request's trace context. The aws-sdk instrumentation would
    // overwrite every entry's with its one send span's, joining all the batch's tasks to the first
    // request's trace; the group-commit span (linked to every request) stands in for that send span.
    const out = await context.with(suppressTracing(context.active()), () => this.sqs.send(batch));
    const taken = new Set((out.Successful ?? []).map((s) => s.Id));
    const failed = new Map((out.Failed ?? []).map((f) => [f.Id, f]));
    return messages.map((_, i): ItemOutcome<void> => {
      const id = String(i);
      if (taken.has(id)) return { ok: true, value: undefined };
      const f = failed.get(id);
      // An entry in neither list was not confirmed: treat it as not sent (a retry may duplicate it; the worker skips duplicates).
      return { ok: false, error: new MessageNotSentError(queueUrl, f?.Code ?? 'unanswered', f?.Message, f?.SenderFault) };
    });
  }
}
