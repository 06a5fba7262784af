/**
 * `npm run soak -- --faults`: at least 300 tasks through the local system with every fault at once:
 *  - 5% of DynamoDB calls throttled (ProvisionedThroughputExceeded / ThrottlingException, injected
 *    at the SDK by middleware, so the SDK retries them as it would real ones; tools/local/sdk-faults.ts),
 *  - 5% of the workers' SQS ReceiveMessage calls failing,
 *  - the gateway (its own process, the esbuild bundle) restarted with SIGTERM while calls are in flight,
 *  - two minutes of provider 429s and 529s from the stub model (half the calls in that window),
 *  - a few tasks longer than the worker's health window (slow model replies).
 * Workers run in this process (createWorker, the same wiring as the image) so their DynamoDB and SQS
 * clients can carry the fault middleware; the dead-letter sweeper runs as in every deployed worker.
 *
 * Prints: tasks SUCCEEDED / FAILED / lost, side effects run twice, receives spent on provider
 * faults, LLM calls repeated after a checkpoint. Exits 0 only when all succeeded, none was lost,
 * nothing ran twice and no receive was spent on a provider fault.
 *
 * Knobs (env): SOAK_FAULT_TASKS (300), SOAK_WORKERS (4), SOAK_CONCURRENCY (4), SOAK_WEATHER_S (120),
 * SOAK_LONG_TASKS (3), SOAK_DEADLINE_S (900).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { build } from 'esbuild';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { silentLogger } from '../../runtime/src/shared/logger';
import type { TaskRecord } from '../../runtime/src/shared/task-model';
import { TaskStore } from '../../runtime/src/shared/task-store';
import { CheckpointLog } from '../../runtime/src/worker/checkpoint-log';
import { createWorker } from '../../runtime/src/worker/create-worker';
import { judgeHealth } from '../../runtime/src/worker/health';
import { startDeadLetterSweeper } from '../../runtime/src/worker/dead-letter-wiring';
import { anthropicModelClient } from '../../runtime/src/worker/model-client';
import { allNoteInvocations, llmStepToolResults } from '../../test/runtime/worker/harness';
import { freePort, node22Binary, startDynamoDbLocal, startFauxqs } from './emulators';
import { provisionLocalResources } from './provision';
import { failSqsReceives, throttleDynamo } from './sdk-faults';
import { providerWeather, startStubModel } from './stub-model';

const TASKS = Number(process.env['SOAK_FAULT_TASKS'] ?? 300);
const WORKERS = Number(process.env['SOAK_WORKERS'] ?? 4);
const CONCURRENCY = Number(process.env['SOAK_CONCURRENCY'] ?? 4);
const WEATHER_MS = Number(process.env['SOAK_WEATHER_S'] ?? 120) * 1000;
const LONG_TASKS = Number(process.env['SOAK_LONG_TASKS'] ?? 3);
const DEADLINE_MS = Number(process.env['SOAK_DEADLINE_S'] ?? 900) * 1000;
/**
 * The window in which a worker without progress is replaced as deployed: an idle poll loop is
 * stalled after 120 s (runtime/src/worker/health.ts), then ECS needs 3 failed checks 15 s apart.
 * The long tasks outlast it; the soak samples each worker's own /health verdict while they run.
 */
const HEALTH_WINDOW_MS = 120_000 + 3 * 15_000;
/** A long task: 9 model calls of 20 s each, about 180 s, longer than the health window. */
const LONG_TOOLS = 8;
const LONG_CALL_MS = 20_000;
const MAX_RECEIVES = 5;
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const region = 'us-east-1';

