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
import { seededRng } from '../sim/rng';
import { inProcessFleet, processFleet, type Fleet } from './fleet';

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
  /**
   * Tasks per warm-up round. Before the clock starts, rounds of this many tasks run with the stub
   * answering at once, through other worker instances on the same tables, until a round takes
   * within `warmupTolerance` of the one before (steady state) or `maxWarmupRounds` have run. A
   * fresh DynamoDB Local is a cold JVM and the workers' own code is not yet compiled: measured
   * from cold, storage calls take 1.5–2× as long as in steady state, which is the JIT, not the
   * design (nor DynamoDB, which is never cold). 0 measures from cold.
   * @default 200
   */
  readonly warmupTasks?: number;
  /** @default 8 */
  readonly maxWarmupRounds?: number;
  /** A round within this fraction of the round before ends the warm-up. @default 0.05 */
  readonly warmupTolerance?: number;
  /**
   * Each worker in its own Node process, as each is its own ECS task when deployed (the goal row).
   * `false` runs all of them on the bench's event loop beside the stub model and the intake, where
   * one worker's CPU burst (a reply parsed, a checkpoint marshalled) delays the others' timers and
   * sockets; `npm run bench` prints both.
   * @default true
   */
  readonly processes?: boolean;
}

export interface WorkerFleetResult {
  readonly workers: number;
  readonly tasks: number;
  readonly llmCallsPerTask: number;
  readonly modelLatencyMs: number;
  readonly latencyJitter: number;
  /** Tasks run (unmeasured) before the clock started, over all warm-up rounds. */
  readonly warmupTasks: number;
  /** Each warm-up round's time from its workers' start to its last DeleteMessage (ms): the last two within the tolerance unless the rounds ran out. */
  readonly warmupRoundsMs: readonly number[];
  /** Whether the warm-up reached steady state (two rounds within the tolerance) before `maxWarmupRounds`. */
  readonly warmupSteady: boolean;
  /** Where the workers ran: a process each, or all on the bench's event loop. */
  readonly workersIn: 'own processes' | 'one process';
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
  /**
   * CPU time (user + system) per task: the worker processes' own, or with `processes: false` the
   * bench's process (the workers, and the stub model and intake that share it).
   */
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

const waitFor = async (fleet: Fleet, done: () => boolean, deadline: number, what: () => string): Promise<void> => {
  while (!done()) {
    const failure = fleet.failure();
    if (failure !== undefined) throw new Error(`worker fleet bench: ${what()} when a worker failed: ${failure.message}`, { cause: failure });
    if (Date.now() > deadline) throw new Error(`worker fleet bench: ${what()} before the timeout`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/**
 * N workers (the real consumer, lease, checkpoint log and agent loop, each with its own clients)
 * against DynamoDB Local, fauxqs and a stub model of fixed latency. Warm-up rounds run first, until steady;
 * then the measured tasks are submitted through the intake before fresh workers start, so the
 * clock measures the workers only. The workers' clients carry a counting middleware, and the run
 * ends when the last task's message is deleted.
 */
export async function runWorkerFleetBench(options: WorkerFleetBenchOptions): Promise<WorkerFleetResult> {
  const workerCount = options.workers ?? 8;
  const taskCount = options.tasks ?? 64;
  const toolCalls = options.toolCalls ?? 2;
  const latency = options.modelLatencyMs ?? 250;
  const inProcesses = options.processes ?? true;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const region = 'us-east-1';
  const rawAdmin = new DynamoDBClient({ region, endpoint: options.dynamoEndpoint, credentials: CREDENTIALS });
  const admin = DynamoDBDocumentClient.from(rawAdmin, { marshallOptions: { removeUndefinedValues: true } });
  const adminSqs = new SQSClient({ region, endpoint: options.sqsEndpoint, credentials: CREDENTIALS });

  const resources = await provisionLocalResources(rawAdmin, adminSqs, { prefix: `bench-fleet-${randomBytes(4).toString('hex')}` });
  const jitter = options.latencyJitter ?? 0;
  const rng = seededRng(16_3);
  const warmupRoundTasks = options.warmupTasks ?? 200;
  const maxWarmupRounds = options.maxWarmupRounds ?? 8;
  const tolerance = options.warmupTolerance ?? 0.05;
  let warming = warmupRoundTasks > 0 && maxWarmupRounds > 0;
  const stub = await startStubModel({
    latencyMs: 0,
    intercept: () => ({ delayMs: warming ? 0 : jitter > 0 ? Math.round(latency * (1 - jitter + 2 * jitter * rng.next())) : latency }),
  });
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
  const submit = async (count: number, label: string): Promise<string[]> => {
    const taskIds: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await fetch(`${intake.url}/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: `${label} task ${i} [tools:${toolCalls}]` }),
      });
      const body = (await res.json()) as { taskId?: string };
      if (res.status !== 202 || body.taskId === undefined) throw new Error(`intake refused ${label} task ${i}: HTTP ${res.status} ${JSON.stringify(body)}`);
      taskIds.push(body.taskId);
    }
    return taskIds;
  };

  let deletes = 0;
  let timing = false;
  const claimAndLoad: number[] = [];
  const runs: number[] = [];
  const receivedAt = new Map<number, number>();
  const startedAt = new Map<string, number>();
  const hooks = {
    onDelete: () => void deletes++,
    onEvent: (member: number, e: { kind: string; at: number; taskId?: string }) => {
      if (!timing) return;
      if (e.kind === 'message_received') receivedAt.set(member, e.at);
      else if (e.kind === 'task_started' && e.taskId !== undefined) {
        startedAt.set(e.taskId, e.at);
        claimAndLoad.push(e.at - (receivedAt.get(member) ?? e.at));
      } else if (e.kind === 'task_finished' && e.taskId !== undefined) runs.push(e.at - (startedAt.get(e.taskId) ?? e.at));
    },
  };
  const setup = { dynamoEndpoint: options.dynamoEndpoint, sqsEndpoint: options.sqsEndpoint, tableName: resources.tasksTable, queues: resources.queues, modelUrl: stub.url };
  let fleet: Fleet | undefined;
  try {
    fleet = inProcesses ? await processFleet(workerCount, setup, hooks) : inProcessFleet(workerCount, setup, hooks);
    const warmupRoundsMs: number[] = [];
    let warmupSteady = false;
    for (let round = 1; warming && round <= maxWarmupRounds; round++) {
      await submit(warmupRoundTasks, `warm-up ${round}`);
      await fleet.prepare(`bench-warmup-${round}`);
      deletes = 0;
      const t0 = performance.now();
      await fleet.start();
      await waitFor(fleet, () => deletes >= warmupRoundTasks, Date.now() + timeoutMs, () => `${deletes} of ${warmupRoundTasks} tasks of warm-up round ${round} finished`);
      warmupRoundsMs.push(Math.round(performance.now() - t0));
      await fleet.stop();
      const [prev, last] = warmupRoundsMs.slice(-2);
      if (prev !== undefined && last !== undefined && Math.abs(last - prev) <= tolerance * prev) warmupSteady = true;
      if (warmupSteady) break;
    }
    warming = false;
    const taskIds = await submit(taskCount, 'bench');
    await fleet.prepare('bench-worker');
    deletes = 0;
    timing = true;
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    await fleet.start();
    await waitFor(fleet, () => deletes >= taskCount, Date.now() + timeoutMs, () => `${deletes} of ${taskCount} tasks finished`);
    const elapsedMs = performance.now() - started;
    const ownCpu = process.cpuUsage(cpuBefore);
    const { calls: counter, cpuMs } = await fleet.stop();
    const workerCpuMs = cpuMs ?? (ownCpu.user + ownCpu.system) / 1000;
    const callsByCommand = counter.snapshot();
    const meanMsByCommand = counter.meanMs();
    const storageMs = counter.totalMs();
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
      warmupTasks: warmupRoundsMs.length * warmupRoundTasks,
      warmupRoundsMs,
      warmupSteady,
      workersIn: inProcesses ? 'own processes' : 'one process',
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
        workerProcessCpuMs: round(workerCpuMs / taskCount),
      },
    };
  } finally {
    await fleet?.close();
    await intake.close();
    await stub.close();
    for (const c of [rawAdmin, adminSqs]) c.destroy();
  }
}
