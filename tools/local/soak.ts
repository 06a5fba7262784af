/**
 * `npm run soak`: one real worker process (the esbuild bundle, Node 22, --expose-gc) runs 1,000
 * tasks with growing conversations under a 512 MiB hard memory limit, and must neither be killed
 * nor grow its heap: the heap after the run (after a forced GC) must be within 20% of the heap
 * after the first 100 tasks. A small context budget makes long conversations trimmed on every
 * call, so the context-window path is soaked too.
 *
 * The limit is a cgroup: v1 (`/sys/fs/cgroup/memory/<name>/memory.limit_in_bytes`, what this
 * machine has), else v2 (`memory.max`). Root is needed to create it. The worker is put in the
 * cgroup before it execs node, so every byte it ever allocates counts.
 *
 * Knobs (env): SOAK_TASKS (1000), SOAK_BASELINE (100), SOAK_CONCURRENCY (4), SOAK_MEMORY_MB (512).
 *
 * `npm run soak -- --faults` runs the fault soak instead (tools/local/fault-soak.ts).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { staticKeyProvider } from '../../runtime/src/gateway/api-key-provider';
import { parseGatewayLimits } from '../../runtime/src/shared/gateway-limits';
import { createGatewayHandler } from '../../runtime/src/gateway/proxy';
import { freePort, node22Binary, startDynamoDbLocal, startFauxqs } from './emulators';
import { provisionLocalResources } from './provision';
import { startStubModel } from './stub-model';
import { runFaultSoak } from './fault-soak';
import { listen } from '../../runtime/src/shared/http';
import { silentLogger } from '../../runtime/src/shared/logger';
import { TaskStore } from '../../runtime/src/shared/task-store';
import { META_SK, taskPk } from '../../runtime/src/shared/task-model';

const TASKS = Number(process.env['SOAK_TASKS'] ?? 1000);
const BASELINE = Number(process.env['SOAK_BASELINE'] ?? 100);
const CONCURRENCY = Number(process.env['SOAK_CONCURRENCY'] ?? 4);
const MEMORY_MB = Number(process.env['SOAK_MEMORY_MB'] ?? 512);
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

interface Cgroup {
  readonly kind: string;
  readonly procs: string;
  peakBytes(): number | undefined;
  oomKills(): number | undefined;
  remove(): void;
}

/** A memory cgroup with a hard limit, v1 or v2, or a clear error saying what is missing. */
function createCgroup(name: string, bytes: number): Cgroup {
  const v1 = '/sys/fs/cgroup/memory';
  if (existsSync(join(v1, 'memory.limit_in_bytes')) || existsSync(join(v1, 'cgroup.procs'))) {
    const dir = join(v1, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'memory.limit_in_bytes'), String(bytes));
    // No swap to hide behind, like a Fargate task.
    try {
      writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), String(bytes));
    } catch {
      // swap accounting is off: the memory limit alone applies
    }
    const read = (file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : undefined);
    return {
      kind: `cgroup v1 ${dir} (memory.limit_in_bytes=${bytes})`,
      procs: join(dir, 'cgroup.procs'),
      peakBytes: () => Number(read('memory.max_usage_in_bytes') ?? NaN),
      oomKills: () => Number(/oom_kill (\d+)/.exec(read('memory.oom_control') ?? '')?.[1] ?? NaN),
      remove: () => rmdirSync(dir),
    };
  }
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    const dir = join('/sys/fs/cgroup', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'memory.max'), String(bytes));
    writeFileSync(join(dir, 'memory.swap.max'), '0');
    const read = (file: string) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : undefined);
    return {
      kind: `cgroup v2 ${dir} (memory.max=${bytes})`,
      procs: join(dir, 'cgroup.procs'),
      peakBytes: () => Number(read('memory.peak') ?? NaN),
      oomKills: () => Number(/oom_kill (\d+)/.exec(read('memory.events') ?? '')?.[1] ?? NaN),
      remove: () => rmdirSync(dir),
    };
  }
  throw new Error('No memory cgroup found (neither /sys/fs/cgroup/memory nor cgroup v2): run as root on a Linux host with the memory controller');
}

/** Undone in reverse on every exit path, so a failed soak leaves no emulator, worker or cgroup behind. */
const cleanups: (() => unknown)[] = [];
async function cleanup(): Promise<void> {
  for (const undo of cleanups.reverse()) await Promise.resolve(undo()).catch(() => undefined);
  cleanups.length = 0;
}

