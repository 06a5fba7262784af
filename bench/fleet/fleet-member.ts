import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { QueueUrls } from '../../runtime/src/shared/config';
import { silentLogger } from '../../runtime/src/shared/logger';
import { DEFAULT_TASK_RETENTION_DAYS } from '../../runtime/src/shared/task-retention';
import { createWorker } from '../../runtime/src/worker/create-worker';
import { anthropicModelClient } from '../../runtime/src/worker/model-client';
import { CallCounter, type CallTotals } from '../support/call-counter';

/** What one fleet member needs to build its worker; plain data, so it crosses a process boundary. */
export interface FleetMemberSetup {
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  readonly tableName: string;
  readonly queues: QueueUrls;
  readonly modelUrl: string;
}

/** A consumer event the bench times, stamped with wall-clock ms (`performance.timeOrigin + now()`, comparable across processes). */
export interface MemberEvent {
  readonly kind: 'message_received' | 'task_started' | 'task_finished';
  readonly at: number;
  readonly taskId?: string;
}

export interface MemberHooks {
  onEvent(e: MemberEvent): void;
  /** A DeleteMessage was sent: the bench stops its clock at the last one. */
  onDelete(): void;
}

/** One worker of the fleet, with its own clients (as each deployed task has) and their call counter. */
export interface MemberWorker {
  start(): Promise<void>;
  /** Stop (draining) and return the calls its clients made. */
  stop(): Promise<CallTotals>;
}

/** What the bench sends a worker process over IPC. */
export type ToWorkerProcess = { readonly type: 'prepare'; readonly setup: FleetMemberSetup; readonly workerId: string } | { readonly type: 'start' } | { readonly type: 'stop' };

/** What a worker process sends back. */
export type FromWorkerProcess =
  | { readonly type: 'prepared' }
  | { readonly type: 'started' }
  | { readonly type: 'event'; readonly event: MemberEvent }
  | { readonly type: 'deleted' }
  | { readonly type: 'stopped'; readonly totals: CallTotals; readonly cpuMs: number }
  | { readonly type: 'error'; readonly message: string };

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export const wallNow = (): number => performance.timeOrigin + performance.now();

/** Build one worker (the real consumer, lease, checkpoint log, agent loop and SDK model client). */
export function memberWorker(setup: FleetMemberSetup, workerId: string, hooks: MemberHooks): MemberWorker {
  const region = 'us-east-1';
  const raw = new DynamoDBClient({ region, endpoint: setup.dynamoEndpoint, credentials: CREDENTIALS });
  const sqs = new SQSClient({ region, endpoint: setup.sqsEndpoint, credentials: CREDENTIALS });
  const counter = new CallCounter();
  counter.attach(raw, 'dynamodb');
  counter.attach(sqs, 'sqs', (key) => {
    if (key === 'sqs:DeleteMessageCommand') hooks.onDelete();
  });
  const worker = createWorker({
    dynamo: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }),
    sqs,
    tableName: setup.tableName,
    queues: setup.queues,
    model: anthropicModelClient({ baseURL: setup.modelUrl }),
    modelName: 'claude-sonnet-5',
    logger: silentLogger,
    workerId,
    waitTimeSeconds: 1,
    taskRetentionDays: DEFAULT_TASK_RETENTION_DAYS,
  });
  worker.events.on('message_received', () => hooks.onEvent({ kind: 'message_received', at: wallNow() }));
  worker.events.on('task_started', (e) => hooks.onEvent({ kind: 'task_started', at: wallNow(), taskId: e.taskId }));
  worker.events.on('task_finished', (e) => hooks.onEvent({ kind: 'task_finished', at: wallNow(), taskId: e.taskId }));
  return {
    start: () => worker.start(),
    stop: async () => {
      await worker.stop(5000);
      raw.destroy();
      sqs.destroy();
      return counter.totals();
    },
  };
}
