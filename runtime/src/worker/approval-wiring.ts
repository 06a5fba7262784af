import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApprovalStore } from '../shared/approvals';
import type { WorkerConfig } from '../shared/config';
import type { Logger } from '../shared/logger';
import type { Metrics } from '../shared/metrics';
import { ApprovalSweeper } from './approval-sweeper';

/**
 * The worker process's approval sweep (expiry as denial, re-queue of decided tasks, the pending
 * metrics), from its validated config. Every worker runs one for its own pool; they share the
 * registry and its conditions let one win each expiry.
 */
export function startApprovalSweeper(
  config: Pick<WorkerConfig, 'approvals' | 'tasksTable' | 'taskRetentionDays' | 'agentVersion' | 'queues'>,
  ports: { readonly dynamo: DynamoDBDocumentClient; readonly sqs: SQSClient; readonly logger: Logger; readonly metrics?: Metrics },
): ApprovalSweeper {
  const sweeper = new ApprovalSweeper({
    approvals: new ApprovalStore({ client: ports.dynamo, tableName: config.tasksTable, retentionDays: config.taskRetentionDays }),
    sqs: ports.sqs,
    pool: config.agentVersion,
    queues: config.queues,
    logger: ports.logger,
    intervalMs: config.approvals.sweepMs,
    ...(ports.metrics !== undefined ? { metrics: ports.metrics } : {}),
  });
  sweeper.start();
  return sweeper;
}
