import { z } from 'zod';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { checkHealth } from '../../../runtime/src/healthcheck';
import { ENV, loadWorkerConfig } from '../../../runtime/src/shared/config';
import { listen, type RunningServer } from '../../../runtime/src/shared/http';
import { silentLogger } from '../../../runtime/src/shared/logger';
import type { Consumer } from '../../../runtime/src/worker/consumer';
import { judgeHealth } from '../../../runtime/src/worker/health';
import { workerHealthHandler } from '../../../runtime/src/worker/health-server';
import type { ToolDefinition } from '../../../runtime/src/worker/tool-registry';
import { eventually } from '../../support/aws';
import { resourcesOf, synthStage } from '../../lib/support/synth-stage';
import { createWorkerHarness, type WorkerHarness } from './harness';

/**
 * Time in this file runs at SCALE of the deployed one: every duration read from the template (the
 * health check's interval, timeout and start period, the lease, the visibility timeout) and the
 * runtime's own idle-stall limit is multiplied by it, so the ratios the bug depends on are kept.
 */
const SCALE = 0.1;
const IDLE_STALL_MS = 120_000;

interface EcsHealthCheck {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly startPeriodMs: number;
}

/** The prod worker container's health check and the worker's durability settings, from the synthesized template. */
function deployedWorker(): { check: EcsHealthCheck; leaseMs: number; visibilitySeconds: number } {
  const prod = synthStage('prod');
  const container = resourcesOf(prod.json.services, 'AWS::ECS::TaskDefinition')
    .map(([, p]) => (p['ContainerDefinitions'] as Record<string, unknown>[])[0])
    .find((c) => c?.['Name'] === 'worker');
  if (container === undefined) throw new Error('no worker container in the prod services stack');
  const hc = container['HealthCheck'] as { Interval: number; Timeout: number; Retries: number; StartPeriod: number; Command: string[] };
  expect(hc.Command).toEqual(['CMD', 'node', 'dist/healthcheck.js', 'worker']);
  // The runtime's reading of the template's environment (references stand in as placeholders).
  const env: Record<string, string> = {
    [ENV.tasksTable]: 'tasks',
    [ENV.queueUrlHigh]: 'https://sqs.us-east-1.amazonaws.com/123456789012/high',
    [ENV.queueUrlNormal]: 'https://sqs.us-east-1.amazonaws.com/123456789012/normal',
    [ENV.gatewayUrl]: 'http://gateway.local:8081',
  };
  for (const e of container['Environment'] as { Name: string; Value: unknown }[]) if (typeof e.Value === 'string') env[e.Name] = e.Value;
  const config = loadWorkerConfig(env);
  return {
    check: { intervalMs: hc.Interval * 1000, timeoutMs: hc.Timeout * 1000, retries: hc.Retries, startPeriodMs: hc.StartPeriod * 1000 },
    leaseMs: config.durability.leaseMs,
    visibilitySeconds: config.durability.visibilityTimeoutSeconds,
  };
}

/**
 * What ECS does with a container health check: after the start period, run the check every
 * interval (with its timeout); `retries` failures in a row mark the container unhealthy, and the
 * service replaces it.
 */
function watchLikeEcs(port: number, check: EcsHealthCheck): { readonly replacedAt: () => number | undefined; readonly checks: () => number; stop(): void } {
  const started = Date.now();
  let failures = 0;
  let checks = 0;
  let replacedAt: number | undefined;
  const timer = setInterval(() => {
    if (Date.now() - started < check.startPeriodMs || replacedAt !== undefined) return;
    void checkHealth({ port, timeoutMs: check.timeoutMs }).then((r) => {
      checks += 1;
      failures = r.healthy ? 0 : failures + 1;
      if (failures >= check.retries && replacedAt === undefined) replacedAt = Date.now() - started;
    });
  }, check.intervalMs);
  return { replacedAt: () => replacedAt, checks: () => checks, stop: () => clearInterval(timer) };
}

/** A tool that takes `ms` (like an agent's 2-20 s tool calls), ignoring cancellation as a badly behaved one would. */
const slowTool = (ms: number): ToolDefinition => ({
  name: 'slow_lookup',
  description: 'Looks something up, slowly.',
  input: z.object({}).loose(),
  risk: 'read_only',
  run: async () => {
    await new Promise((r) => setTimeout(r, ms));
    return { content: 'found it' };
  },
});

describe('judgeHealth: alive and making progress', () => {
  const limits = { busyStallMs: 60_000, idleStallMs: 120_000 };
  it('GIVEN a slot busy for an hour whose heartbeat renewed 10 s ago THEN healthy', () => {
    expect(judgeHealth({ running: true, slots: [{ state: 'busy', taskId: 't', renewedAt: 3_590_000 }] }, 3_600_000, limits).healthy).toBe(true);
  });
  it('GIVEN a busy slot whose heartbeat has not renewed for longer than a lease THEN stalled, naming the task', () => {
    const v = judgeHealth({ running: true, slots: [{ state: 'idle', tickAt: 0 }, { state: 'busy', taskId: 't1', renewedAt: 0 }] }, 60_001, limits);
    expect(v).toEqual({ healthy: false, status: 'stalled', stalled: ['slot 1: heartbeat of task t1 not renewed for 60001 ms (limit 60000)'] });
  });
  it('GIVEN an idle poll loop quiet past its limit THEN stalled; a stopped consumer is not healthy', () => {
    expect(judgeHealth({ running: true, slots: [{ state: 'idle', tickAt: 0 }] }, 120_001, limits).status).toBe('stalled');
    expect(judgeHealth({ running: true, slots: [{ state: 'idle', tickAt: 0 }] }, 120_000, limits).healthy).toBe(true);
    expect(judgeHealth({ running: false, slots: [] }, 0, limits).status).toBe('stopped');
  });
});

