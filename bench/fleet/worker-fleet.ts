import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { ApiKeyAuthenticator } from '../../runtime/src/intake/api-keys';
import { hashApiKey } from '../../runtime/src/shared/api-keys';
import { createIntakeHandler } from '../../runtime/src/intake/app';
import { provisionLocalResources } from '../../tools/local/provision';
import { startStubModel } from '../../tools/local/stub-model';
import { listen } from '../../runtime/src/shared/http';
import { silentLogger } from '../../runtime/src/shared/logger';
import { TaskStore } from '../../runtime/src/shared/task-store';
import { DEFAULT_TASK_RETENTION_DAYS } from '../../runtime/src/shared/task-retention';
import { createWorker } from '../../runtime/src/worker/create-worker';
import { anthropicModelClient } from '../../runtime/src/worker/model-client';
import { CallCounter } from '../support/call-counter';
import { seededRng } from '../sim/rng';

export interface WorkerFleetBenchOptions {
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  /** @default 8 */
  readonly workers?: number;
  /** @default 64 */
  readonly tasks?: number;
  /** Tool calls per task; the task makes toolCalls + 1 LLM calls. @default 2 */
  readonly toolCalls?: number;
  /** Fixed stub model latency per LLM call (ms). @default 250 */
  readonly modelLatencyMs?: number;
  /**
   * Spread of each call's latency around `modelLatencyMs`, as a fraction: each call takes
   * latency × (1 ± jitter), uniform, from a seeded generator (the mean, and so the ideal, stay the
   * same). With 0 every call takes exactly the latency and the workers move in lockstep, so their
   * storage calls arrive at DynamoDB Local in bursts. @default 0
   */
  readonly latencyJitter?: number;
  /** Give up after this long (ms). @default 120_000 */
  readonly timeoutMs?: number;
}

export interface WorkerFleetResult {
  readonly workers: number;
  readonly tasks: number;
  readonly llmCallsPerTask: number;
  readonly modelLatencyMs: number;
  readonly latencyJitter: number;
  readonly elapsedMs: number;
  readonly tasksPerSecond: number;
  /** workers ÷ (LLM calls per task × latency). */
  readonly idealTasksPerSecond: number;
  readonly efficiency: number;
  /** Checkpointed steps per task: every LLM reply and every tool result. */
  readonly stepsPerTask: number;
  /** DynamoDB + SQS calls of the workers per task step. */
  readonly storageCallsPerStep: number;
  /** The minimum the design needs per step (see minimumCallsPerTask). */
  readonly minimumCallsPerStep: number;
  readonly callsByCommand: Readonly<Record<string, number>>;
  /** Mean wall time of one call per command (ms); a ReceiveMessage that long-polled an empty queue counts its wait. */
  readonly meanMsByCommand: Readonly<Record<string, number>>;
  /** Mean time one storage call took, as the worker saw it (ms). */
  readonly meanStorageCallMs: number;
  /** Time a task spent waiting on storage, summed over its calls (ms); excludes empty long polls only approximately. */
  readonly storageMsPerTask: number;
  /** Where a worker's time per task went (means, ms), to explain the efficiency figure. */
  readonly phases: FleetPhases;
}

/** Means per task (ms) from the consumers' events. */
export interface FleetPhases {
  /** elapsed × workers ÷ tasks: one worker's time per task. */
  readonly cycleMs: number;
  /** cycleMs − LLM calls × latency: everything that is not the model. */
  readonly overheadMs: number;
  /** Message received → task started: the lease claim and the partition read. */
  readonly claimAndLoadMs: number;
  /** Task started → task finished, less the model's latency: tools, checkpoints awaited on the path, the model's HTTP overhead, the result write. */
  readonly runOverheadMs: number;
  /** CPU time (user + system) of the bench's own process per task: the 8 workers, and the stub model and intake that share it. */
  readonly workerProcessCpuMs: number;
}

/**
 * The fewest round-trips one task can take in this design: receive the message, take the lease,
 * read the checkpoint log to replay, one fenced write per step, one fenced result write, delete the
 * message. Heartbeats, empty polls and tool side effects come on top.
 */
export function minimumCallsPerTask(steps: number): number {
  return 1 + 1 + 1 + steps + 1 + 1;
}

const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
const round = (x: number): number => Math.round(x * 10) / 10;

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * N workers (the real consumer, lease, checkpoint log and agent loop) against DynamoDB Local,
 * fauxqs and a stub model of fixed latency. Tasks are submitted through the intake before the
 * workers start, so the clock measures the workers only; the workers' clients carry a counting
 * middleware, and the run ends when the last task's message is deleted.
 */
