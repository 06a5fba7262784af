import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { InMemoryMetrics } from '../../../runtime/src/shared/metrics';
import { DIMENSIONS, METRICS } from '../../../runtime/src/shared/metrics-contract';
import type { TaskRecord } from '../../../runtime/src/shared/task-model';
import { LeaseManager } from '../../../runtime/src/worker/lease';
import { DEFAULT_PRICE_TABLE } from '../../../runtime/src/shared/model-profiles';
import { exhaustedBudget, maxTokensWithin, stepCostUsd } from '../../../runtime/src/worker/budget-meter';
import { eventually } from '../../support/aws';
import { createWorkerHarness, type WorkerHarness } from './harness';

/** Guardrails in the real worker against DynamoDB Local, fauxqs and the stub model. */
let h: WorkerHarness;
beforeAll(async () => {
  // `[slow]` tasks answer in 250 ms per call, so a test can stop a worker in the middle of one.
  h = await createWorkerHarness({ stub: { intercept: (call) => (call.prompt.includes('[slow]') ? { delayMs: 250 } : undefined) } });
});
afterAll(() => h.close());

const finished = (taskId: string) => async (): Promise<TaskRecord | undefined> => {
  const t = await h.status(taskId);
  return t !== undefined && t.status !== 'QUEUED' && t.status !== 'RUNNING' ? t : undefined;
};
const callsOf = (taskId: string) => h.stub.calls.filter((c) => c.taskId === taskId).length;

/** Checkpoints written by a worker that then died: `calls` × (an LLM step asking for the tool, its result). */
async function crashedAfter(taskId: string, prompt: string, results: readonly { content: string; loop?: string }[], extra: Partial<TaskRecord> = {}): Promise<void> {
  const now = new Date().toISOString();
  await h.store.create({ taskId, status: 'RUNNING', priority: 'normal', prompt, createdAt: now, updatedAt: now, startedAt: now, ...extra });
  const leases = new LeaseManager({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable });
  const lease = await leases.acquire(taskId, 'dead-worker');
  if (lease === undefined) throw new Error('no lease');
  let seq = 1;
  for (const [i, r] of results.entries()) {
    const id = `toolu_dead${i}`;
    await h.log.append(lease, seq++, 'llm', {
      content: [{ type: 'tool_use', id, name: 'calculator', input: { a: 2, b: 3, op: 'mul' } }],
      stopReason: 'tool_use',
      model: 'claude-test',
      inputTokens: 1000,
      outputTokens: 100,
    });
    await h.log.append(lease, seq++, 'tool', { toolUseId: id, name: 'calculator', content: r.content, isError: r.loop !== undefined, ...(r.loop !== undefined ? { loop: r.loop } : {}) });
  }
  await leases.release(lease);
}
const enqueue = (taskId: string) => h.aws.sqs.send(new SendMessageCommand({ QueueUrl: h.aws.resources.queues.normal, MessageBody: JSON.stringify({ taskId }) }));

describe('loop detection in the worker', () => {
  it('GIVEN [repeat:2] WHEN run THEN the same call twice is no loop and the task succeeds', async () => {
    const worker = h.worker();
    await worker.start();
    const taskId = await h.submit(`twice ${randomUUID()} [repeat:2]`);
    const done = await eventually(finished(taskId), 'the task');
    await worker.stop(5000);
    expect(done.status).toBe('SUCCEEDED');
  });

  it('GIVEN [repeat:6] WHEN run THEN the third call is answered with a loop warning, not run, and the fourth fails the task as loop_detected', async () => {
    const metrics = new InMemoryMetrics();
    const worker = h.worker({ metrics });
    await worker.start();
    const taskId = await h.submit(`loop ${randomUUID()} [repeat:6]`);
    const done = await eventually(finished(taskId), 'the looping task');
    await worker.stop(5000);
    expect(done.status).toBe('FAILED');
    expect(done.error).toMatchObject({ type: 'loop_detected', message: expect.stringContaining('calculator was called 4 times with the same input') });
    const tools = (await h.steps(taskId)).filter((s) => s.kind === 'tool').map((s) => s.payload);
    expect(tools.map((p) => p['loop'])).toEqual([undefined, undefined, 'repeated_call']);
    expect(tools[2]).toMatchObject({ isError: true, content: expect.stringContaining('calculator was called 3 times') });
    // What it did stays readable: 4 model calls, 3 tool steps (2 run, 1 refused).
    expect(done.steps).toBe(7);
    expect(done.usage?.llmCalls).toBe(4);
    expect(metrics.find(METRICS.loopsDetected).map((r) => r.properties['final'])).toEqual([false, true]);
  });

  it('GIVEN a task whose dead worker already warned about a loop WHEN resumed elsewhere and the model repeats THEN it fails at once (counted from the checkpoints)', async () => {
    const taskId = randomUUID();
    await crashedAfter(taskId, `resumed loop ${taskId} [repeat:6]`, [{ content: '6' }, { content: '6' }, { content: 'loop detected: …', loop: 'repeated_call' }]);
    const worker = h.worker();
    await worker.start();
    await enqueue(taskId);
    const done = await eventually(finished(taskId), 'the resumed looping task');
    await worker.stop(5000);
    expect(done.error?.type).toBe('loop_detected');
    expect(callsOf(taskId)).toBe(1);
  });
});

