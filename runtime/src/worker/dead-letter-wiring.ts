import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { WorkerConfig } from '../shared/config';
import { DeadLetterRows } from '../shared/dead-letter-rows';
import type { Logger } from '../shared/logger';
import { DeadLetterSweeper, type DeadLetterSweeperOptions } from './dead-letter-sweeper';

/** The sweepers a worker process runs: one per dead-letter queue it is given. */
export interface DeadLetterSweepers {
  /** Its own lanes' DLQ first, then the other pools' (the canary's, on the stable pool). */
  readonly sweepers: readonly DeadLetterSweeper[];
  stop(): Promise<void>;
}

/**
 * The worker process's dead-letter sweepers, from its validated config; undefined when no DLQ is
 * configured (DEAD_LETTER_QUEUE_URL unset). They share the worker's clients and webhook notifier,
 * which is why they live here rather than in a service of their own: the worker already holds the
 * table grants, the webhook secrets and the webhook egress they need. A second queue
 * (`deadLetter.alsoQueueUrls`) gets its own sweeper so one queue's failures never hold up another's.
 */
export function startDeadLetterSweeper(
  config: Pick<WorkerConfig, 'deadLetter' | 'tasksTable' | 'taskRetentionDays'> & { readonly maxReceiveCount: number },
  ports: { readonly dynamo: DynamoDBDocumentClient; readonly sqs: SQSClient; readonly logger: Logger; readonly notifier?: DeadLetterSweeperOptions['notifier'] },
): DeadLetterSweepers | undefined {
  const dl = config.deadLetter;
  if (dl === undefined) return undefined;
  const rows = new DeadLetterRows({ client: ports.dynamo, tableName: config.tasksTable, retentionDays: config.taskRetentionDays });
  const sweepers = [dl.queueUrl, ...(dl.alsoQueueUrls ?? [])].map((queueUrl) => {
    const sweeper = new DeadLetterSweeper({
      sqs: ports.sqs,
      queueUrl,
      rows,
      logger: ports.logger,
      maxReceiveCount: config.maxReceiveCount,
      intervalMs: dl.sweepMs,
      ...(ports.notifier !== undefined ? { notifier: ports.notifier } : {}),
    });
    sweeper.start();
    return sweeper;
  });
  return {
    sweepers,
    stop: async () => {
      await Promise.all(sweepers.map((s) => s.stop()));
    },
  };
}
