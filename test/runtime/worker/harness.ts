import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { silentLogger } from '../../../runtime/src/shared/logger';
import type { Priority, StepRecord, TaskRecord } from '../../../runtime/src/shared/task-model';
import { DEFAULT_TASK_RETENTION_DAYS } from '../../../runtime/src/shared/task-retention';
import { TaskStore } from '../../../runtime/src/shared/task-store';
import { startStubModel, type StubModel, type StubModelOptions } from '../../../tools/local/stub-model';
import { CheckpointLog } from '../../../runtime/src/worker/checkpoint-log';
import type { Consumer } from '../../../runtime/src/worker/consumer';
import { createWorker, type WorkerDeps } from '../../../runtime/src/worker/create-worker';
import { anthropicModelClient } from '../../../runtime/src/worker/model-client';
import { NOTE_SK, notePk } from '../../../runtime/src/worker/tools/record-note';
import { createTestAws, type TestAws } from '../../support/aws';

/** Emulators + a fresh table and queues + the stub model, and helpers to drive workers against them. */
export interface WorkerHarness {
  readonly aws: TestAws;
  readonly stub: StubModel;
  readonly store: TaskStore;
  readonly log: CheckpointLog;
  readonly workers: Consumer[];
  worker(overrides?: Partial<WorkerDeps>): Consumer;
  submit(prompt: string, options?: { priority?: Priority; taskId?: string }): Promise<string>;
  status(taskId: string): Promise<TaskRecord | undefined>;
  steps(taskId: string): Promise<StepRecord[]>;
  noteInvocations(idempotencyKey: string): Promise<number>;
  /** Every record_note invocation counter in the table, by idempotency key. */
  allNoteInvocations(): Promise<Map<string, number>>;
  queueDepth(url: string): Promise<{ visible: number; inFlight: number }>;
  close(): Promise<void>;
}

export async function createWorkerHarness(
  options: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number; stub?: StubModelOptions } = {},
): Promise<WorkerHarness> {
  const aws = await createTestAws({
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 10,
    maxReceiveCount: options.maxReceiveCount ?? 5,
  });
  const stub = await startStubModel(options.stub ?? {});
  const tableName = aws.resources.tasksTable;
  const store = new TaskStore({ client: aws.dynamo, tableName });
  const log = new CheckpointLog({ client: aws.dynamo, tableName });
  const workers: Consumer[] = [];
  let n = 0;
  return {
    aws,
    stub,
    store,
    log,
    workers,
    worker(overrides = {}) {
      n += 1;
      const consumer = createWorker({
        dynamo: aws.dynamo,
        sqs: aws.sqs,
        tableName,
        queues: aws.resources.queues,
        model: anthropicModelClient({ baseURL: stub.url, maxRetries: 0 }),
        modelName: 'claude-test',
        logger: silentLogger,
        workerId: `test-worker-${n}`,
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 10,
        leaseMs: 6000,
        heartbeatMs: 1000,
        waitTimeSeconds: 1,
        maxReceiveCount: options.maxReceiveCount ?? 5,
        probeBackoffMs: 200,
        taskRetentionDays: DEFAULT_TASK_RETENTION_DAYS,
        ...overrides,
      });
      workers.push(consumer);
      return consumer;
    },
    async submit(prompt, submitOptions = {}) {
      const taskId = submitOptions.taskId ?? randomUUID();
      const priority = submitOptions.priority ?? 'normal';
      const now = new Date().toISOString();
      await store.create({ taskId, status: 'QUEUED', priority, prompt, createdAt: now, updatedAt: now });
      await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.resources.queues[priority], MessageBody: JSON.stringify({ taskId }) }));
      return taskId;
    },
    status: (taskId) => store.get(taskId),
    steps: (taskId) => log.list(taskId),
    async noteInvocations(idempotencyKey) {
      const out = await aws.dynamo.send(new GetCommand({ TableName: tableName, Key: { pk: notePk(idempotencyKey), sk: NOTE_SK }, ConsistentRead: true }));
      return Number(out.Item?.['invocations'] ?? 0);
    },
    async allNoteInvocations() {
      return allNoteInvocations(aws, tableName);
    },
    async queueDepth(url) {
      const out = await aws.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return {
        visible: Number(out.Attributes?.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
      };
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop(5000)));
      await stub.close();
      aws.destroy();
    },
  };
}

/** Scan the NOTE items (record_note's side effects) of a table: idempotency key -> invocations. */
export async function allNoteInvocations(aws: Pick<TestAws, 'dynamo'>, tableName: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await aws.dynamo.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'begins_with(pk, :note)',
        ExpressionAttributeValues: { ':note': 'NOTE#' },
        ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    for (const item of out.Items ?? []) counts.set(String(item['pk']).slice('NOTE#'.length), Number(item['invocations']));
    startKey = out.LastEvaluatedKey;
  } while (startKey !== undefined);
  return counts;
}

/** LLM checkpoints of a task as the stub saw them: how many tool results preceded each. */
export function llmStepToolResults(steps: readonly StepRecord[]): { toolResults: number; createdAt: number }[] {
  let results = 0;
  const out: { toolResults: number; createdAt: number }[] = [];
  for (const s of steps) {
    if (s.kind === 'tool') results += 1;
    else out.push({ toolResults: results, createdAt: Date.parse(s.createdAt) });
  }
  return out;
}


