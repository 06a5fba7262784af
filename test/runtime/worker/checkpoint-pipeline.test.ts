import type Anthropic from '@anthropic-ai/sdk';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { FencedError } from '../../../runtime/src/shared/errors';
import { silentLogger } from '../../../runtime/src/shared/logger';
import { LOCK_SK, taskPk, type StepRecord, type TaskRecord } from '../../../runtime/src/shared/task-model';
import { TaskStore } from '../../../runtime/src/shared/task-store';
import { AgentLoop } from '../../../runtime/src/worker/agent-loop';
import { CheckpointLog, type ToolIntent } from '../../../runtime/src/worker/checkpoint-log';
import { CheckpointPipeline } from '../../../runtime/src/worker/checkpoint-pipeline';
import { LeaseManager, type LeaseHandle } from '../../../runtime/src/worker/lease';
import type { ModelClient, ModelRequest } from '../../../runtime/src/worker/model-client';
import { defineTool, ToolRegistry, type ToolDefinition } from '../../../runtime/src/worker/tool-registry';
import { calculatorTool } from '../../../runtime/src/worker/tools/calculator';
import { NOTE_SK, notePk, recordNoteTool } from '../../../runtime/src/worker/tools/record-note';
import { createTestAws, type TestAws } from '../../support/aws';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('CheckpointPipeline', () => {
  it('GIVEN writes enqueued together WHEN they run THEN each starts only after the previous one ended, and flush waits for all', async () => {
    const pipeline = new CheckpointPipeline(new AbortController().signal);
    const events: string[] = [];
    for (const n of [1, 2, 3]) {
      pipeline.enqueue(async () => {
        events.push(`start ${n}`);
        await wait(20 - n * 5);
        events.push(`end ${n}`);
      });
    }
    expect(pipeline.inFlight).toBe(3);
    await pipeline.flush();
    expect(events).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    expect(pipeline.inFlight).toBe(0);
  });

  it('GIVEN a write that fails WHEN later writes are queued THEN the signal aborts with its error, later writes are not sent and flush throws it', async () => {
    const pipeline = new CheckpointPipeline(new AbortController().signal);
    const fenced = new FencedError('lease lost', { taskId: 't' });
    const sent: number[] = [];
    pipeline.enqueue(async () => void sent.push(1));
    pipeline.enqueue(async () => {
      sent.push(2);
      throw fenced;
    });
    pipeline.enqueue(async () => void sent.push(3));
    await pipeline.settle();
    expect(sent).toEqual([1, 2]);
    expect(pipeline.signal.aborted).toBe(true);
    expect(pipeline.signal.reason).toBe(fenced);
    expect(pipeline.failure).toBe(fenced);
    await expect(pipeline.flush()).rejects.toBe(fenced);
  });

  it('GIVEN the outer signal aborts THEN the pipeline signal aborts with it, without a write failure', () => {
    const outer = new AbortController();
    const pipeline = new CheckpointPipeline(outer.signal);
    outer.abort(new Error('hard stop'));
    expect(pipeline.signal.aborted).toBe(true);
    expect(pipeline.failure).toBeUndefined();
  });
});

/** When each step write was sent and became durable, by seq; optionally slowed, or lost in a crash. */
class ObservedLog extends CheckpointLog {
  readonly sentAt = new Map<number, number>();
  readonly durableAt = new Map<number, number>();
  delayMs = 0;
  /** This seq's write never reaches the table: it hangs until `crash` aborts, then fails (the process died). */
  lose: { seq: number; crash: AbortSignal } | undefined;

  override async write(lease: LeaseHandle, step: StepRecord, nextIntent?: { readonly seq: number; readonly intent: Omit<ToolIntent, 'fence' | 'createdAt'> }): Promise<void> {
    if (this.delayMs > 0) await wait(this.delayMs);
    this.sentAt.set(step.seq, Date.now());
    const lost = this.lose;
    if (lost !== undefined && lost.seq === step.seq) {
      await new Promise((_, reject) => lost.crash.addEventListener('abort', () => reject(new Error('worker crashed before this write was sent')), { once: true }));
    }
    await super.write(lease, step, nextIntent);
    this.durableAt.set(step.seq, Date.now());
  }
}

interface ModelCall {
  readonly at: number;
  readonly toolResults: number;
  readonly signal: AbortSignal;
}

