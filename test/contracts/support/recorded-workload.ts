/**
 * A representative workload run by the real services (the bundled main.ts of intake, worker and
 * gateway, started as the image starts them) with call recording on (CALL_RECORD_FILE): every
 * AWS call and every outbound connection each service makes lands in one JSONL file. The run is
 * self-contained (its own tables, queues, stand-ins), so the contract tests that read it do not
 * depend on which other tests ran before.
 *
 * What it exercises: readiness, accept (both lanes), idempotent replay, the tool loop, the MCP
 * server, a completion webhook, cancel, provider weather (529s handed back), the gateway's shared
 * limits and circuit state in DynamoDB, the DLQ sweep, the kill switch and canary share
 * parameters, and every secret each service reads.
 */
import { CreateQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { hashApiKey } from '../../../runtime/src/shared/api-keys';
import type { CallRecord, RecordedService } from '../../../runtime/src/shared/call-record';
import { ENV } from '../../../runtime/src/shared/config';
import { TaskStore } from '../../../runtime/src/shared/task-store';
import { gatewayEnv, intakeEnv, workerEnv } from '../../../tools/delivery/service-env';
import { startServiceProcess, type ServiceProcess } from '../../../tools/delivery/service-process';
import { node22Binary } from '../../../tools/local/emulators';
import { startStubModel, stubFailures, type StubModel } from '../../../tools/local/stub-model';
import { createTestAws, emulatorEndpoints, eventually, type TestAws } from '../../support/aws';
import { startMcpTestServer, type McpTestServer } from '../../support/mcp-test-server';
import { startAwsJsonStandIn, type AwsJsonStandIn } from './aws-json-stand-in';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..', '..', '..');

/** What a local destination stands for in AWS. */
export type StandIn =
  | { readonly kind: 'aws'; readonly awsService: string }
  | { readonly kind: 'gateway' }
  | { readonly kind: 'model-provider' }
  | { readonly kind: 'webhook' }
  | { readonly kind: 'mcp' };

export interface RecordedRun {
  readonly records: readonly CallRecord[];
  /** The environment each service ran with (the same variable names the task definitions set). */
  readonly env: Readonly<Record<RecordedService, Readonly<Record<string, string>>>>;
  /** `address:port` of each local destination -> what it stands for. */
  readonly standIns: ReadonlyMap<string, StandIn>;
  /** Final task statuses by what the task exercised, for the test to check the workload really ran. */
  readonly outcomes: Readonly<Record<string, string>>;
  /** Webhook deliveries the receiver got. */
  readonly webhooks: number;
}

async function startReceiver(): Promise<{ server: Server; port: number; received: string[] }> {
  const received: string[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(req.url ?? '');
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, received };
}

const SECRET = (name: string) => `arn:aws:secretsmanager:us-east-1:000000000000:secret:${name}-AbCdEf`;

/** Run the workload once and return everything recorded. Takes about 20-40 s on a loaded machine. */
export async function runRecordedWorkload(): Promise<RecordedRun> {
  const dir = mkdtempSync(join(tmpdir(), 'openclaw-recorded-'));
  const recordFile = join(dir, 'calls.jsonl');
  writeFileSync(recordFile, '');
  const services: ServiceProcess[] = [];
  let aws: TestAws | undefined;
  let stub: StubModel | undefined;
  let mcp: McpTestServer | undefined;
  let secrets: AwsJsonStandIn | undefined;
  let ssm: AwsJsonStandIn | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  try {
    const weatherPrompt = 'weather ';
    let weatherLeft = 2;
    [aws, stub, mcp, secrets, ssm, receiver] = await Promise.all([
      createTestAws({ visibilityTimeoutSeconds: 10, maxReceiveCount: 3 }),
      startStubModel({
        latencyMs: 5,
        // Provider weather: the first calls of the weather task answer 529; the worker hands them back.
        intercept: (call) => (call.prompt.startsWith(weatherPrompt) && weatherLeft-- > 0 ? stubFailures.overloaded() : undefined),
      }),
      startMcpTestServer(),
      startAwsJsonStandIn('secretsmanager'),
      startAwsJsonStandIn('ssm'),
      startReceiver(),
      run(process.execPath, [join(ROOT, 'tools', 'bundle.mjs'), 'intake', 'worker', 'gateway'], { cwd: ROOT, env: { ...process.env, OUTDIR: dir }, timeout: 120_000 }),
    ]);
    const sqs = aws.sqs;
    const lane = async (name: string) => (await sqs.send(new CreateQueueCommand({ QueueName: `${aws?.prefix}-candidate-${name}` }))).QueueUrl as string;
    const candidate = { high: await lane('high'), normal: await lane('normal') };

    const apiKey = `ocl_${randomBytes(18).toString('base64url')}`;
    const secretArns = { apiKeys: SECRET('intake-keys'), signing: SECRET('webhook-signing'), anthropic: SECRET('anthropic') };
    secrets.values.set(secretArns.apiKeys, JSON.stringify([{ name: 'recorded', sha256: hashApiKey(apiKey), maxPriority: 'high', ratePerMinute: 6000 }]));
    secrets.values.set(secretArns.signing, JSON.stringify({ recorded: `whsec_${randomBytes(24).toString('base64url')}` }));
    secrets.values.set(secretArns.anthropic, 'sk-ant-recorded-stub');
    const params = { killSwitch: '/local/worker/kill-switch', canaryShare: '/local/canary/share' };
    ssm.values.set(params.killSwitch, 'off');
    ssm.values.set(params.canaryShare, '0');

    const endpoints = emulatorEndpoints();
    const resources = { tasksTable: aws.resources.tasksTable, gatewayTable: aws.resources.gatewayTable, queues: aws.resources.queues };
    const base = { endpoints, resources, port: 0 };
    // What every service process gets besides its own contract: the recording, and the SDK's own
    // endpoint variables for the two services that have stand-ins instead of emulators.
    const shared = {
      [ENV.callRecordFile]: recordFile,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      AWS_ENDPOINT_URL_SSM: ssm.endpoint,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      PATH: process.env['PATH'] ?? '',
    };
    const env: Record<RecordedService, Record<string, string>> = {
      gateway: { ...gatewayEnv({ ...base, upstreamUrl: stub.url }), ...shared, [ENV.anthropicSecretArn]: secretArns.anthropic },
      worker: {
        ...workerEnv({ ...base, gatewayUrl: 'http://placeholder', workerId: 'recorded-1' }),
        ...shared,
        [ENV.webhookSigningSecretArn]: secretArns.signing,
        [ENV.callbackHttpHosts]: '127.0.0.1',
        [ENV.killSwitchParam]: params.killSwitch,
        [ENV.killSwitchIntervalMs]: '1000',
        [ENV.deadLetterQueueUrl]: aws.resources.dlqUrl,
        [ENV.deadLetterSweepMs]: '500',
        [ENV.maxReceiveCount]: '3',
        [ENV.visibilityTimeoutSeconds]: '10',
        [ENV.leaseMs]: '6000',
        [ENV.waitTimeSeconds]: '1',
        [ENV.workerConcurrency]: '2',
        [ENV.mcpServers]: JSON.stringify([{ name: 'docs', url: mcp.url }]),
      },
      intake: (() => {
        const e: Record<string, string> = { ...intakeEnv({ ...base, apiKeysJson: '[]' }), ...shared, [ENV.apiKeysSecretArn]: secretArns.apiKeys, [ENV.callbackHttpHosts]: '127.0.0.1' };
        delete e[ENV.apiKeys];
        e[ENV.canaryQueueUrlHigh] = candidate.high;
        e[ENV.canaryQueueUrlNormal] = candidate.normal;
        e[ENV.canaryShareParam] = params.canaryShare;
        e[ENV.canaryShareCacheMs] = '0';
        return e;
      })(),
    };
    const node = node22Binary();
    const start = async (role: RecordedService) => {
      const svc = await startServiceProcess({ role, command: [node, '--enable-source-maps', join(dir, `${role}.js`)], env: env[role], startTimeoutMs: 30_000 });
      services.push(svc);
      return svc;
    };
    const gateway = await start('gateway');
    env.worker[ENV.gatewayUrl] = `http://127.0.0.1:${gateway.port}`;
    const [, intake] = await Promise.all([start('worker'), start('intake')]);
    const intakeUrl = `http://127.0.0.1:${intake.port}`;
    const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };

    const ready = await fetch(`${intakeUrl}/ready`);
    const outcomes: Record<string, string> = { ready: String(ready.status) };
    const submit = async (body: Record<string, unknown>, extra: Record<string, string> = {}) => {
      const res = await fetch(`${intakeUrl}/v1/tasks`, { method: 'POST', headers: { ...headers, ...extra }, body: JSON.stringify(body) });
      if (res.status !== 202) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
      return ((await res.json()) as { taskId: string }).taskId;
    };
    const hook = `http://127.0.0.1:${receiver.port}/hook`;
    const idem = { 'idempotency-key': randomUUID() };
    const toolsTask = { prompt: `tools and a webhook ${randomUUID()} [tools:2]`, callbackUrl: hook };
    const tasks: Record<string, string> = {
      tools: await submit(toolsTask, idem),
      high: await submit({ prompt: `high lane ${randomUUID()} [tools:1]`, priority: 'high' }),
      weather: await submit({ prompt: `${weatherPrompt}${randomUUID()} [tools:0]` }),
    };
    outcomes['replayed'] = String((await submit(toolsTask, idem)) === tasks['tools']);
    // The canary: with the share at 100 the next task goes to the candidate lanes (no candidate
    // pool runs here; the send is what the intake's role must allow).
    ssm.values.set(params.canaryShare, '100');
    tasks['canary'] = await submit({ prompt: `candidate lane ${randomUUID()}` });
    ssm.values.set(params.canaryShare, '0');
    // Cancel a task at once (it may be queued or already running).
    tasks['cancelled'] = await submit({ prompt: `to cancel ${randomUUID()} [tools:3]` });
    const cancel = await fetch(`${intakeUrl}/v1/tasks/${tasks['cancelled']}`, { method: 'DELETE', headers });
    outcomes['cancel'] = String(cancel.status);
    // A task whose message reached the DLQ without the worker's help: the sweep ends it FAILED.
    const store = new TaskStore({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const deadId = randomUUID();
    const now = new Date().toISOString();
    await store.create({ taskId: deadId, status: 'QUEUED', priority: 'normal', prompt: 'dead-lettered', createdAt: now, updatedAt: now, submittedBy: 'recorded' });
    await sqs.send(new SendMessageCommand({ QueueUrl: aws.resources.dlqUrl, MessageBody: JSON.stringify({ taskId: deadId }) }));
    tasks['deadLettered'] = deadId;

    const terminal = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
    for (const [what, taskId] of Object.entries(tasks)) {
      if (what === 'canary') continue;
      const res = await eventually(
        async () => {
          const r = await fetch(`${intakeUrl}/v1/tasks/${taskId}`, { headers });
          const view = (await r.json()) as { status: string };
          return terminal.has(view.status) ? view : undefined;
        },
        `the ${what} task to finish`,
        60_000,
        100,
      );
      outcomes[what] = res.status;
    }
    await eventually(async () => (receiver !== undefined && receiver.received.length > 0 ? true : undefined), 'the completion webhook', 20_000, 100);
    const webhooks = receiver.received.length;
    // SIGTERM each: the drain paths (release, visibility 0) are calls too.
    await Promise.all(services.splice(0).map((s) => s.stop(15_000)));
    const records = readFileSync(recordFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as CallRecord);
    const hostPort = (url: string) => {
      const u = new URL(url);
      return `${u.hostname}:${u.port}`;
    };
    const standIns = new Map<string, StandIn>([
      [hostPort(endpoints.dynamo), { kind: 'aws', awsService: 'dynamodb' }],
      [hostPort(endpoints.sqs), { kind: 'aws', awsService: 'sqs' }],
      [hostPort(secrets.endpoint), { kind: 'aws', awsService: 'secretsmanager' }],
      [hostPort(ssm.endpoint), { kind: 'aws', awsService: 'ssm' }],
      [`127.0.0.1:${gateway.port}`, { kind: 'gateway' }],
      [hostPort(stub.url), { kind: 'model-provider' }],
      [`127.0.0.1:${receiver.port}`, { kind: 'webhook' }],
      [`127.0.0.1:${mcp.port}`, { kind: 'mcp' }],
    ]);
    return { records, env, standIns, outcomes, webhooks };
  } finally {
    await Promise.all(services.map((s) => s.stop(5000)));
    await Promise.all([stub?.close(), mcp?.close(), secrets?.close(), ssm?.close(), new Promise((r) => (receiver === undefined ? r(undefined) : receiver.server.close(r)))]);
    aws?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
