import { build } from 'esbuild';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { staticKeyProvider } from '../../runtime/src/gateway/api-key-provider';
import { createGatewayHandler } from '../../runtime/src/gateway/proxy';
import { parseGatewayLimits } from '../../runtime/src/shared/gateway-limits';
import { listen, type RunningServer } from '../../runtime/src/shared/http';
import { silentLogger } from '../../runtime/src/shared/logger';
import { node22Binary } from '../../tools/local/emulators';
import { emulatorEndpoints, type TestAws } from '../support/aws';

const ROOT = resolve(__dirname, '../..');

/** Bundle runtime/src/worker/main.ts the way the image does (esbuild, Node 22), once per test file. */
export async function bundleWorker(): Promise<string> {
  const outdir = mkdtempSync(join(tmpdir(), 'openclaw-worker-'));
  await build({
    entryPoints: { worker: join(ROOT, 'runtime/src/worker/main.ts') },
    outdir,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    logLevel: 'error',
  });
  return join(outdir, 'worker.js');
}

export interface WorkerProcess {
  readonly id: string;
  readonly child: ChildProcess;
  /** Log events seen on stdout (JSON lines), by event name. */
  readonly events: Map<string, number>;
  readonly lines: string[];
  exited: Promise<number | null>;
}

/** Start a real worker process (the bundled main.ts) with the worker's env contract. */
export function spawnWorker(bundle: string, id: string, env: Record<string, string>, nodeArgs: string[] = []): WorkerProcess {
  const child = spawn(node22Binary(), [...nodeArgs, bundle], {
    env: { PATH: process.env['PATH'] ?? '', WORKER_ID: id, PORT: '0', LOG_LEVEL: 'info', STAGE: 'local', AWS_REGION: 'us-east-1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events = new Map<string, number>();
  const lines: string[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const line of parts) {
      try {
        const event = String((JSON.parse(line) as { event?: string }).event);
        events.set(event, (events.get(event) ?? 0) + 1);
        if (!event.startsWith('llm.') && !event.startsWith('tool.result')) lines.push(line);
      } catch {
        lines.push(line);
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => lines.push(`stderr: ${chunk.toString('utf8')}`));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { id, child, events, lines, exited };
}

/** The worker env for the shared emulators and this test's resources, with the chaos timings (10 s visibility, 6 s lease, 2 s heartbeat). */
export function workerEnv(aws: TestAws, gatewayUrl: string): Record<string, string> {
  const endpoints = emulatorEndpoints();
  return {
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamo,
    AWS_ENDPOINT_URL_SQS: endpoints.sqs,
    TASKS_TABLE: aws.resources.tasksTable,
    QUEUE_URL_HIGH: aws.resources.queues.high,
    QUEUE_URL_NORMAL: aws.resources.queues.normal,
    GATEWAY_URL: gatewayUrl,
    VISIBILITY_TIMEOUT_SECONDS: '10',
    LEASE_MS: '6000',
    HEARTBEAT_MS: '2000',
    WAIT_TIME_SECONDS: '1',
  };
}

/**
 * An in-process gateway in front of the stub, with limits far above what the stub can serve: these
 * tests are about the workers, and the default tier (400k output tokens/min, charged at max_tokens
 * up front) would pace them to ~1.6 calls/s.
 */
export function startUnlimitedGateway(stubUrl: string, apiKey: string): Promise<RunningServer> {
  const limits = parseGatewayLimits({ tiers: { sonnet: { models: ['claude-sonnet-5'], rpm: 1_000_000, itpm: 1_000_000_000, otpm: 1_000_000_000 } } });
  return listen(createGatewayHandler({ upstreamUrl: stubUrl, keys: staticKeyProvider(apiKey), logger: silentLogger, limits }), 0, silentLogger, '127.0.0.1');
}
