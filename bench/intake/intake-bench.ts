import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { ApiKeyAuthenticator } from '../../runtime/src/intake/api-keys';
import { hashApiKey } from '../../runtime/src/shared/api-keys';
import { INTAKE_MAX_SOCKETS, createIntakeHandler } from '../../runtime/src/intake/app';
import { createAwsClients, type AwsClients } from '../../runtime/src/shared/aws-clients';
import { SharedKeyRateLimiter } from '../../runtime/src/intake/shared-rate-limiter';
import { listen } from '../../runtime/src/shared/http';
import { DEFAULT_TASK_RETENTION_DAYS, TASK_TTL_ATTRIBUTE } from '../../runtime/src/shared/task-retention';
import { silentLogger } from '../../runtime/src/shared/logger';
import { provisionLocalResources, type LocalResources } from '../../tools/local/provision';
import { benchEmulators, type BenchEmulators } from '../support/emulators';
import { startServiceProcess } from '../../tools/local/service-process';

export interface IntakeBenchOptions {
  /** Submissions through the intake (and bare SendMessage calls to compare with). @default 2000 */
  readonly total?: number;
  /** Requests in flight at once. @default 200 */
  readonly concurrency?: number;
  /** Reuse running emulators; otherwise DynamoDB Local and fauxqs are started and stopped. */
  readonly dynamoEndpoint?: string;
  readonly sqsEndpoint?: string;
  /** Process IDs of the given emulators, so their CPU per call can be read too. @default not read */
  readonly emulatorPids?: BenchEmulators['pids'];
  /**
   * Run the intake as deployed, its bundled main in its own process (its own event loop, tracing
   * and EMF on as in the image), rather than its handler on the load driver's event loop.
   * @default true
   */
  readonly ownProcess?: boolean;
  /**
   * Also run the same intake with INTAKE_BATCH_WRITES=off, its phases alternating with the others,
   * so the group commit's effect is measured side by side.
   * @default true
   */
  readonly compareUnbatched?: boolean;
}

