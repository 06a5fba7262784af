import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { hostname } from 'node:os';
import type { QueueUrls } from '../shared/config';
import type { Logger } from '../shared/logger';
import { TaskStore } from '../shared/task-store';
import { AgentLoop } from './agent-loop';
import { CheckpointLog } from './checkpoint-log';
import { Consumer } from './consumer';
import { LeaseManager } from './lease';
import type { ModelClient } from './model-client';
import { ToolRegistry } from './tool-registry';
import { calculatorTool } from './tools/calculator';
import { recordNoteTool } from './tools/record-note';

export interface WorkerDeps {
  readonly dynamo: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly tableName: string;
  readonly queues: QueueUrls;
  readonly model: ModelClient;
  readonly modelName: string;
  readonly logger: Logger;
  /** @default `${hostname()}-${pid}` */
  readonly workerId?: string;
  /** @default 60_000 */
  readonly leaseMs?: number;
  /** @default 300 */
  readonly visibilityTimeoutSeconds?: number;
  /** @default 20 */
  readonly waitTimeSeconds?: number;
  readonly heartbeatMs?: number;
  /** @default 5 */
  readonly maxReceiveCount?: number;
}

/** Wire a worker from its ports; the same code runs against AWS, the emulators and test fakes. */
export function createWorker(deps: WorkerDeps): Consumer {
  const workerId = deps.workerId ?? `${hostname()}-${process.pid}`;
  const logger = deps.logger.child({ workerId });
  const store = new TaskStore({ client: deps.dynamo, tableName: deps.tableName });
  const leases = new LeaseManager({ client: deps.dynamo, tableName: deps.tableName, ...(deps.leaseMs !== undefined ? { leaseMs: deps.leaseMs } : {}) });
  const log = new CheckpointLog({ client: deps.dynamo, tableName: deps.tableName });
  const tools = new ToolRegistry([calculatorTool, recordNoteTool({ client: deps.dynamo, tableName: deps.tableName })]);
  const loop = new AgentLoop({ model: deps.model, tools, log, logger, modelName: deps.modelName });
  return new Consumer({
    sqs: deps.sqs,
    queues: deps.queues,
    store,
    leases,
    log,
    loop,
    logger,
    workerId,
    ...(deps.visibilityTimeoutSeconds !== undefined ? { visibilityTimeoutSeconds: deps.visibilityTimeoutSeconds } : {}),
    ...(deps.waitTimeSeconds !== undefined ? { waitTimeSeconds: deps.waitTimeSeconds } : {}),
    ...(deps.heartbeatMs !== undefined ? { heartbeatMs: deps.heartbeatMs } : {}),
    ...(deps.maxReceiveCount !== undefined ? { maxReceiveCount: deps.maxReceiveCount } : {}),
  });
}