describe('worker health under the deployed health check (time scaled ×0.1)', () => {
  const deployed = deployedWorker();
  const check: EcsHealthCheck = {
    intervalMs: deployed.check.intervalMs * SCALE,
    timeoutMs: deployed.check.timeoutMs * SCALE,
    retries: deployed.check.retries,
    startPeriodMs: deployed.check.startPeriodMs * SCALE,
  };
  /** From the container's start until ECS would replace a container failing from the first check. */
  const windowMs = check.intervalMs * check.retries + check.startPeriodMs;
  let h: WorkerHarness;
  const servers: RunningServer[] = [];
  beforeAll(async () => {
    h = await createWorkerHarness({ visibilityTimeoutSeconds: deployed.visibilitySeconds * SCALE });
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await h.close();
  });

  async function startWorker(extra: { dynamo?: DynamoDBDocumentClient; toolMs: number }): Promise<{ consumer: Consumer; port: number }> {
    const consumer = h.worker({
      concurrency: 1,
      leaseMs: deployed.leaseMs * SCALE,
      visibilityTimeoutSeconds: deployed.visibilitySeconds * SCALE,
      // As deployed: the heartbeat period is derived (visibility / 3, capped at lease / 4).
      heartbeatMs: Math.min((deployed.visibilitySeconds * SCALE * 1000) / 3, (deployed.leaseMs * SCALE) / 4),
      tools: [slowTool(extra.toolMs)],
      ...(extra.dynamo !== undefined ? { dynamo: extra.dynamo } : {}),
    });
    const server = await listen(workerHealthHandler(consumer, { idleStallMs: IDLE_STALL_MS * SCALE }), 0, silentLogger, '127.0.0.1');
    servers.push(server);
    await consumer.start();
    return { consumer, port: Number(new URL(server.url).port) };
  }

  it('GIVEN a task far longer than the health window (and than the old poll-loop stall rule allowed) WHEN it runs THEN the container stays healthy and the task succeeds', async () => {
    const toolMs = 2_000;
    const { consumer, port } = await startWorker({ toolMs });
    const ecs = watchLikeEcs(port, check);
    const started = Date.now();
    const taskId = await h.submit(`long task ${randomUUID()} [tools:10]`);
    const done = await eventually(async () => {
      const t = await h.status(taskId);
      return t?.status === 'SUCCEEDED' || t?.status === 'FAILED' ? t : undefined;
    }, 'the long task', 60_000, 200);
    const ranMs = Date.now() - started;
    ecs.stop();
    await consumer.stop(5000);
    expect(done.status).toBe('SUCCEEDED');
    // Longer than the window and than the old rule's 120 s stall + retries (scaled): that rule replaced this container mid-task.
    expect(ranMs).toBeGreaterThan(windowMs);
    expect(ranMs).toBeGreaterThan(IDLE_STALL_MS * SCALE + check.intervalMs * check.retries);
    expect(ecs.checks()).toBeGreaterThanOrEqual(Math.floor((ranMs - check.startPeriodMs) / check.intervalMs) - 1);
    expect(ecs.replacedAt()).toBeUndefined();
  });

  it('GIVEN a worker whose heartbeat has really stopped (lease renewals hang) during a long tool call WHEN ECS checks THEN it turns unhealthy and is replaced', async () => {
    // Lease renewals never answer (a wedged connection): the slot stops showing progress.
    const hanging = new Proxy(h.aws.dynamo, {
      get(target, prop, receiver) {
        if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
        return (command: { input?: { UpdateExpression?: string } }, ...rest: unknown[]) =>
          command.input?.UpdateExpression?.startsWith('SET expiresAt = :exp') === true
            ? new Promise(() => undefined)
            : (target.send as (...a: unknown[]) => Promise<unknown>)(command, ...rest);
      },
    });
    const toolMs = 30_000 * SCALE * 10;
    const { consumer, port } = await startWorker({ dynamo: hanging, toolMs });
    const ecs = watchLikeEcs(port, check);
    await h.submit(`wedged ${randomUUID()} [tools:1]`);
    const replacedAt = await eventually(async () => ecs.replacedAt(), 'ECS to replace the wedged worker', 60_000, 100);
    ecs.stop();
    void consumer.stop(100);
    // Unhealthy once a whole lease passed without a renewal; replaced after `retries` failed checks.
    expect(replacedAt).toBeLessThanOrEqual(windowMs + deployed.leaseMs * SCALE + 2 * check.intervalMs);
  });
});