const cleanups: (() => unknown)[] = [];
async function cleanup(): Promise<void> {
  for (const undo of cleanups.reverse()) await Promise.resolve(undo()).catch(() => undefined);
  cleanups.length = 0;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stdout.write(`fault soak: ${line}\n`);

/** A provider fault as the worker sees it after the SDK's retries: rate limit, overload, 5xx, connection, timeout, bad key. */
function isProviderFault(error: Error): boolean {
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number' && (status === 401 || status === 403 || status === 408 || status === 429 || status >= 500)) return true;
  return /overloaded|rate.?limit|\b(429|529|50\d)\b|connection|ECONNRE|socket hang up|timed? ?out|circuit/i.test(`${error.name} ${error.message}`);
}

async function startGatewayProcess(bundle: string, env: Record<string, string>): Promise<{ child: ChildProcess; exited: Promise<number | null> }> {
  const child = spawn(node22Binary(), [bundle], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${env['PORT']}/health`;
  for (let i = 0; i < 100; i += 1) {
    if ((await fetch(url).then((r) => r.status).catch(() => 0)) === 200) return { child, exited };
    await sleep(100);
  }
  throw new Error(`the gateway process did not answer ${url} within 10 s`);
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const [ddb, sqsEmu] = await Promise.all([startDynamoDbLocal(), startFauxqs()]);
  cleanups.push(() => ddb.stop(), () => sqsEmu.stop());
  // The weather starts 30 s after the tasks are queued (set below), so it hits a busy fleet.
  let weatherStart = Number.MAX_SAFE_INTEGER;
  const weather = providerWeather({ startMs: () => weatherStart, durationMs: WEATHER_MS });
  const stub = await startStubModel({
    latencyMs: 50,
    intercept: (call) => weather.intercept(call) ?? (call.prompt.includes('[long]') ? { delayMs: LONG_CALL_MS } : undefined),
  });
  cleanups.push(() => stub.close());

  // The soak's own view of the table: no faults.
  const cleanRaw = new DynamoDBClient({ region, endpoint: ddb.endpoint, credentials: CREDENTIALS });
  const clean = DynamoDBDocumentClient.from(cleanRaw, { marshallOptions: { removeUndefinedValues: true } });
  const cleanSqs = new SQSClient({ region, endpoint: sqsEmu.endpoint, credentials: CREDENTIALS });
  cleanups.push(() => clean.destroy(), () => cleanSqs.destroy());
  const resources = await provisionLocalResources(cleanRaw, cleanSqs, { prefix: `fsoak${Date.now().toString(36)}`, visibilityTimeoutSeconds: 30, maxReceiveCount: MAX_RECEIVES });

  // The gateway as deployed: its own process, shared limits in DynamoDB, restartable on a fixed port.
  const outdir = join('/tmp', `openclaw-fault-soak-${process.pid}`);
  await build({ entryPoints: { gateway: 'runtime/src/gateway/main.ts' }, outdir, bundle: true, platform: 'node', target: 'node22', format: 'cjs', logLevel: 'error' });
  const gatewayPort = await freePort();
  const gatewayEnv = {
    PATH: process.env['PATH'] ?? '',
    STAGE: 'local',
    LOG_LEVEL: 'error',
    AWS_REGION: region,
    AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
    TASKS_TABLE: resources.tasksTable,
    GATEWAY_TABLE: resources.gatewayTable,
    UPSTREAM_URL: stub.url,
    ANTHROPIC_API_KEY: 'fault-soak-stub',
    PORT: String(gatewayPort),
    // Far above what the stub serves: the faults are the provider's, not our own limits.
    GATEWAY_LIMITS: JSON.stringify({ tiers: { sonnet: { models: ['claude-sonnet-5'], rpm: 1_000_000, itpm: 1_000_000_000, otpm: 1_000_000_000 } } }),
  };
  let gateway = await startGatewayProcess(join(outdir, 'gateway.js'), gatewayEnv);
  cleanups.push(() => {
    gateway.child.kill('SIGKILL');
    return gateway.exited;
  });
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;

  // Workers with faulty clients (ports, as deployed code takes them).
  const faultyRaw = new DynamoDBClient({ region, endpoint: ddb.endpoint, credentials: CREDENTIALS });
  const dynamoFaults = throttleDynamo(faultyRaw, 0.05);
  const faultyDynamo = DynamoDBDocumentClient.from(faultyRaw, { marshallOptions: { removeUndefinedValues: true } });
  const faultySqs = new SQSClient({ region, endpoint: sqsEmu.endpoint, credentials: CREDENTIALS });
  const sqsFaults = failSqsReceives(faultySqs, 0.05);
  cleanups.push(() => faultyDynamo.destroy(), () => faultySqs.destroy());
  const failures = { provider: 0, other: 0, final: 0, samples: [] as string[] };
  const handBacks = new Map<string, number>();
  const workers = Array.from({ length: WORKERS }, (_, i) => {
    const worker = createWorker({
      dynamo: faultyDynamo,
      sqs: faultySqs,
      tableName: resources.tasksTable,
      queues: resources.queues,
      model: anthropicModelClient({ baseURL: gatewayUrl }),
      modelName: 'claude-sonnet-5',
      logger: silentLogger,
      workerId: `fault-soak-${i + 1}`,
      taskRetentionDays: 30,
      visibilityTimeoutSeconds: 30,
      waitTimeSeconds: 1,
      maxReceiveCount: MAX_RECEIVES,
      concurrency: CONCURRENCY,
    });
    worker.events.on('task_failed', (e) => {
      if (isProviderFault(e.error)) failures.provider += 1;
      else failures.other += 1;
      if (e.final) failures.final += 1;
      if (failures.samples.length < 8) failures.samples.push(`${e.error.name}: ${e.error.message.slice(0, 160)}`);
    });
    worker.events.on('task_handed_back', (e) => handBacks.set(e.reason, (handBacks.get(e.reason) ?? 0) + 1));
    return worker;
  });
  await Promise.all(workers.map((w) => w.start()));
  cleanups.push(() => Promise.all(workers.map((w) => w.stop(10_000))));
  const sweeper = startDeadLetterSweeper(
    { deadLetter: { queueUrl: resources.dlqUrl, sweepMs: 5_000 }, tasksTable: resources.tasksTable, taskRetentionDays: 30, maxReceiveCount: MAX_RECEIVES },
    { dynamo: faultyDynamo, sqs: faultySqs, logger: silentLogger },
  );
  cleanups.push(() => sweeper?.stop());

  // The tasks: 2 tool steps each (one record_note, a side effect keyed by taskId/toolUseId), a few long ones.
  const store = new TaskStore({ client: clean, tableName: resources.tasksTable });
  const prompts = new Map<string, string>();
  const now = new Date().toISOString();
  for (let i = 0; i < TASKS; i += 1) {
    const taskId = randomUUID();
    const long = i < LONG_TASKS;
    const prompt = long ? `fault soak ${i} ${taskId} [long] [tools:${LONG_TOOLS}]` : `fault soak ${i} ${taskId} [tools:2]`;
    prompts.set(taskId, prompt);
    await store.create({ taskId, status: 'QUEUED', priority: i % 5 === 0 ? 'high' : 'normal', prompt, createdAt: now, updatedAt: now });
  }
  const ids = [...prompts.keys()];
  for (let i = 0; i < ids.length; i += 10) {
    const batch = ids.slice(i, i + 10);
    for (const priority of ['high', 'normal'] as const) {
      const entries = batch.filter((id) => (ids.indexOf(id) % 5 === 0) === (priority === 'high')).map((id, j) => ({ Id: String(j), MessageBody: JSON.stringify({ taskId: id }) }));
      if (entries.length > 0) await cleanSqs.send(new SendMessageBatchCommand({ QueueUrl: resources.queues[priority], Entries: entries }));
    }
  }
  const started = Date.now();
  weatherStart = started + 30_000;
  log(`${TASKS} tasks queued (${LONG_TASKS} of ~${Math.round(((LONG_TOOLS + 1) * LONG_CALL_MS) / 1000)} s, health window ${HEALTH_WINDOW_MS / 1000} s); ${WORKERS}x${CONCURRENCY} worker slots`);
  log(`provider weather from +${Math.round((weatherStart - started) / 1000)} s for ${WEATHER_MS / 1000} s; gateway restart at +60 s; 5% DynamoDB throttles, 5% SQS receive errors throughout`);

  // The gateway restart, mid-stream: SIGTERM while calls are in flight, a new process on the same port.
  const restart = (async () => {
    await sleep(Math.max(0, started + 60_000 - Date.now()));
    const inFlight = stub.calls.length;
    gateway.child.kill('SIGTERM');
    const code = await gateway.exited;
    gateway = await startGatewayProcess(join(outdir, 'gateway.js'), gatewayEnv);
    log(`gateway restarted (old exited ${String(code)}; ${inFlight} model calls so far)`);
  })();

  // Health: a worker busy on a long task must keep answering healthy (the verdict /health gives).
  const health = { samples: 0, unhealthy: 0 };
  const healthWatch = setInterval(() => {
    for (const w of workers) {
      health.samples += 1;
      if (!judgeHealth(w.healthSnapshot(), Date.now(), { busyStallMs: w.leaseMs }).healthy) health.unhealthy += 1;
    }
  }, 2000);
  cleanups.push(() => clearInterval(healthWatch));

  const final = new Map<string, TaskRecord>();
  let lastReport = Date.now();
  while (final.size < ids.length && Date.now() - started < DEADLINE_MS) {
    for (const id of ids.filter((i) => !final.has(i))) {
      const t = await store.get(id);
      if (t !== undefined && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(t.status)) final.set(id, t);
    }
    if (Date.now() - lastReport > 15_000) {
      lastReport = Date.now();
      log(`${final.size}/${ids.length} finished after ${Math.round((lastReport - started) / 1000)} s`);
    }
    await sleep(2000);
  }
  await restart;
  const elapsedS = Math.round((Date.now() - started) / 1000);

  // Side effects twice, LLM calls repeated after their checkpoint (as the chaos test measures them).
  const notes = await allNoteInvocations({ dynamo: clean }, resources.tasksTable);
  const twice = [...notes.values()].filter((n) => n > 1).length;
  const checkpoints = new CheckpointLog({ client: clean, tableName: resources.tasksTable });
  const llmCalls = stub.calls.filter((c) => c.prompt !== 'ping');
  const byPrompt = new Map<string, typeof llmCalls>();
  for (const c of llmCalls) byPrompt.set(c.prompt, [...(byPrompt.get(c.prompt) ?? []), c]);
  let repeatedAfterCheckpoint = 0;
  let longestMs = 0;
  for (const taskId of ids) {
    const steps = await checkpoints.list(taskId);
    const calls = byPrompt.get(prompts.get(taskId) ?? '') ?? [];
    for (const step of llmStepToolResults(steps)) repeatedAfterCheckpoint += calls.filter((c) => c.toolResults === step.toolResults && c.at > step.createdAt).length;
    const t = final.get(taskId);
    if (t?.startedAt !== undefined && t.finishedAt !== undefined) longestMs = Math.max(longestMs, Date.parse(t.finishedAt) - Date.parse(t.startedAt));
  }
  const statuses = [...final.values()];
  const succeeded = statuses.filter((t) => t.status === 'SUCCEEDED').length;
  const failed = statuses.filter((t) => t.status === 'FAILED');
  const lost = ids.length - final.size;
  const lostTasks = await Promise.all(
    ids
      .filter((id) => !final.has(id))
      .slice(0, 10)
      .map(async (id) => {
        const t = await store.get(id);
        return `${id}: ${t?.status ?? 'no row'} attempts=${t?.attempts ?? 0} ${prompts.get(id)?.includes('[long]') === true ? 'long' : 'short'} steps=${(await checkpoints.list(id)).length}`;
      }),
  );
  const extraReceives = statuses.reduce((n, t) => n + Math.max(0, (t.attempts ?? 1) - 1), 0);
  const figures = {
    tasks: ids.length,
    succeeded,
    failed: failed.length,
    lost,
    sideEffectsRunTwice: twice,
    receivesSpentOnProviderFaults: failures.provider,
    llmCallsRepeatedAfterCheckpoint: repeatedAfterCheckpoint,
    receivesSpentOnOtherFailures: failures.other,
    tasksFailedOnLastReceive: failures.final,
    attemptsBeyondFirst: extraReceives,
    handBacks: Object.fromEntries(handBacks),
    failedErrors: Object.fromEntries(
      failed.reduce((m, t) => m.set(t.error?.type ?? '?', (m.get(t.error?.type ?? '?') ?? 0) + 1), new Map<string, number>()),
    ),
    failureSamples: failures.samples,
    lostTasks,
    injected: {
      dynamoThrottles: `${dynamoFaults.injected}/${dynamoFaults.calls} attempts`,
      sqsReceiveErrors: `${sqsFaults.injected}/${sqsFaults.calls} receives`,
      provider429: weather.injected.rateLimited,
      provider529: weather.injected.overloaded,
      gatewayRestarts: 1,
    },
    longestTaskS: Math.round(longestMs / 1000),
    healthWindowS: HEALTH_WINDOW_MS / 1000,
    workerHealthSamplesUnhealthy: `${health.unhealthy}/${health.samples}`,
    llmCalls: llmCalls.length,
    elapsedS,
  };
  process.stdout.write(`fault soak figures: ${JSON.stringify(figures, null, 2)}\n`);
  await cleanup();
  const ok = succeeded === ids.length && lost === 0 && twice === 0 && failures.provider === 0;
  log(
    `${ok ? 'PASS' : 'FAIL'}: SUCCEEDED ${succeeded}/${ids.length}, FAILED ${failed.length}, lost ${lost}, side effects twice ${twice}, receives spent on provider faults ${failures.provider}, LLM calls repeated after a checkpoint ${repeatedAfterCheckpoint} (${Math.round((Date.now() - t0) / 1000)} s)`,
  );
  process.exit(ok ? 0 : 1);
}

export function runFaultSoak(): void {
  main().catch(async (err: unknown) => {
    process.stderr.write(`fault soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await cleanup();
    process.exit(1);
  });
}

if (require.main === module) runFaultSoak();