/** One intake configuration's accept phase. */
export interface AcceptSide {
  readonly statuses: Readonly<Record<string, number>>;
  readonly accepted: number;
  readonly acceptMs: LatencySummary;
  readonly acceptPerSecond: number;
  readonly acceptsPerCpuSecond: number;
  /** CPU ms per accept of the intake itself (its process; on the driver's loop, this whole process). */
  readonly intakeCpuMsPerAccept: number;
  /** AWS requests the intake made per accept (warm-up included), by service; undefined on the driver's loop. */
  readonly requestsPerAccept?: { readonly dynamodb: number; readonly sqs: number; readonly byAction: Readonly<Record<string, number>> };
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

export interface IntakeBenchResult {
  readonly total: number;
  readonly concurrency: number;
  /** Where the intake ran: its own process (as deployed) or on the driver's event loop. */
  readonly intake: 'own process' | 'driver process';
  /** 1-minute load average and core count at the end of the run: absolute figures mean little on a busy machine. */
  readonly machine: { readonly loadAverage1m: number; readonly cores: number };
  /** The same intake with INTAKE_BATCH_WRITES=off, in the same run; undefined when not compared. */
  readonly unbatched?: AcceptSide;
  /** AWS requests per accept of the (batched) intake; undefined on the driver's loop. */
  readonly requestsPerAccept?: AcceptSide['requestsPerAccept'];
  /** HTTP status -> count for the intake submissions. */
  readonly statuses: Readonly<Record<string, number>>;
  readonly accepted: number;
  /** 202 latency, ms, measured at the client on loopback. */
  readonly acceptMs: LatencySummary;
  readonly acceptPerSecond: number;
  /**
   * Accepts per second of the intake's CPU time while submitting: its own process's, or (on the
   * driver's event loop) this whole process's, which understates what one core of intake accepts.
   */
  readonly acceptsPerCpuSecond: number;
  /** The goal of issue #16: accept p99 at most 2x a bare SendMessage's at the same concurrency. */
  readonly goal: { readonly p99RatioAtMost: number; readonly met: boolean };
  /** The same number of bare SendMessage calls at the same concurrency, in the same run. */
  readonly sendMessageMs: LatencySummary;
  /** The same number of bare conditional PutItem calls (the task row write), for context. */
  readonly putItemMs: LatencySummary;
  /**
   * The accept's own two calls with no intake around them: a task-row-sized conditional PutItem and
   * a SendMessage sent side by side per job, at the same concurrency. What these emulators and the
   * SDK allow any design that stores and enqueues before answering; accept ÷ floor is the intake's share.
   */
  readonly floorMs: LatencySummary;
  /**
   * CPU time (ms) per call or accept, by process, over each phase: who the shared cores went to.
   * `driver` is this process; on the driver's event loop it includes the intake.
   */
  readonly cpuMsPer: {
    /** False when the emulators were given by endpoint (not started here): their CPU is not read. */
    readonly emulatorsRead: boolean;
    readonly accept: { readonly intake: number; readonly driver: number; readonly dynamodbLocal: number; readonly fauxqs: number };
    readonly sendMessage: { readonly driver: number; readonly fauxqs: number };
    readonly floor: { readonly driver: number; readonly dynamodbLocal: number; readonly fauxqs: number };
  };
  /**
   * acceptMs / sendMessageMs: what the intake costs over the one SQS call it cannot avoid;
   * `p50VsPutPlusSend` divides by PutItem p50 + SendMessage p50, the two calls on the accept path.
   */
  readonly ratio: { readonly p50: number; readonly p99: number; readonly p50VsPutPlusSend: number; readonly p50VsFloor: number; readonly p99VsFloor: number };
  readonly exactlyOnce: {
    readonly rowsInTable: number;
    readonly messagesInQueue: number;
    readonly acceptedMissingFromTable: number;
    readonly acceptedMissingFromQueue: number;
    readonly duplicateMessages: number;
    /** Messages of refused (503) submissions, with no runnable row: a worker drops them. */
    readonly orphanMessages: number;
    /** Messages of tasks that were not accepted but have a runnable row (would run after a 503). */
    readonly unexpectedMessages: number;
    /** Runnable rows of tasks that were not accepted. */
    readonly unexpectedRows: number;
    /** Every accepted task stored once and enqueued once, and nothing refused left runnable. */
    readonly ok: boolean;
  };
}

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const CLOCK_TICKS_PER_S = 100;

/** User + system CPU ms of a process so far (/proc/<pid>/stat fields 14 and 15); 0 when it is not ours to read. */
function processCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return 0;
  }
}
/** Issue #16: accept p99 at most this multiple of a bare SendMessage's p99. */
const P99_GOAL = 2;

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1] ?? 0),
    mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)),
  };
}

/** Run `total` jobs with at most `concurrency` in flight. */
async function pool(total: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) await job(next++);
    }),
  );
}

function post(agent: Agent, port: number, token: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/v1/tasks', agent, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Every message in the queue, received (and deleted) until it answers empty twice in a row. */
async function drain(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const ids: string[] = [];
  let empty = 0;
  while (empty < 2) {
    const batches = await Promise.all(
      Array.from({ length: 4 }, () => sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 600 }))),
    );
    const messages = batches.flatMap((b) => b.Messages ?? []);
    empty = messages.length === 0 ? empty + 1 : 0;
    for (const m of messages) ids.push((JSON.parse(m.Body ?? '{}') as { taskId: string }).taskId);
    for (let i = 0; i < messages.length; i += 10) {
      const entries = messages.slice(i, i + 10).map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle }));
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    }
  }
  return ids;
}

/** Task ID -> whether its row is runnable (not the `not_accepted` tombstone a failed submission leaves). */
async function taskRows(dynamo: DynamoDBDocumentClient, tableName: string): Promise<Map<string, boolean>> {
  const ids = new Map<string, boolean>();
  let start: Record<string, unknown> | undefined;
  do {
    const out = await dynamo.send(
      new ScanCommand({ TableName: tableName, FilterExpression: 'sk = :meta', ExpressionAttributeValues: { ':meta': 'META' }, ...(start !== undefined ? { ExclusiveStartKey: start } : {}) }),
    );
    for (const item of out.Items ?? []) ids.set(String(item['taskId']), (item['error'] as { type?: string } | undefined)?.type !== 'not_accepted');
    start = out.LastEvaluatedKey;
  } while (start !== undefined);
  return ids;
}

