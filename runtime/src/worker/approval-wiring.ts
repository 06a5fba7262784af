import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApprovalStore } from '../shared/approvals';
import type { WorkerConfig } from '../shared/config';
import type { Logger } from '../shared/logger';
import type { Metrics } from '../shared/metrics';
import { ApprovalSweeper } from './approval-sweeper';

/** The sweeps a worker process runs: its own pool's, and the candidate's when it is the stable pool of a canary. */
export interface ApprovalSweepers {
  readonly own: ApprovalSweeper;
  /** The candidate pool's approvals (CANARY_APPROVAL_QUEUE_URLS), queued on the candidate's lanes. */
  readonly also?: ApprovalSweeper;
  stop(): Promise<void>;
}

/**
 * The worker process's approval sweep (expiry as denial, re-queue of decided tasks, the pending
 * metrics), from its validated config. Every worker runs one for its own pool; they share the
 * registry and its conditions let one win each expiry. The stable pool of a canary also sweeps the
 * candidate's registry: a rolled-back candidate scales to zero, and its waiting approvals must
 * still expire. Those tasks go back on the candidate's lanes (their checkpoints are the
 * candidate's), whose backlog scales its pool up from zero to finish them. The pending metrics
 * stay with each pool's own workers.
 */
export function startApprovalSweeper(
  config: Pick<WorkerConfig, 'approvals' | 'tasksTable' | 'taskRetentionDays' | 'agentVersion' | 'queues'>,
  ports: { readonly dynamo: DynamoDBDocumentClient; readonly sqs: SQSClient; readonly logger: Logger; readonly metrics?: Metrics },
): ApprovalSweepers {
  const approvals = new ApprovalStore({ client: ports.dynamo, tableName: config.tasksTable, retentionDays: config.taskRetentionDays });
  const sweeperFor = (pool: WorkerConfig['agentVersion'], queues: WorkerConfig['queues'], metrics: Metrics | undefined) =>
    new ApprovalSweeper({
      approvals,
      sqs: ports.sqs,
      pool,
      queues,
      logger: ports.logger,
      intervalMs: config.approvals.sweepMs,
      ...(metrics !== undefined ? { metrics } : {}),
    });
  const own = sweeperFor(config.agentVersion, config.queues, ports.metrics);
  const alsoPool = config.approvals.alsoPool;
  const also = alsoPool === undefined ? undefined : sweeperFor(alsoPool.pool, alsoPool.queues, undefined);
  own.start();
  also?.start();
  return {
    own,
    ...(also !== undefined ? { also } : {}),
    stop: async () => void (await Promise.all([own.stop(), also?.stop()])),
  };
}