describe('per-task budgets in the worker', () => {
  it('GIVEN a step budget WHEN it runs out THEN FAILED budget_exceeded naming it, what was done stays readable, and the webhook fires', async () => {
    const metrics = new InMemoryMetrics();
    const notified: string[] = [];
    const worker = h.worker({ metrics, notifier: { notify: async (id: string) => void notified.push(id) } });
    await worker.start();
    const taskId = randomUUID();
    await h.store.create({ taskId, status: 'QUEUED', priority: 'normal', prompt: `steps ${taskId} [tools:5]`, budget: { maxSteps: 3 }, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() });
    await enqueue(taskId);
    const done = await eventually(finished(taskId), 'the budgeted task');
    await eventually(async () => (notified.includes(taskId) ? true : undefined), 'the webhook');
    await worker.stop(5000);
    expect(done.status).toBe('FAILED');
    expect(done.error).toEqual({ type: 'budget_exceeded', budget: 'maxSteps', limit: 3, used: 3, message: expect.stringContaining('budget maxSteps exhausted: used 3 steps of 3') });
    expect(done.steps).toBe(3);
    expect(done.usage).toMatchObject({ llmCalls: 2, toolCalls: 1, costUsd: expect.any(Number) });
    expect(await h.steps(taskId)).toHaveLength(3);
    expect(metrics.find(METRICS.budgetExceeded).map((r) => r.properties['budget'])).toEqual(['maxSteps']);
    // A dimension too, so the dashboard plots one line per budget from the [Stage, Service, Budget] rollup.
    expect(metrics.find(METRICS.budgetExceeded, { [DIMENSIONS.budget]: 'maxSteps' })).toHaveLength(1);
  });

  it('GIVEN tokens used by a worker that died WHEN resumed elsewhere THEN they count: the budget is spent and no model call is made', async () => {
    const taskId = randomUUID();
    // Two recorded model calls of 1100 tokens each: 2200 of a 2000-token budget.
    await crashedAfter(taskId, `tokens ${taskId} [tools:5]`, [{ content: '6' }, { content: '6' }], { budget: { maxTokens: 2000 } });
    const worker = h.worker();
    await worker.start();
    await enqueue(taskId);
    const done = await eventually(finished(taskId), 'the resumed task');
    await worker.stop(5000);
    expect(done.error).toMatchObject({ type: 'budget_exceeded', budget: 'maxTokens', limit: 2000, used: 2200 });
    expect(done.usage).toMatchObject({ inputTokens: 2000, outputTokens: 200, llmCalls: 2 });
    expect(callsOf(taskId)).toBe(0);
  });

  it('GIVEN a task stopped mid-run WHEN a second worker resumes it THEN it gets what was left of the step budget, not a fresh one', async () => {
    const first = h.worker();
    await first.start();
    const taskId = randomUUID();
    await h.store.create({ taskId, status: 'QUEUED', priority: 'normal', prompt: `resume ${taskId} [tools:8] [slow]`, budget: { maxSteps: 10 }, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() });
    await enqueue(taskId);
    await eventually(async () => ((await h.steps(taskId)).length >= 4 ? true : undefined), 'four steps on the first worker');
    await first.stop(10_000);
    const before = (await h.steps(taskId)).length;
    expect(before).toBeLessThan(10);
    const second = h.worker();
    await second.start();
    const done = await eventually(finished(taskId), 'the resumed task', 30_000);
    await second.stop(5000);
    // Without the budget the task would run 17 steps and succeed; with a fresh budget on resume it would run past 10.
    expect(done.error).toMatchObject({ type: 'budget_exceeded', budget: 'maxSteps', used: 10 });
    const steps = await h.steps(taskId);
    expect(steps).toHaveLength(10);
    expect(new Set(steps.map((s) => s.fence)).size).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('GIVEN a cost budget WHEN a model call spends it THEN FAILED on maxCostUsd (a model missing from the price table is priced at its highest rates)', async () => {
    const worker = h.worker();
    await worker.start();
    const taskId = randomUUID();
    await h.store.create({ taskId, status: 'QUEUED', priority: 'normal', prompt: `cost ${taskId} [tools:3]`, budget: { maxCostUsd: 0.0001 }, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString() });
    await enqueue(taskId);
    const done = await eventually(finished(taskId), 'the costly task');
    await worker.stop(5000);
    expect(done.error).toMatchObject({ type: 'budget_exceeded', budget: 'maxCostUsd', limit: 0.0001 });
    expect(done.error?.used).toBeGreaterThanOrEqual(0.0001);
    expect(done.usage?.costUsd).toBe(done.error?.used);
    expect(done.usage?.llmCalls).toBe(1);
  });

  it('GIVEN a task first started an hour ago WHEN resumed with a 60 s duration budget THEN it fails at once, counting from the first start', async () => {
    const taskId = randomUUID();
    const anHourAgo = new Date(Date.now() - 3_600_000).toISOString();
    await crashedAfter(taskId, `slow ${taskId} [tools:5]`, [{ content: '6' }], { budget: { maxDurationSeconds: 60 }, startedAt: anHourAgo, createdAt: anHourAgo });
    const worker = h.worker();
    await worker.start();
    await enqueue(taskId);
    const done = await eventually(finished(taskId), 'the overdue task');
    await worker.stop(5000);
    expect(done.error).toMatchObject({ type: 'budget_exceeded', budget: 'maxDurationSeconds', limit: 60 });
    expect(done.error?.used).toBeGreaterThanOrEqual(3600);
    expect(callsOf(taskId)).toBe(0);
  });

  it('GIVEN the same task that spent all but 20 s of that hour waiting for a person to approve WHEN resumed with a 60 s duration budget THEN the wait does not count and it runs to the end', async () => {
    const taskId = randomUUID();
    const anHourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const decision = { approvalId: 'appr-1', decision: 'approved' as const, decidedBy: 'reviewer', requestedAt: new Date(Date.now() - 3_590_000).toISOString(), decidedAt: new Date(Date.now() - 10_000).toISOString() };
    await crashedAfter(taskId, `waited ${taskId} [tools:1]`, [{ content: '6' }], { budget: { maxDurationSeconds: 60 }, startedAt: anHourAgo, createdAt: anHourAgo, decisions: [decision] });
    const worker = h.worker();
    await worker.start();
    await enqueue(taskId);
    const done = await eventually(finished(taskId), 'the task that waited for approval');
    await worker.stop(5000);
    expect(done.error).toBeUndefined();
    expect(done.status).toBe('SUCCEEDED');
    expect(callsOf(taskId)).toBeGreaterThan(0);
  });
});

describe('budget meter (pure)', () => {
  const prices = DEFAULT_PRICE_TABLE;
  it('GIVEN a known model THEN its price; an unknown one THEN the table\'s highest rates', () => {
    expect(stepCostUsd(prices, 'claude-sonnet-5', 1_000_000, 0)).toBe(3);
    expect(stepCostUsd(prices, 'mystery-model', 1_000_000, 1_000_000)).toBe(5 + 25);
  });
  it('GIVEN a token budget THEN the next reply may ask for no more than what is left, and at least 1', () => {
    const usage = { maxSteps: 2, maxTokens: 9_000, maxCostUsd: 0, maxDurationSeconds: 0 };
    expect(maxTokensWithin({ maxTokens: 10_000 }, usage, 4096)).toBe(1000);
    expect(maxTokensWithin({ maxTokens: 100_000 }, usage, 4096)).toBe(4096);
    expect(maxTokensWithin(undefined, usage, 4096)).toBe(4096);
    expect(maxTokensWithin({ maxTokens: 9_000 }, usage, 4096)).toBe(1);
  });
  it('GIVEN usage below every limit THEN nothing is exhausted; at a limit THEN that one', () => {
    const usage = { maxSteps: 4, maxTokens: 100, maxCostUsd: 0.5, maxDurationSeconds: 10 };
    expect(exhaustedBudget({ maxSteps: 5, maxTokens: 101, maxCostUsd: 0.6, maxDurationSeconds: 11 }, usage)).toBeUndefined();
    expect(exhaustedBudget({ maxSteps: 5, maxCostUsd: 0.5 }, usage)).toMatchObject({ budget: 'maxCostUsd', limit: 0.5, used: 0.5 });
  });
});