/** The intake under test: where to send, its CPU so far, and how to stop it. */
interface IntakeUnderTest {
  readonly port: number;
  /** CPU ms of the intake's own process so far (0 on the driver's loop: this process's CPU counts it). */
  cpuMs(): number;
  close(): Promise<void>;
  /** Where its AWS requests are recorded (own process only). */
  readonly callRecordFile?: string;
}

/** The intake's AWS requests by service and action, from its call record. */
function recordedRequests(file: string | undefined, accepts: number): AcceptSide['requestsPerAccept'] {
  if (file === undefined || !existsSync(file)) return undefined;
  const byAction: Record<string, number> = {};
  let dynamodb = 0;
  let sqsCalls = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line) as { kind?: string; awsService?: string; action?: string };
    if (record.kind !== 'aws') continue;
    if (record.awsService === 'dynamodb') dynamodb += 1;
    if (record.awsService === 'sqs') sqsCalls += 1;
    const key = `${record.awsService ?? '?'}:${record.action ?? '?'}`;
    byAction[key] = (byAction[key] ?? 0) + 1;
  }
  const per = (n: number) => Math.round((n / Math.max(1, accepts)) * 1000) / 1000;
  return { dynamodb: per(dynamodb), sqs: per(sqsCalls), byAction };
}

/** The bundled intake main in its own process, configured as a deployed one is (through its env). */
async function intakeProcess(emulators: BenchEmulators, resources: LocalResources, token: string, batchWrites: boolean, callRecordFile: string): Promise<IntakeUnderTest> {
  const intake = await startServiceProcess('intake', {
    LOG_LEVEL: 'warn',
    INTAKE_BATCH_WRITES: batchWrites ? 'on' : 'off',
    // Every AWS request the intake makes, one JSON line each: requests per accept.
    CALL_RECORD_FILE: callRecordFile,
    TASKS_TABLE: resources.tasksTable,
    QUEUE_URL_HIGH: resources.queues.high,
    QUEUE_URL_NORMAL: resources.queues.normal,
    AWS_ENDPOINT_URL_DYNAMODB: emulators.dynamoEndpoint,
    AWS_ENDPOINT_URL_SQS: emulators.sqsEndpoint,
    INTAKE_API_KEYS: JSON.stringify([{ name: 'bench', sha256: hashApiKey(token), maxPriority: 'high', ratePerMinute: 10_000_000 }]),
  });
  return { port: Number(new URL(intake.url).port), cpuMs: () => intake.cpuMs(), close: () => intake.stop(), callRecordFile };
}

/** The intake's handler on this process's event loop, with its clients built as main.ts builds them. */
async function intakeOnThisLoop(intakeAws: AwsClients, resources: LocalResources, token: string, batchWrites: boolean): Promise<IntakeUnderTest> {
  const server = await listen(
    createIntakeHandler({
      batchWrites,
      dynamo: intakeAws.dynamo,
      sqs: intakeAws.sqs,
      tableName: resources.tasksTable,
      queues: resources.queues,
      auth: new ApiKeyAuthenticator([{ name: 'bench', sha256: hashApiKey(token), maxPriority: 'high', ratePerMinute: 10_000_000 }]),
      // The production path: the key's rate is counted in DynamoDB, one UpdateItem per reserved slice.
      rateLimiter: new SharedKeyRateLimiter({ client: intakeAws.dynamo, tableName: resources.tasksTable, logger: silentLogger }),
      logger: silentLogger,
      taskRetentionDays: DEFAULT_TASK_RETENTION_DAYS,
    }),
    0,
    silentLogger,
    '127.0.0.1',
  );
  return { port: server.port, cpuMs: () => 0, close: () => server.close() };
}

/**
 * The intake under a burst on loopback against DynamoDB Local and fauxqs: `total` submissions at
 * `concurrency`, then the same number of bare SendMessage calls, alternating in two halves so load
 * drift on a shared machine hits every side alike (bare PutItem calls, and the floor: PutItem ‖ SendMessage with no intake). Then every accepted ID is checked: one row in
 * the table, exactly one message in the queue.
 */