/** A scripted model: `reply(n)` answers call n (0-based); it may hang until the call's signal aborts. */
function scriptedModel(reply: (n: number, request: ModelRequest, signal: AbortSignal) => Promise<Anthropic.ContentBlock[]>): ModelClient & { calls: ModelCall[] } {
  const calls: ModelCall[] = [];
  return {
    calls,
    async create(request, options) {
      const toolResults = request.messages.flatMap((m) => (Array.isArray(m.content) ? m.content : [])).filter((b) => b.type === 'tool_result').length;
      calls.push({ at: Date.now(), toolResults, signal: options.signal });
      const content = await reply(calls.length - 1, request, options.signal);
      const toolUse = content.some((b) => b.type === 'tool_use');
      return {
        id: `msg_${calls.length}`,
        type: 'message',
        role: 'assistant',
        model: 'claude-test',
        content,
        stop_reason: toolUse ? 'tool_use' : 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 5 },
      } as unknown as Anthropic.Message;
    },
  };
}

const toolUse = (name: string, input: Record<string, unknown>): Anthropic.ContentBlock =>
  ({ type: 'tool_use', id: `toolu_${randomUUID().replace(/-/g, '').slice(0, 20)}`, name, input }) as Anthropic.ContentBlock;
const text = (t: string): Anthropic.ContentBlock => ({ type: 'text', text: t, citations: null }) as Anthropic.ContentBlock;

/** Resolves when `signal` aborts; rejects with its reason, as the SDK's call does. */
const untilAborted = (signal: AbortSignal, ms = 20_000): Promise<never> =>
  new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => reject(new Error(`model call not aborted within ${ms} ms`)), ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

