import type { SQSClient } from '@aws-sdk/client-sqs';
import type { ArrivalCounter } from '../shared/queue-demand';

/** The SQS commands that put tasks on a lane. */
const SEND_COMMANDS: ReadonlySet<string> = new Set(['SendMessageCommand', 'SendMessageBatchCommand']);

/**
 * Counts the tasks this intake puts on `queueUrls` (the stable lanes), for the queue-demand
 * publisher, from the SQS client's own calls: every accepted task is sent through it, so nothing in
 * the accept path has to remember to count. Only successful sends count.
 */
export function countArrivals(sqs: SQSClient, queueUrls: readonly string[], counter: ArrivalCounter): void {
  const lanes = new Set(queueUrls);
  sqs.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      const input = args.input as { QueueUrl?: string; Entries?: unknown[] };
      if (!SEND_COMMANDS.has(context.commandName ?? '') || input.QueueUrl === undefined || !lanes.has(input.QueueUrl)) return result;
      const output = result.output as { Successful?: unknown[] };
      counter.add(Array.isArray(output.Successful) ? output.Successful.length : 1);
      return result;
    },
    { step: 'initialize', name: 'openclawCountArrivals' },
  );
}
