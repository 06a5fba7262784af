import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { WorkerConfig } from '../shared/config';
import { DeadLetterRows } from '../shared/dead-letter-rows';
import type { Logger } from '../shared/logger';
import { DeadLetterSweeper, type DeadLetterSweeperOptions } from './dead-letter-sweeper';

/**
 * The worker process's dead-letter sweeper, from its validated config; undefined when no DLQ is
 * configured (DEAD_LETTER_QUEUE_URL unset). It shares the worker's clients and webhook notifier,
 * which is why it lives here rather than in a service of its own: the worker already holds the
 * table grants, the webhook secrets and the webhook egress it needs.
 */
export function startDeadLetterSweeper(
  config: Pick<WorkerConfig, 'deadLetter' | 'tasksTable' | 'taskRetentionDays'> & { readonly maxReceiveCount: number },
  ports: { readonly dynamo: DynamoDBDocumentClient; readonly sqs: SQSClient; readonly logger: Logger; readonly notifier?: DeadLetterSweeperOptions['notifier'] },
): DeadLetterSweeper | undefined {
  if (config.deadLetter === undefined) return undefined;
  const sweeper = new DeadLetterSweeper({
    sqs: ports.sqs,
    queueUrl: config.deadLetter.queueUrl,
    rows: new DeadLetterRows({ client: ports.dynamo, tableName: config.tasksTable, retentionDays: config.taskRetentionDays }),
    logger: ports.logger,
    maxReceiveCount: config.maxReceiveCount,
    intervalMs: config.deadLetter.sweepMs,
    ...(ports.notifier !== undefined ? { notifier: ports.notifier } : {}),
  });
  sweeper.start();
  return sweeper;
}