describe('AgentLoop with background checkpoints, against DynamoDB Local', () => {
  let aws: TestAws;
  let store: TaskStore;
  let plainLog: CheckpointLog;
  let leases: LeaseManager;
  beforeAll(async () => {
    aws = await createTestAws();
    store = new TaskStore({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    plainLog = new CheckpointLog({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    leases = new LeaseManager({ client: aws.dynamo, tableName: aws.resources.tasksTable, leaseMs: 30_000 });
  });
  afterAll(() => aws.destroy());

  async function newTask(prompt: string): Promise<{ task: TaskRecord; lease: LeaseHandle }> {
    const now = new Date().toISOString();
    const task: TaskRecord = { taskId: randomUUID(), status: 'RUNNING', priority: 'normal', prompt, createdAt: now, updatedAt: now, startedAt: now };
    await store.create(task);
    const lease = await leases.acquire(task.taskId, 'worker-a');
    if (lease === undefined) throw new Error('no lease');
    return { task, lease };
  }

  const loopWith = (model: ModelClient, log: CheckpointLog, tools: readonly ToolDefinition[]) =>
    new AgentLoop({ model, log, tools: new ToolRegistry(tools), logger: silentLogger, modelName: 'claude-test' });

  it('GIVEN slow checkpoint writes WHEN a read-only tool and a model call follow a checkpoint THEN they start before it is durable, but a side-effecting tool starts only after every earlier step and its intent are', async () => {
    const { task, lease } = await newTask('pipeline ordering');
    const log = new ObservedLog({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    log.delayMs = 150;
    const seenBySideEffect: { steps: number[]; intent: boolean }[] = [];
    let readOnlyStartedAt = 0;
    const probe = defineTool({
      name: 'probe_effect',
      description: 'A side effect that records what the log held when it started.',
      input: z.object({}).strict(),
      risk: 'side_effecting',
      idempotency: { onInterrupted: 'outcome_unknown' },
      async run(_input, ctx) {
        const stored = await plainLog.list(ctx.taskId);
        const intent = await plainLog.getIntent(ctx.taskId, 4);
        seenBySideEffect.push({ steps: stored.map((s) => s.seq), intent: intent !== undefined });
        return { content: 'done' };
      },
    });
    const clock = defineTool({
      name: 'read_clock',
      description: 'Read-only: notes when it ran.',
      input: z.object({}).strict(),
      risk: 'read_only',
      async run() {
        readOnlyStartedAt = Date.now();
        return { content: 'tick' };
      },
    });
    const model = scriptedModel(async (n) => [[toolUse('read_clock', {})], [toolUse('probe_effect', {})], [text('finished')]][n] ?? [text('extra')]);
    const outcome = await loopWith(model, log, [probe, clock]).run({ task, lease: () => lease, signal: new AbortController().signal, isCancelled: async () => false });

    expect(outcome.status).toBe('SUCCEEDED');
    // Beside: the read-only tool ran while step 1 (the reply asking for it) was still being written,
    // and the second model call went out while step 2 (the tool's result) was.
    expect(readOnlyStartedAt).toBeLessThan(log.durableAt.get(1) ?? 0);
    expect(model.calls[1]?.at ?? Infinity).toBeLessThan(log.durableAt.get(2) ?? 0);
    // Barrier: when the side effect started, steps 1-3 and the intent for step 4 were in the table.
    expect(seenBySideEffect).toEqual([{ steps: [1, 2, 3], intent: true }]);
    // Every step is durable before the outcome is returned (the final one goes in with the result).
    expect((await plainLog.list(task.taskId)).map((s) => s.seq)).toEqual([1, 2, 3, 4]);
    expect(outcome.status === 'SUCCEEDED' ? outcome.finalStep?.seq : undefined).toBe(5);
  });

  it('GIVEN the lease taken over WHEN a background checkpoint is then fenced THEN the model call in flight is aborted and the run fails with the FencedError', async () => {
    const { task, lease } = await newTask('pipeline fence');
    const log = new ObservedLog({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    log.delayMs = 300;
    const model = scriptedModel(async (n, _req, signal) => {
      if (n === 0) return [toolUse('calculator', { a: 2, b: 3, op: 'mul' })];
      // A new owner takes the task while this call runs (its fence moves on), before step 1 is sent.
      await aws.dynamo.send(new UpdateCommand({ TableName: aws.resources.tasksTable, Key: { pk: taskPk(task.taskId), sk: LOCK_SK }, UpdateExpression: 'SET fence = fence + :one', ExpressionAttributeValues: { ':one': 1 } }));
      return untilAborted(signal);
    });
    const started = Date.now();
    const run = loopWith(model, log, [calculatorTool]).run({ task, lease: () => lease, signal: new AbortController().signal, isCancelled: async () => false });

    await expect(run).rejects.toBeInstanceOf(FencedError);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(model.calls).toHaveLength(2);
    expect(model.calls[1]?.signal.aborted).toBe(true);
    expect(model.calls[1]?.signal.reason).toBeInstanceOf(FencedError);
    expect(log.durableAt.size).toBe(0);
    expect(await plainLog.list(task.taskId)).toEqual([]);
  });

  it('GIVEN a crash after a side effect whose result checkpoint was still in the background WHEN the task resumes THEN only the model call is repeated: the side effect is reconciled, not run again', async () => {
    const { task, lease } = await newTask('pipeline crash');
    const note = recordNoteTool({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const crash = new AbortController();
    const crashedLog = new ObservedLog({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    crashedLog.lose = { seq: 2, crash: crash.signal };
    let key = '';
    const first = scriptedModel(async (n, _req, signal) => {
      if (n === 0) {
        const use = toolUse('record_note', { text: 'exactly once' });
        key = `${task.taskId}/${(use as Anthropic.ToolUseBlock).id}`;
        return [use];
      }
      // The second call is under way when the worker dies; step 2's write never made it out.
      crash.abort(new Error('SIGKILL'));
      return untilAborted(signal);
    });
    await expect(loopWith(first, crashedLog, [note]).run({ task, lease: () => lease, signal: crash.signal, isCancelled: async () => false })).rejects.toThrow();
    expect((await plainLog.list(task.taskId)).map((s) => s.seq)).toEqual([1]);
    expect((await plainLog.getIntent(task.taskId, 2))?.idempotencyKey).toBe(key);

    const again = await leases.acquire(task.taskId, 'worker-a');
    if (again === undefined) throw new Error('no lease on resume');
    const second = scriptedModel(async () => [text('noted')]);
    const outcome = await loopWith(second, plainLog, [note]).run({ task, lease: () => again, signal: new AbortController().signal, isCancelled: async () => false });

    expect(outcome.status).toBe('SUCCEEDED');
    const stored = await aws.dynamo.send(new GetCommand({ TableName: aws.resources.tasksTable, Key: { pk: notePk(key), sk: NOTE_SK }, ConsistentRead: true }));
    expect(stored.Item?.['invocations']).toBe(1);
    // The first model call is not asked again; the one in flight at the crash is, once, with the reconciled result.
    expect(second.calls.map((c) => c.toolResults)).toEqual([1]);
    expect((await plainLog.list(task.taskId)).map((s) => `${s.seq}:${s.kind}`)).toEqual(['1:llm', '2:tool']);
  });
});