const mb = (bytes: number | undefined) => (bytes === undefined || Number.isNaN(bytes) ? 'n/a' : `${(bytes / 1048576).toFixed(1)} MiB`);

async function main(): Promise<void> {
  const t0 = Date.now();
  const [ddb, sqsEmu, stub] = await Promise.all([startDynamoDbLocal(), startFauxqs(), startStubModel({})]);
  cleanups.push(() => ddb.stop(), () => sqsEmu.stop(), () => stub.close());
  const rawDynamo = new DynamoDBClient({ region: 'us-east-1', endpoint: ddb.endpoint, credentials: CREDENTIALS });
  const dynamo = DynamoDBDocumentClient.from(rawDynamo);
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: sqsEmu.endpoint, credentials: CREDENTIALS });
  const resources = await provisionLocalResources(rawDynamo, sqs, { prefix: `soak${Date.now().toString(36)}`, visibilityTimeoutSeconds: 60, maxReceiveCount: 5 });
  // Unthrottled: the soak measures the worker's memory, not the gateway's pacing.
  const limits = parseGatewayLimits({ tiers: { sonnet: { models: ['claude-sonnet-5'], rpm: 1_000_000, itpm: 1_000_000_000, otpm: 1_000_000_000 } } });
  const gateway = await listen(createGatewayHandler({ upstreamUrl: stub.url, keys: staticKeyProvider('soak-stub'), logger: silentLogger, limits }), 0, silentLogger, '127.0.0.1');
  cleanups.push(() => gateway.close());

  const outdir = join('/tmp', `openclaw-soak-${process.pid}`);
  await build({ entryPoints: { worker: 'runtime/src/worker/main.ts' }, outdir, bundle: true, platform: 'node', target: 'node22', format: 'cjs', logLevel: 'error' });
  const cgroup = createCgroup(`openclaw-soak-${process.pid}`, MEMORY_MB * 1024 * 1024);
  cleanups.push(() => cgroup.remove());
  const port = await freePort();
  const env = {
    PATH: process.env['PATH'] ?? '',
    STAGE: 'local',
    LOG_LEVEL: 'warn',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
    AWS_ENDPOINT_URL_SQS: sqsEmu.endpoint,
    TASKS_TABLE: resources.tasksTable,
    QUEUE_URL_HIGH: resources.queues.high,
    QUEUE_URL_NORMAL: resources.queues.normal,
    GATEWAY_URL: gateway.url,
    PORT: String(port),
    WORKER_ID: 'soak-worker',
    WORKER_CONCURRENCY: String(CONCURRENCY),
    WAIT_TIME_SECONDS: '1',
    VISIBILITY_TIMEOUT_SECONDS: '60',
    // Small on purpose: conversations past ~6 steps are trimmed on every call.
    CONTEXT_TOKENS: '1000',
  };
  // stdout (warn-level JSON logs and several EMF metric lines per task) is dropped: the figures are what matter here.
  // The heap cap sits under the cgroup limit, as in the image (Node sizes its heap from the cgroup limit differently across releases, so the image caps it explicitly).
  const nodeCmd = [node22Binary(), '--expose-gc', `--max-old-space-size=${Math.floor(MEMORY_MB * 0.75)}`, join(outdir, 'worker.js')];
  const worker = spawn('/bin/sh', ['-c', `echo $$ > ${cgroup.procs} && exec "$@"`, 'soak-worker', ...nodeCmd], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  let exit: { code: number | null; signal: string | null } | undefined;
  worker.once('exit', (code, signal) => (exit = { code, signal }));
  cleanups.push(
    () =>
      new Promise((r) => {
        if (exit !== undefined) return r(undefined);
        worker.once('exit', r);
        worker.kill('SIGTERM');
      }),
  );

  const stats = async (gc: boolean) => {
    const res = await fetch(`http://127.0.0.1:${port}/stats${gc ? '?gc=1' : ''}`);
    return (await res.json()) as { processed: number; inFlight: number; memory: NodeJS.MemoryUsage };
  };
  const waitFor = async (processed: number) => {
    for (;;) {
      if (exit !== undefined) throw new Error(`worker died: ${JSON.stringify(exit)} (137/SIGKILL = OOM-killed by the cgroup)`);
      const s = await stats(false).catch(() => undefined);
      if (s !== undefined && s.processed >= processed) return s;
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  // Growing conversations: 1 to 12 tool steps (3 to 25 checkpoints), the longer ones trimmed when sent.
  const store = new TaskStore({ client: dynamo, tableName: resources.tasksTable });
  const ids: string[] = [];
  const now = new Date().toISOString();
  for (let i = 0; i < TASKS; i += 1) {
    const taskId = randomUUID();
    ids.push(taskId);
    const prompt = `soak task ${i}: ${'context '.repeat(20 + (i % 40))}[tools:${1 + (i % 12)}]`;
    await store.create({ taskId, status: 'QUEUED', priority: 'normal', prompt, createdAt: now, updatedAt: now });
  }
  for (let i = 0; i < ids.length; i += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: resources.queues.normal,
        Entries: ids.slice(i, i + 10).map((taskId, j) => ({ Id: String(j), MessageBody: JSON.stringify({ taskId }) })),
      }),
    );
  }
  process.stdout.write(`soak: ${TASKS} tasks queued; worker pid ${worker.pid} in ${cgroup.kind}, concurrency ${CONCURRENCY}\n`);

  const started = Date.now();
  await waitFor(BASELINE);
  const baseline = await stats(true);
  process.stdout.write(`soak: baseline after ${baseline.processed} tasks: heapUsed ${mb(baseline.memory.heapUsed)}, rss ${mb(baseline.memory.rss)}\n`);
  const countStatuses = async () => {
    const statuses = new Map<string, number>();
    for (let i = 0; i < ids.length; i += 100) {
      const out = await dynamo.send(
        new BatchGetCommand({
          RequestItems: {
            [resources.tasksTable]: { Keys: ids.slice(i, i + 100).map((id) => ({ pk: taskPk(id), sk: META_SK })), ProjectionExpression: '#s', ExpressionAttributeNames: { '#s': 'status' } },
          },
        }),
      );
      for (const item of out.Responses?.[resources.tasksTable] ?? []) statuses.set(String(item['status']), (statuses.get(String(item['status'])) ?? 0) + 1);
    }
    return statuses;
  };
  let lastPrint = Date.now();
  let statuses: Map<string, number>;
  for (;;) {
    const s = await waitFor(0);
    if (s.processed >= TASKS && s.inFlight === 0) {
      // Processed counts deliveries; done means every task is terminal.
      statuses = await countStatuses();
      if ((statuses.get('SUCCEEDED') ?? 0) + (statuses.get('FAILED') ?? 0) + (statuses.get('CANCELLED') ?? 0) === TASKS) break;
    }
    if (Date.now() - lastPrint > 20_000) {
      lastPrint = Date.now();
      process.stdout.write(`soak: ${s.processed}/${TASKS} after ${Math.round((lastPrint - started) / 1000)} s, heapUsed ${mb(s.memory.heapUsed)}, rss ${mb(s.memory.rss)}\n`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const final = await stats(true);
  const elapsedS = (Date.now() - started) / 1000;

  const growth = final.memory.heapUsed / baseline.memory.heapUsed - 1;
  const figures = {
    tasks: TASKS,
    statuses: Object.fromEntries(statuses),
    elapsedS: Math.round(elapsedS),
    tasksPerSecond: Number((TASKS / elapsedS).toFixed(2)),
    memoryLimit: `${MEMORY_MB} MiB (${cgroup.kind})`,
    heapAfterBaseline: mb(baseline.memory.heapUsed),
    heapAfterRun: mb(final.memory.heapUsed),
    heapGrowthPercent: Number((growth * 100).toFixed(1)),
    rssAfterRun: mb(final.memory.rss),
    cgroupPeak: mb(cgroup.peakBytes()),
    oomKills: cgroup.oomKills(),
    workerAlive: exit === undefined,
  };
  process.stdout.write(`soak figures: ${JSON.stringify(figures, null, 2)}\n`);

  await cleanup();
  dynamo.destroy();
  sqs.destroy();
  const ok = figures.workerAlive && growth <= 0.2 && (statuses.get('SUCCEEDED') ?? 0) === TASKS;
  process.stdout.write(`soak: ${ok ? 'PASS' : 'FAIL'} (heap growth ${figures.heapGrowthPercent}% <= 20%, all SUCCEEDED, not killed) in ${Math.round((Date.now() - t0) / 1000)} s\n`);
  process.exit(ok ? 0 : 1);
}

if (process.argv.includes('--faults')) {
  // The fault soak (tools/local/fault-soak.ts): every fault at once over 300+ tasks.
  runFaultSoak();
} else {
  main().catch(async (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    await cleanup();
    process.exit(1);
  });
}