export async function runIntakeBench(options: IntakeBenchOptions = {}): Promise<IntakeBenchResult> {
  const total = options.total ?? 2000;
  const concurrency = options.concurrency ?? 200;
  const emulators = await benchEmulators({
    ...(options.dynamoEndpoint !== undefined ? { dynamoEndpoint: options.dynamoEndpoint } : {}),
    ...(options.sqsEndpoint !== undefined ? { sqsEndpoint: options.sqsEndpoint } : {}),
  });
  // The SDK's own socket pool (50 by default) would queue requests client-side and hide the intake's latency.
  const sdkAgent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const requestHandler = { httpAgent: sdkAgent, requestTimeout: 30_000 };
  const rawDynamo = new DynamoDBClient({ region: 'us-east-1', endpoint: emulators.dynamoEndpoint, credentials: CREDENTIALS, requestHandler });
  const dynamo = DynamoDBDocumentClient.from(rawDynamo, { marshallOptions: { removeUndefinedValues: true } });
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: emulators.sqsEndpoint, credentials: CREDENTIALS, requestHandler });
  const clientAgent = new Agent({ keepAlive: true, maxSockets: concurrency });
  // The intake's own clients are built as main.ts builds them (keep-alive, INTAKE_MAX_SOCKETS).
  const intakeAws = createAwsClients({ region: 'us-east-1', dynamoEndpoint: emulators.dynamoEndpoint, sqsEndpoint: emulators.sqsEndpoint }, { service: 'intake', maxSockets: INTAKE_MAX_SOCKETS });
  try {
    const prefix = `bench${randomBytes(4).toString('hex')}`;
    const resources = await provisionLocalResources(rawDynamo, sqs, { prefix });
    const bareQueue = (await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-bare` }))).QueueUrl as string;
    const token = `ocl_${randomBytes(18).toString('base64url')}`;
    const ownProcess = options.ownProcess ?? true;
    const recordDir = mkdtempSync(join(tmpdir(), 'intake-bench-'));
    const startIntake = (batchWrites: boolean) =>
      ownProcess ? intakeProcess(emulators, resources, token, batchWrites, join(recordDir, `${batchWrites ? 'on' : 'off'}.jsonl`)) : intakeOnThisLoop(intakeAws, resources, token, batchWrites);
    const servers = [await startIntake(true), ...((options.compareUnbatched ?? true) ? [await startIntake(false)] : [])];
    const sides = servers.map((server) => ({
      server,
      statuses: {} as Record<string, number>,
      acceptMs: [] as number[],
      accepted: [] as string[],
      warmAccepts: 0,
      elapsedMs: 0,
      // CPU ms over this side's accept phases, indexed as cpuNow() reads them.
      cpu: new Array<number>(3 + servers.length).fill(0),
    }));
    const main = sides[0] as (typeof sides)[number];
    const sendMs: number[] = [];
    const putMs: number[] = [];
    const submitPhase = async (side: (typeof sides)[number], n: number) =>
      pool(n, concurrency, async (i) => {
        const started = performance.now();
        const res = await post(clientAgent, side.server.port, token, JSON.stringify({ prompt: `bench task ${i}`, metadata: { i: String(i) } }));
        const ms = performance.now() - started;
        side.statuses[res.status] = (side.statuses[res.status] ?? 0) + 1;
        if (res.status === 202) {
          side.acceptMs.push(ms);
          side.accepted.push((JSON.parse(res.text) as { taskId: string }).taskId);
        }
      });
    const barePhase = async (n: number) =>
      pool(n, concurrency, async (i) => {
        const started = performance.now();
        await sqs.send(new SendMessageCommand({ QueueUrl: bareQueue, MessageBody: JSON.stringify({ taskId: `bare-${i}` }) }));
        sendMs.push(performance.now() - started);
      });
    let putSeq = 0;
    const floorMs: number[] = [];
    const floorPhase = async (n: number) =>
      pool(n, concurrency, async (i) => {
        const started = performance.now();
        await Promise.all([
          dynamo.send(
            new PutCommand({
              // The same table and about the same item as a task row (sk FLOOR keeps it out of the row count).
              TableName: resources.tasksTable,
              Item: {
                pk: `TASK#floor-${(putSeq += 1)}`,
                sk: 'FLOOR',
                taskId: `floor-${putSeq}`,
                status: 'QUEUED',
                priority: 'normal',
                prompt: `bench task ${i}`,
                metadata: { i: String(i) },
                submittedBy: 'bench',
                createdAt: new Date().toISOString(),
                updatedAt: new Date().toISOString(),
                [TASK_TTL_ATTRIBUTE]: Math.floor(Date.now() / 1000) + DEFAULT_TASK_RETENTION_DAYS * 86_400,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            }),
          ),
          sqs.send(new SendMessageCommand({ QueueUrl: bareQueue, MessageBody: JSON.stringify({ taskId: `floor-${i}` }) })),
        ]);
        floorMs.push(performance.now() - started);
      });
    const putPhase = async (n: number) =>
      pool(n, concurrency, async () => {
        const started = performance.now();
        await dynamo.send(
          new PutCommand({
            TableName: resources.gatewayTable,
            Item: { pk: `BARE#${(putSeq += 1)}`, sk: 'META', prompt: 'bare put' },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        putMs.push(performance.now() - started);
      });

    // Warm every path outside the measurement: JIT, and a full pool of keep-alive sockets. Opening
    // `concurrency` sockets at once overflows the emulators' accept queues, and the SYN retries
    // (1, 3, 7, 15 s) would otherwise show up as a cluster of outliers in the first phase.
    const warmup = Math.min(concurrency, total);
    await Promise.all([...sides.map((side) => submitPhase(side, warmup)), barePhase(warmup), putPhase(warmup), floorPhase(warmup)]);
    const warm = new Set<string>();
    for (const side of sides) {
      side.acceptMs.length = 0;
      side.warmAccepts = side.accepted.length;
      for (const id of side.accepted.splice(0)) warm.add(id);
      for (const k of Object.keys(side.statuses)) delete side.statuses[k];
    }
    sendMs.length = 0;
    putMs.length = 0;
    floorMs.length = 0;

    const pids = { ...options.emulatorPids, ...emulators.pids };
    // CPU ms by process over each phase: [this process, DynamoDB Local, fauxqs].
    // CPU ms by process over each phase: [this process (the driver), DynamoDB Local, fauxqs, the intake's own process].
    const cpuNow = (): number[] => {
      const own = process.cpuUsage();
      return [(own.user + own.system) / 1000, processCpuMs(pids.dynamo), processCpuMs(pids.sqs), ...sides.map((side) => side.server.cpuMs())];
    };
    const spent = { send: [0, 0, 0, 0], floor: [0, 0, 0, 0] };
    const measure = async (into: number[], phase: () => Promise<void>) => {
      const before = cpuNow();
      await phase();
      const after = cpuNow();
      for (let k = 0; k < into.length; k += 1) into[k] = (into[k] ?? 0) + (after[k] ?? 0) - (before[k] ?? 0);
    };
    const half = Math.floor(total / 2);
    const acceptPhase = (side: (typeof sides)[number]) => async (n: number) => {
      const t0 = performance.now();
      await measure(side.cpu, () => submitPhase(side, n));
      side.elapsedMs += performance.now() - t0;
    };
    // The second half runs its phases in the opposite order, so warm-up and drift (the JVM keeps
    // compiling for a while) land on every phase alike.
    const phases = [...sides.map(acceptPhase), (n: number) => measure(spent.send, () => barePhase(n)), putPhase, (n: number) => measure(spent.floor, () => floorPhase(n))];
    for (const phase of phases) await phase(half);
    for (const phase of [...phases].reverse()) await phase(total - half);
    for (const side of sides) await side.server.close();
    const accepted = sides.flatMap((side) => side.accepted);

    const rows = await taskRows(dynamo, resources.tasksTable);
    const messages = (await Promise.all([drain(sqs, resources.queues.normal), drain(sqs, resources.queues.high)])).flat().filter((id) => !warm.has(id));
    const counts = new Map<string, number>();
    for (const id of messages) counts.set(id, (counts.get(id) ?? 0) + 1);
    const acceptedSet = new Set(accepted);
    const stray = messages.filter((id) => !acceptedSet.has(id));
    const exactlyOnce = {
      rowsInTable: [...rows.entries()].filter(([id, runnable]) => runnable && !warm.has(id)).length,
      messagesInQueue: messages.length,
      acceptedMissingFromTable: accepted.filter((id) => rows.get(id) !== true).length,
      acceptedMissingFromQueue: accepted.filter((id) => !counts.has(id)).length,
      duplicateMessages: [...counts.values()].filter((c) => c > 1).length,
      // A refused (503) submission may leave a message; a worker drops it, finding no row or the tombstone.
      orphanMessages: stray.filter((id) => rows.get(id) !== true).length,
      unexpectedMessages: stray.filter((id) => rows.get(id) === true).length,
      // Rows a worker would run although the client was refused.
      unexpectedRows: [...rows.entries()].filter(([id, runnable]) => runnable && !warm.has(id) && !acceptedSet.has(id)).length,
    };
    const sideResult = (side: (typeof sides)[number], at: number): AcceptSide => {
      const intakeCpu = ownProcess ? (side.cpu[3 + at] ?? 0) : (side.cpu[0] ?? 0);
      const requests = recordedRequests(side.server.callRecordFile, side.warmAccepts + side.accepted.length);
      return {
        statuses: side.statuses,
        accepted: side.accepted.length,
        acceptMs: summarize(side.acceptMs),
        acceptPerSecond: Math.round((side.accepted.length / Math.max(side.elapsedMs, 0.001)) * 1000),
        acceptsPerCpuSecond: Math.round(side.accepted.length / Math.max(intakeCpu / 1000, 0.001)),
        intakeCpuMsPerAccept: Math.round((intakeCpu / Math.max(1, side.accepted.length)) * 1000) / 1000,
        ...(requests !== undefined ? { requestsPerAccept: requests } : {}),
      };
    };
    const results = sides.map(sideResult);
    const mainResult = results[0] as AcceptSide;
    const accept = mainResult.acceptMs;
    rmSync(recordDir, { recursive: true, force: true });
    const bare = summarize(sendMs);
    const put = summarize(putMs);
    const floor = summarize(floorMs);
    const per = (ms: number | undefined) => Math.round(((ms ?? 0) / Math.max(1, total)) * 1000) / 1000;
    const ratio = (a: number, b: number) => Math.round((a / Math.max(b, 0.001)) * 100) / 100;
    return {
      total,
      concurrency,
      intake: ownProcess ? 'own process' : 'driver process',
      machine: { loadAverage1m: Math.round((loadavg()[0] ?? 0) * 100) / 100, cores: cpus().length },
      statuses: mainResult.statuses,
      accepted: mainResult.accepted,
      acceptMs: accept,
      acceptPerSecond: mainResult.acceptPerSecond,
      // The intake's CPU: its own process's, or this whole process's when it shares the driver's loop.
      acceptsPerCpuSecond: mainResult.acceptsPerCpuSecond,
      ...(mainResult.requestsPerAccept !== undefined ? { requestsPerAccept: mainResult.requestsPerAccept } : {}),
      ...(results[1] !== undefined ? { unbatched: results[1] } : {}),
      goal: { p99RatioAtMost: P99_GOAL, met: ratio(accept.p99, bare.p99) <= P99_GOAL },
      sendMessageMs: bare,
      putItemMs: put,
      floorMs: floor,
      cpuMsPer: {
        emulatorsRead: pids.dynamo !== undefined && pids.sqs !== undefined,
        accept: { intake: mainResult.intakeCpuMsPerAccept, driver: per(main.cpu[0]), dynamodbLocal: per(main.cpu[1]), fauxqs: per(main.cpu[2]) },
        sendMessage: { driver: per(spent.send[0]), fauxqs: per(spent.send[2]) },
        floor: { driver: per(spent.floor[0]), dynamodbLocal: per(spent.floor[1]), fauxqs: per(spent.floor[2]) },
      },
      ratio: {
        p50: ratio(accept.p50, bare.p50),
        p99: ratio(accept.p99, bare.p99),
        p50VsPutPlusSend: ratio(accept.p50, put.p50 + bare.p50),
        p50VsFloor: ratio(accept.p50, floor.p50),
        p99VsFloor: ratio(accept.p99, floor.p99),
      },
      exactlyOnce: {
        ...exactlyOnce,
        ok:
          exactlyOnce.acceptedMissingFromTable === 0 &&
          exactlyOnce.acceptedMissingFromQueue === 0 &&
          exactlyOnce.duplicateMessages === 0 &&
          exactlyOnce.unexpectedMessages === 0 &&
          exactlyOnce.unexpectedRows === 0,
      },
    };
  } finally {
    clientAgent.destroy();
    intakeAws.dynamo.destroy();
    intakeAws.sqs.destroy();
    dynamo.destroy();
    sqs.destroy();
    sdkAgent.destroy();
    await emulators.stop();
  }
}

/** A human-readable report of a run. */
export function formatIntakeBench(r: IntakeBenchResult): string {
  const f = (s: LatencySummary) => `p50 ${s.p50} ms, p90 ${s.p90} ms, p99 ${s.p99} ms, max ${s.max} ms`;
  return [
    `intake burst: ${r.total} submissions at ${r.concurrency} concurrent connections (intake in its ${r.intake === 'own process' ? 'own process, as deployed' : "driver's process"}; loopback, DynamoDB Local + fauxqs; load ${r.machine.loadAverage1m} on ${r.machine.cores} cores)`,
    `  statuses           ${JSON.stringify(r.statuses)}`,
    `  accept latency     ${f(r.acceptMs)}  (${r.acceptPerSecond} accepted/s; ${r.acceptsPerCpuSecond} per CPU-second of the intake)`,
    `  bare SendMessage   ${f(r.sendMessageMs)}`,
    `  bare PutItem       ${f(r.putItemMs)}`,
    `  floor (PutItem ‖ SendMessage, no intake) ${f(r.floorMs)}`,
    `  ratio intake/bare  p50 ${r.ratio.p50}x, p99 ${r.ratio.p99}x (vs SendMessage); p50 ${r.ratio.p50VsPutPlusSend}x vs PutItem + SendMessage; goal p99 <= ${r.goal.p99RatioAtMost}x: ${r.goal.met ? 'met' : 'NOT met'}`,
    `  ratio intake/floor p50 ${r.ratio.p50VsFloor}x, p99 ${r.ratio.p99VsFloor}x (the intake's own share of the accept)`,
    r.cpuMsPer.emulatorsRead
      ? `  CPU ms per call    accept: intake ${r.cpuMsPer.accept.intake}, driver ${r.cpuMsPer.accept.driver}, DynamoDB Local ${r.cpuMsPer.accept.dynamodbLocal}, fauxqs ${r.cpuMsPer.accept.fauxqs}; bare SendMessage: driver ${r.cpuMsPer.sendMessage.driver}, fauxqs ${r.cpuMsPer.sendMessage.fauxqs}; floor: driver ${r.cpuMsPer.floor.driver}, DynamoDB Local ${r.cpuMsPer.floor.dynamodbLocal}, fauxqs ${r.cpuMsPer.floor.fauxqs}`
      : `  CPU ms per call    accept: intake ${r.cpuMsPer.accept.intake}, driver ${r.cpuMsPer.accept.driver}; bare SendMessage: driver ${r.cpuMsPer.sendMessage.driver}; floor: driver ${r.cpuMsPer.floor.driver} (emulators given by endpoint: their CPU not read)`,
    ...(r.requestsPerAccept !== undefined ? [`  requests/accept    DynamoDB ${r.requestsPerAccept.dynamodb}, SQS ${r.requestsPerAccept.sqs} ${JSON.stringify(r.requestsPerAccept.byAction)}`] : []),
    ...(r.unbatched !== undefined
      ? [
          `  INTAKE_BATCH_WRITES=off (same run): ${f(r.unbatched.acceptMs)}; p99 ${Math.round((r.unbatched.acceptMs.p99 / Math.max(r.sendMessageMs.p99, 0.001)) * 100) / 100}x bare SendMessage; ${r.unbatched.acceptPerSecond} accepted/s, ${r.unbatched.acceptsPerCpuSecond} per CPU-second${
            r.unbatched.requestsPerAccept !== undefined ? `; requests/accept DynamoDB ${r.unbatched.requestsPerAccept.dynamodb}, SQS ${r.unbatched.requestsPerAccept.sqs}` : ''
          }`,
        ]
      : []),
    `  exactly once       ${r.exactlyOnce.ok ? 'OK' : 'FAILED'} ${JSON.stringify(r.exactlyOnce)} (both intakes)`,
  ].join('\n');
}