export async function runWorkerFleetBench(options: WorkerFleetBenchOptions): Promise<WorkerFleetResult> {
  const workerCount = options.workers ?? 8;
  const taskCount = options.tasks ?? 64;
  const toolCalls = options.toolCalls ?? 2;
  const latency = options.modelLatencyMs ?? 250;
  const region = 'us-east-1';
  const rawAdmin = new DynamoDBClient({ region, endpoint: options.dynamoEndpoint, credentials: CREDENTIALS });
  const admin = DynamoDBDocumentClient.from(rawAdmin, { marshallOptions: { removeUndefinedValues: true } });
  const adminSqs = new SQSClient({ region, endpoint: options.sqsEndpoint, credentials: CREDENTIALS });
  const rawWorker = new DynamoDBClient({ region, endpoint: options.dynamoEndpoint, credentials: CREDENTIALS });
  const workerDynamo = DynamoDBDocumentClient.from(rawWorker, { marshallOptions: { removeUndefinedValues: true } });
  const workerSqs = new SQSClient({ region, endpoint: options.sqsEndpoint, credentials: CREDENTIALS });
  const counter = new CallCounter();
  counter.attach(rawWorker, 'dynamodb');
  counter.attach(workerSqs, 'sqs');

  const resources = await provisionLocalResources(rawAdmin, adminSqs, { prefix: `bench-fleet-${randomBytes(4).toString('hex')}` });
  const jitter = options.latencyJitter ?? 0;
  const rng = seededRng(16_3);
  const stub = await startStubModel(
    jitter > 0 ? { latencyMs: 0, intercept: () => ({ delayMs: Math.round(latency * (1 - jitter + 2 * jitter * rng.next())) }) } : { latencyMs: latency },
  );
  const apiKey = `ocl_${randomBytes(18).toString('base64url')}`;
  const intake = await listen(
    createIntakeHandler({
      dynamo: admin,
      sqs: adminSqs,
      tableName: resources.tasksTable,
      queues: resources.queues,
      auth: new ApiKeyAuthenticator([{ name: 'bench', sha256: hashApiKey(apiKey), maxPriority: 'high', ratePerMinute: 1_000_000 }]),
      logger: silentLogger,
      taskRetentionDays: DEFAULT_TASK_RETENTION_DAYS,
    }),
    0,
    silentLogger,
    '127.0.0.1',
  );
  const workers = Array.from({ length: workerCount }, (_, i) =>
    createWorker({
      dynamo: workerDynamo,
      sqs: workerSqs,
      tableName: resources.tasksTable,
      queues: resources.queues,
      model: anthropicModelClient({ baseURL: stub.url }),
      modelName: 'claude-sonnet-5',
      logger: silentLogger,
      workerId: `bench-worker-${i + 1}`,
      waitTimeSeconds: 1,
      taskRetentionDays: DEFAULT_TASK_RETENTION_DAYS,
    }),
  );
  try {
    const taskIds: string[] = [];
    for (let i = 0; i < taskCount; i++) {
      const res = await fetch(`${intake.url}/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: `bench task ${i} [tools:${toolCalls}]` }),
      });
      const body = (await res.json()) as { taskId?: string };
      if (res.status !== 202 || body.taskId === undefined) throw new Error(`intake refused bench task ${i}: HTTP ${res.status} ${JSON.stringify(body)}`);
      taskIds.push(body.taskId);
    }
    const claimAndLoad: number[] = [];
    const runs: number[] = [];
    for (const w of workers) {
      let receivedAt = 0;
      const startedAt = new Map<string, number>();
      w.events.on('message_received', () => (receivedAt = performance.now()));
      w.events.on('task_started', (e) => {
        startedAt.set(e.taskId, performance.now());
        claimAndLoad.push(performance.now() - receivedAt);
      });
      w.events.on('task_finished', (e) => runs.push(performance.now() - (startedAt.get(e.taskId) ?? performance.now())));
    }
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    await Promise.all(workers.map((w) => w.start()));
    while (counter.get('sqs:DeleteMessageCommand') < taskCount) {
      if (Date.now() > deadline) throw new Error(`worker fleet bench: ${counter.get('sqs:DeleteMessageCommand')} of ${taskCount} tasks finished before the timeout`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const callsByCommand = counter.snapshot();
    const meanMsByCommand = counter.meanMs();
    const storageMs = counter.totalMs();
    await Promise.all(workers.map((w) => w.stop(5000)));
    const store = new TaskStore({ client: admin, tableName: resources.tasksTable });
    const statuses = await Promise.all(taskIds.map(async (id) => (await store.get(id))?.status));
    const failed = statuses.filter((s) => s !== 'SUCCEEDED').length;
    if (failed > 0) throw new Error(`worker fleet bench: ${failed} of ${taskCount} tasks did not succeed (${[...new Set(statuses)].join(', ')})`);

    const llmCallsPerTask = toolCalls + 1;
    const stepsPerTask = llmCallsPerTask + toolCalls;
    const tasksPerSecond = taskCount / (elapsedMs / 1000);
    const idealTasksPerSecond = workerCount / ((llmCallsPerTask * latency) / 1000);
    const storageCalls = Object.values(callsByCommand).reduce((a, b) => a + b, 0);
    return {
      workers: workerCount,
      tasks: taskCount,
      llmCallsPerTask,
      modelLatencyMs: latency,
      latencyJitter: jitter,
      elapsedMs,
      tasksPerSecond,
      idealTasksPerSecond,
      efficiency: tasksPerSecond / idealTasksPerSecond,
      stepsPerTask,
      storageCallsPerStep: storageCalls / (taskCount * stepsPerTask),
      minimumCallsPerStep: minimumCallsPerTask(stepsPerTask) / stepsPerTask,
      callsByCommand,
      meanMsByCommand,
      meanStorageCallMs: storageMs / storageCalls,
      storageMsPerTask: storageMs / taskCount,
      phases: {
        cycleMs: round((elapsedMs * workerCount) / taskCount),
        overheadMs: round((elapsedMs * workerCount) / taskCount - llmCallsPerTask * latency),
        claimAndLoadMs: round(mean(claimAndLoad)),
        runOverheadMs: round(mean(runs) - llmCallsPerTask * latency),
        workerProcessCpuMs: round((cpu.user + cpu.system) / 1000 / taskCount),
      },
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop(5000)));
    await intake.close();
    await stub.close();
    for (const c of [rawAdmin, adminSqs, rawWorker, workerSqs]) c.destroy();
  }
}
