import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { QueueUrls } from '../../runtime/src/shared/config';
import type { DeadLetterRows } from '../../runtime/src/shared/dead-letter-rows';
import { parseTaskMessage } from '../../runtime/src/shared/task-message';

export interface RedriveOptions {
  readonly sqs: SQSClient;
  readonly deadLetterQueueUrl: string;
  /** Where a reopened task goes: the lane of its priority. */
  readonly lanes: QueueUrls;
  readonly rows: DeadLetterRows;
  /** Every message in the DLQ, or only those of these task IDs. */
  readonly select: { readonly all: true } | { readonly taskIds: ReadonlySet<string> };
  /**
   * Give up after this long. Messages held by a worker's dead-letter sweeper (30 s by default)
   * or by a previous run come back within that, so the default outlasts one hold. @default 75_000
   */
  readonly deadlineMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
  /** One line per message handled, for the CLI. @default none */
  readonly onProgress?: (line: string) => void;
}

export interface RedriveReport {
  /** Tasks reopened (QUEUED) and sent back to their lane; their DLQ message was deleted. */
  readonly redriven: readonly string[];
  /** Messages left in the DLQ and why (a task that succeeded, was cancelled or failed for its own input). */
  readonly skipped: readonly { readonly taskId: string; readonly reason: string }[];
  /** Messages without a task ID: left for inspection. */
  readonly malformed: number;
  /** With `--task`: IDs whose message was not found before the deadline. */
  readonly notFound: readonly string[];
}

/**
 * Move dead-lettered task messages back to their lanes after a fix, one message at a time:
 * reopen the task row (FAILED dead_lettered/poison → QUEUED), send a fresh copy (receive count 0)
 * to the lane of its priority, then delete the DLQ copy. The row goes first so the worker that
 * receives the copy works it instead of acknowledging a finished task; a crash between the steps
 * leaves the DLQ copy in place and a rerun completes the move. SQS StartMessageMoveTask cannot
 * reopen rows per message (and fauxqs does not implement it), so this uses receive/send/delete.
 */
export async function redriveDeadLetters(o: RedriveOptions): Promise<RedriveReport> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = now() + (o.deadlineMs ?? 75_000);
  // Messages looked at but not moved stay hidden for the whole run (so each is counted once), then are released.
  const holdSeconds = Math.ceil((o.deadlineMs ?? 75_000) / 1000) + 5;
  const wanted = 'taskIds' in o.select ? new Set(o.select.taskIds) : undefined;
  const redriven: string[] = [];
  const skipped: { taskId: string; reason: string }[] = [];
  let malformed = 0;
  /** Messages this run holds without moving them (skipped, malformed or not selected). */
  const held: Message[] = [];
  const progress = o.onProgress ?? (() => undefined);

  const moveOne = async (message: Message, taskId: string): Promise<void> => {
    const reopened = await o.rows.reopen(taskId);
    let lane: string;
    if (reopened.kind === 'reopened') {
      lane = o.lanes[reopened.priority];
    } else if (reopened.kind === 'not_redrivable' && (reopened.status === 'QUEUED' || reopened.status === 'RUNNING')) {
      // Not swept yet: the row is still open, so the moved copy is simply worked.
      lane = o.lanes.normal;
    } else {
      const reason = reopened.kind === 'missing' ? 'no task row (expired?)' : `task is ${reopened.status}${reopened.errorType !== undefined ? ` (${reopened.errorType})` : ''}`;
      skipped.push({ taskId, reason });
      held.push(message);
      progress(`skipped  ${taskId}: ${reason}`);
      return;
    }
    await o.sqs.send(
      new SendMessageCommand({
        QueueUrl: lane,
        MessageBody: message.Body ?? '',
        ...(message.MessageAttributes !== undefined && Object.keys(message.MessageAttributes).length > 0 ? { MessageAttributes: message.MessageAttributes } : {}),
      }),
    );
    await o.sqs.send(new DeleteMessageCommand({ QueueUrl: o.deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle }));
    redriven.push(taskId);
    progress(`redriven ${taskId}`);
  };

  const done = () => wanted !== undefined && [...wanted].every((id) => redriven.includes(id) || skipped.some((s) => s.taskId === id));
  while (!done() && now() < deadline) {
    const out = await o.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: o.deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: holdSeconds,
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = out.Messages ?? [];
    for (const message of messages) {
      const taskId = parseTaskMessage(message.Body)?.taskId;
      if (taskId === undefined) {
        malformed += 1;
        held.push(message);
        continue;
      }
      if (wanted !== undefined && !wanted.has(taskId)) {
        held.push(message);
        continue;
      }
      await moveOne(message, taskId);
    }
    if (messages.length > 0) continue;
    // Nothing visible: finished, unless someone else (a sweeper) holds messages that will come back.
    if (wanted === undefined) {
      const attrs = await o.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: o.deadLetterQueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      const visible = Number(attrs.Attributes?.['ApproximateNumberOfMessages'] ?? 0);
      const inFlight = Number(attrs.Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0);
      if (visible === 0 && inFlight <= held.length) break;
    }
    await sleep(1000);
  }
  await releaseHeld(o.sqs, o.deadLetterQueueUrl, held);
  const notFound = wanted === undefined ? [] : [...wanted].filter((id) => !redriven.includes(id) && !skipped.some((s) => s.taskId === id));
  return { redriven, skipped, malformed, notFound };
}

/** Release what this run held, so a later run (or the sweeper) sees those messages at once. */
async function releaseHeld(sqs: SQSClient, queueUrl: string, messages: readonly Message[]): Promise<void> {
  await Promise.all(
    messages.map((m) => sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })).catch(() => undefined)),
  );
}
