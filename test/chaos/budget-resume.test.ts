import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import type { RunningServer } from '../../runtime/src/shared/http';
import type { StepRecord, TaskRecord } from '../../runtime/src/shared/task-model';
import { TaskStore } from '../../runtime/src/shared/task-store';
import { CheckpointLog } from '../../runtime/src/worker/checkpoint-log';
import { startStubModel, type StubModel } from '../../tools/local/stub-model';
import { createTestAws, eventually, type TestAws } from '../support/aws';
import { bundleWorker, spawnWorker, startUnlimitedGateway, workerEnv, type WorkerProcess } from './worker-process';

/** Tokens of one recorded model call, as the worker's budget meter counts them (input + output). */
const tokensOf = (step: StepRecord): number => Number(step.payload['inputTokens']) + Number(step.payload['outputTokens']);
const sum = (steps: readonly StepRecord[]): number => steps.filter((s) => s.kind === 'llm').reduce((n, s) => n + tokensOf(s), 0);

/**
 * The token budget. With this prompt the stub's calls cost about 560, 660, 760, 860, 950, ... tokens
 * (the padding is resent each turn), so the task crosses 3000 on its fifth model call whichever
 * worker makes it, while the second worker's own calls stay below 3000: a fresh budget on resume
 * would let it run further.
 */
const MAX_TOKENS = 3000;

describe('chaos: a per-task budget across a SIGKILL and a resume on another worker process', () => {
  let aws: TestAws;
  let stub: StubModel;
  let gateway: RunningServer;
  let bundle: string;
  const procs: WorkerProcess[] = [];

  beforeAll(async () => {
    [aws, stub, bundle] = await Promise.all([
      createTestAws({ visibilityTimeoutSeconds: 10, maxReceiveCount: 5 }),
      // Slow replies, so the first worker dies inside a model call, between two checkpoints.
      startStubModel({ latencyMs: 600 }),
      bundleWorker(),
    ]);
    gateway = await startUnlimitedGateway(stub.url, 'budget-stub');
  });

  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await gateway?.close();
    await stub?.close();
    aws?.destroy();
  });

  it('GIVEN a token budget and its worker SIGKILLed mid-task WHEN another worker resumes THEN the task fails budget_exceeded at the cumulative limit, with its steps and usage readable', async () => {
    const store = new TaskStore({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const log = new CheckpointLog({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const env = { ...workerEnv(aws, gateway.url), MAX_RECEIVE_COUNT: '5' };
    const taskId = randomUUID();
    const now = new Date().toISOString();
    // Eight tool calls and a final answer: 17 steps, about 8600 tokens, if nothing stopped it.
    const prompt = `budget ${taskId} [tools:8] ${'padding '.repeat(250)}`;
    await store.create({ taskId, status: 'QUEUED', priority: 'normal', prompt, budget: { maxTokens: MAX_TOKENS }, createdAt: now, updatedAt: now });
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.resources.queues.normal, MessageBody: JSON.stringify({ taskId }) }));

    const first = spawnWorker(bundle, 'budget-first', env);
    procs.push(first);
    const atKill = await eventually(async () => {
      const steps = await log.list(taskId);
      return steps.length >= 4 ? steps : undefined;
    }, 'two model calls and two tool results on the first worker', 60_000, 50);
    first.child.kill('SIGKILL');
    await first.exited;
    // Read again after the kill: a step may have landed between the read and the signal.
    const fromFirst = await log.list(taskId);
    expect(atKill.length).toBeGreaterThanOrEqual(4);
    expect(sum(fromFirst)).toBeLessThan(MAX_TOKENS);

    const second = spawnWorker(bundle, 'budget-second', env);
    procs.push(second);
    const done = await eventually(async () => {
      const t = await store.get(taskId);
      return t !== undefined && t.status !== 'QUEUED' && t.status !== 'RUNNING' ? t : undefined;
    }, 'the resumed task to finish', 60_000, 200).catch((err: unknown) => {
      for (const p of procs) process.stdout.write(`worker ${p.id} last lines:\n${p.lines.slice(-8).join('\n')}\n`);
      throw err;
    });

    const steps = await log.list(taskId);
    const llm = steps.filter((s) => s.kind === 'llm');
    const fences = [...new Set(steps.map((s) => s.fence))];
    const byFirst = steps.filter((s) => s.fence === fences[0]);
    const bySecond = steps.filter((s) => s.fence !== fences[0]);
    const used = sum(steps);
    const last = llm[llm.length - 1] as StepRecord;
    process.stdout.write(
      `budget figures: ${JSON.stringify({ maxTokens: MAX_TOKENS, used, stepsByFirst: byFirst.length, tokensByFirst: sum(byFirst), stepsBySecond: bySecond.length, tokensBySecond: sum(bySecond), llmCalls: llm.length })}\n`,
    );

    // Ended by the budget, counted over both workers' checkpoints.
    expect(done.status).toBe('FAILED');
    expect(done.error).toMatchObject({ type: 'budget_exceeded', budget: 'maxTokens', limit: MAX_TOKENS, used });
    // At the first point the cumulative count reached the limit: one model call earlier it had not.
    expect(used).toBeGreaterThanOrEqual(MAX_TOKENS);
    expect(used - tokensOf(last)).toBeLessThan(MAX_TOKENS);
    // Not a fresh budget: the second worker spent less than the whole budget itself, and the model still wanted a tool.
    expect(fences).toHaveLength(2);
    expect(byFirst.length).toBe(fromFirst.length);
    expect(sum(bySecond)).toBeLessThan(MAX_TOKENS);
    expect(sum(bySecond)).toBeGreaterThan(0);
    expect(last.payload['stopReason']).toBe('tool_use');
    expect(steps[steps.length - 1]).toBe(last);
    // What it produced stays readable: the row's step count and usage match the checkpoints.
    expect(done.steps).toBe(steps.length);
    expect(done.usage).toMatchObject({ llmCalls: llm.length });
    const usage = done.usage as NonNullable<TaskRecord['usage']>;
    expect(Number(usage.inputTokens) + Number(usage.outputTokens)).toBe(used);
    // The first worker never saw the budget run out; the second resumed from the checkpoints and did.
    expect(first.events.get('budget.exceeded') ?? 0).toBe(0);
    expect(second.events.get('task.resumed')).toBeGreaterThanOrEqual(1);
    expect(second.events.get('budget.exceeded')).toBe(1);
  }, 150_000);
});
