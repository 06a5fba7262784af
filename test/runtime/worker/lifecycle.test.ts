import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { KILL_SWITCH } from '../../../runtime/src/shared/kill-switch-contract';
import { randomUUID } from 'node:crypto';
import { listen, readBody, sendJson, type RunningServer } from '../../../runtime/src/shared/http';
import { silentLogger } from '../../../runtime/src/shared/logger';
import { startStubModel } from '../../../tools/local/stub-model';
import { ConsumerConfigError } from '../../../runtime/src/worker/consumer';
import { LeaseManager } from '../../../runtime/src/worker/lease';
import { anthropicModelClient } from '../../../runtime/src/worker/model-client';
import { TaskProtection } from '../../../runtime/src/worker/task-protection';
import { eventually } from '../../support/aws';
import { createWorkerHarness, type WorkerHarness } from './harness';

const succeeded = (h: WorkerHarness, taskId: string) => async () => ((await h.status(taskId))?.status === 'SUCCEEDED' ? true : undefined);

describe('worker lifecycle: drain, circuit breaker, kill switch, scale-in protection, priorities', () => {
  let h: WorkerHarness;
  let circuitOpen = false;
  beforeAll(async () => {
    h = await createWorkerHarness({
      stub: {
        intercept: () => {
          if (circuitOpen) {
            return { status: 503, headers: { 'x-should-retry': 'false' }, body: { type: 'error', error: { type: 'overloaded_error', message: 'circuit open' } } };
          }
          return undefined;
        },
      },
    });
  });
  afterAll(async () => h.close());

  it('GIVEN a heartbeat longer than half the visibility timeout WHEN the consumer is built THEN it fails fast naming both values', () => {
    expect(() => h.worker({ visibilityTimeoutSeconds: 10, heartbeatMs: 6000, leaseMs: 60_000 })).toThrow(ConsumerConfigError);
    expect(() => h.worker({ visibilityTimeoutSeconds: 10, heartbeatMs: 6000, leaseMs: 60_000 })).toThrow(/heartbeatMs=6000 .* visibility timeout \(10s\)/);
    h.workers.length = 0;
  });

  it('GIVEN a running task WHEN the worker stops THEN the step in flight is checkpointed, the lease released, the message visible and another worker resumes without repeats', async () => {
    const slowStub = await startStubModel({ latencyMs: 700 });
    const model = anthropicModelClient({ baseURL: slowStub.url, maxRetries: 0 });
    const a = h.worker({ model });
    const handedBack: string[] = [];
    a.events.on('task_handed_back', (e) => handedBack.push(e.reason));
    await a.start();
    const prompt = `drain ${randomUUID()} [tools:4]`;
    const taskId = await h.submit(prompt);
    await eventually(async () => ((await h.steps(taskId)).length >= 1 ? true : undefined), 'the first step');
    // Stop while the next LLM call (700 ms) is in flight.
    await new Promise((r) => setTimeout(r, 200));
    const stepsAtStop = (await h.steps(taskId)).length;
    const drained = await a.stop(10_000);
    expect(drained).toBe(true);
    expect(handedBack).toEqual(['draining']);
    expect((await h.steps(taskId)).length).toBeGreaterThan(stepsAtStop);
    const lock = await new LeaseManager({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable }).inspect(taskId);
    expect(lock?.owner).toBeUndefined();
    expect(await h.queueDepth(h.aws.resources.queues.normal)).toEqual({ visible: 1, inFlight: 0 });

    const b = h.worker({ model });
    await b.start();
    await eventually(succeeded(h, taskId), 'the resumed task', 30_000);
    await b.stop(5000);
    await slowStub.close();
    const seen = slowStub.calls.filter((c) => c.prompt === prompt).map((c) => c.toolResults);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });

  it('GIVEN the gateway circuit is open WHEN a task calls the model THEN polling pauses, the message goes back uncounted, and work resumes once a probe succeeds', async () => {
    const worker = h.worker();
    const events: string[] = [];
    worker.events.on('paused', (e) => events.push(`paused:${e.reason}`));
    worker.events.on('resumed', (e) => events.push(`resumed:${e.reason}`));
    worker.events.on('task_handed_back', (e) => events.push(`handed_back:${e.reason}`));
    worker.events.on('task_failed', () => events.push('failed'));
    const receives: number[] = [];
    worker.events.on('message_received', (e) => receives.push(e.receiveCount));
    circuitOpen = true;
    await worker.start();
    const taskId = await h.submit(`circuit ${randomUUID()} [tools:1]`);
    await eventually(async () => (events.includes('handed_back:circuit_open') ? true : undefined), 'the hand-back');
    // While the circuit stays open, the worker probes but receives nothing.
    await new Promise((r) => setTimeout(r, 1500));
    expect(receives).toEqual([1]);
    const probes = h.stub.calls.filter((c) => c.prompt === 'ping').length;
    expect(probes).toBeGreaterThanOrEqual(1);
    circuitOpen = false;
    await eventually(succeeded(h, taskId), 'the task after the circuit closed', 30_000);
    await worker.stop(5000);
    expect(events).toEqual(['paused:circuit_open', 'handed_back:circuit_open', 'resumed:circuit_open']);
    // The hand-back replaced the message with a fresh copy: no receive was spent toward the DLQ.
    expect(receives).toEqual([1, 1]);
    expect((await h.status(taskId))?.attempts).toBe(1);
  });

  it('GIVEN the kill switch parameter says paused WHEN tasks arrive THEN nothing is received until it is flipped back', async () => {
    // The value the CDK parameter allows for "paused": the contract both sides import.
    let value: string = KILL_SWITCH.on;
    let reads = 0;
    const ssm = {
      send: async () => {
        reads += 1;
        return { Parameter: { Value: value } };
      },
    } as unknown as Pick<SSMClient, 'send'>;
    const worker = h.worker({ killSwitch: { ssm, parameterName: '/openclaw/test/kill-switch', intervalMs: 200 } });
    const received: string[] = [];
    worker.events.on('message_received', (e) => received.push(e.messageId));
    await worker.start();
    const taskId = await h.submit(`kill switch ${randomUUID()} [tools:1]`);
    await new Promise((r) => setTimeout(r, 1500));
    expect(received).toEqual([]);
    expect((await h.status(taskId))?.status).toBe('QUEUED');
    expect(reads).toBeGreaterThanOrEqual(3);
    value = KILL_SWITCH.off;
    await eventually(succeeded(h, taskId), 'the task after the switch was cleared');
    await worker.stop(5000);
  });

  describe('ECS task scale-in protection against a stand-in agent endpoint', () => {
    let agent: RunningServer;
    const puts: { path: string; body: unknown }[] = [];
    beforeAll(async () => {
      agent = await listen(
        async (req, res) => {
          puts.push({ path: `${req.method} ${req.url}`, body: JSON.parse((await readBody(req, 10_000)).toString('utf8')) });
          sendJson(res, 200, { protection: {} });
        },
        0,
        silentLogger,
        '127.0.0.1',
      );
    });
    afterAll(async () => agent.close());

    it('GIVEN ECS_AGENT_URI WHEN a task runs THEN protection is enabled before the work and disabled when idle', async () => {
      puts.length = 0;
      const worker = h.worker({ ecsAgentUri: agent.url, protectionExpiresMinutes: 15 });
      await worker.start();
      const taskId = await h.submit(`protect ${randomUUID()} [tools:1]`);
      await eventually(succeeded(h, taskId), 'the protected task');
      await eventually(async () => (puts.length >= 2 ? true : undefined), 'protection to be dropped');
      await worker.stop(5000);
      expect(puts).toEqual([
        { path: 'PUT /task-protection/v1/state', body: { ProtectionEnabled: true, ExpiresInMinutes: 15 } },
        { path: 'PUT /task-protection/v1/state', body: { ProtectionEnabled: false } },
      ]);
    });

    it('GIVEN a long task WHEN the renewal period passes THEN protection is re-PUT to extend it', async () => {
      puts.length = 0;
      const protection = new TaskProtection({ agentUri: agent.url, logger: silentLogger, expiresInMinutes: 1, renewEveryMs: 100 });
      await protection.busy();
      await protection.busy();
      await new Promise((r) => setTimeout(r, 350));
      await protection.idle();
      expect(puts.at(-1)?.body).toEqual({ ProtectionEnabled: true, ExpiresInMinutes: 1 });
      await protection.idle();
      const bodies = puts.map((p) => (p.body as { ProtectionEnabled: boolean }).ProtectionEnabled);
      expect(bodies.filter((b) => b).length).toBeGreaterThanOrEqual(3);
      expect(bodies.at(-1)).toBe(false);
    });

    it('GIVEN no ECS_AGENT_URI WHEN busy THEN nothing is called', async () => {
      const calls: string[] = [];
      const protection = new TaskProtection({ logger: silentLogger, fetch: (async (url: string) => calls.push(url)) as unknown as typeof fetch });
      await protection.busy();
      await protection.idle();
      expect(calls).toEqual([]);
    });
  });

  it('GIVEN both queues full WHEN one worker drains them THEN high goes first but normal gets a turn after each burst', async () => {
    const ids = { high: new Set<string>(), normal: new Set<string>() };
    for (let i = 0; i < 6; i += 1) ids.normal.add(await h.submit(`normal ${i} ${randomUUID()} [tools:0]`, { priority: 'normal' }));
    for (let i = 0; i < 6; i += 1) ids.high.add(await h.submit(`high ${i} ${randomUUID()} [tools:0]`, { priority: 'high' }));
    const worker = h.worker();
    const order: string[] = [];
    worker.events.on('task_started', (e) => order.push(ids.high.has(e.taskId) ? 'H' : 'N'));
    await worker.start();
    await eventually(async () => (order.length >= 12 ? true : undefined), 'all twelve tasks to start', 30_000);
    await worker.stop(5000);
    // fauxqs may answer a short poll empty even when messages wait, so only the burst rule is exact.
    expect(order.slice(0, 5).join('')).toBe('HHHHN');
    expect(order.filter((o) => o === 'H')).toHaveLength(6);
  });

  it('GIVEN a message that names no task WHEN received THEN it is reported as malformed, never deleted, and reaches the DLQ', async () => {
    const sent = await h.aws.sqs.send(new SendMessageCommand({ QueueUrl: h.aws.resources.queues.normal, MessageBody: '{"task":"no id"}' }));
    const worker = h.worker();
    const errors: { error: Error; messageId?: string }[] = [];
    worker.events.on('consumer_error', (e) => errors.push(e));
    await worker.start();
    // Each receive hides it for 1 s only, so maxReceiveCount (5) receives move it to the DLQ quickly.
    await eventually(async () => ((await h.queueDepth(h.aws.resources.dlqUrl)).visible >= 1 ? true : undefined), 'the malformed message in the DLQ', 30_000);
    await worker.stop(5000);
    const mine = errors.filter((e) => e.messageId === sent.MessageId);
    expect(mine.length).toBeGreaterThanOrEqual(1);
    expect(mine[0]?.error.message).toMatch(/malformed task message: the body must be JSON with a non-empty string taskId/);
  }, 40_000);
});
