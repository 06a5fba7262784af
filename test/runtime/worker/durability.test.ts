import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { FencedError } from '../../../runtime/src/shared/errors';
import { InMemoryMetrics } from '../../../runtime/src/shared/metrics';
import { METRICS } from '../../../runtime/src/shared/metrics-contract';
import { LeaseManager } from '../../../runtime/src/worker/lease';
import { CancelRequestedError } from '../../../runtime/src/worker/worker-errors';
import { z } from 'zod';
import type { ToolDefinition } from '../../../runtime/src/worker/tool-registry';
import { recordNoteTool } from '../../../runtime/src/worker/tools/record-note';
import { eventually } from '../../support/aws';
import { createWorkerHarness, type WorkerHarness } from './harness';

/** A finished status, or undefined while the task is still going. */
const finished = (h: WorkerHarness, taskId: string) => async () => {
  const t = await h.status(taskId);
  return t !== undefined && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(t.status) ? t : undefined;
};

describe('durable worker against DynamoDB Local, fauxqs and the stub model', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await createWorkerHarness({
      maxReceiveCount: 2,
      stub: {
        intercept: (call) =>
          call.prompt.includes('[poison]')
            ? { status: 400, body: { type: 'error', error: { type: 'invalid_request_error', message: 'scripted poison' } } }
            : undefined,
      },
    });
  });
  afterAll(async () => h.close());

  const leases = (leaseMs = 300) => new LeaseManager({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable, leaseMs });

  it('GIVEN a lease taken over after expiry WHEN the paused former owner writes THEN every write is fenced', async () => {
    const taskId = randomUUID();
    const a = await leases(1500).acquire(taskId, 'worker-a');
    expect(a?.fence).toBe(1);
    // A live lease cannot be taken.
    expect(await leases().acquire(taskId, 'worker-b')).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1600));
    const b = await leases(30_000).acquire(taskId, 'worker-b');
    expect(b?.fence).toBe(2);
    if (a === undefined || b === undefined) throw new Error('leases not acquired');
    await expect(h.log.append(a, 1, 'llm', { zombie: true })).rejects.toBeInstanceOf(FencedError);
    await expect(h.log.recordIntent(a, 1, { toolUseId: 't', name: 'record_note', idempotencyKey: `${taskId}/t` })).rejects.toBeInstanceOf(FencedError);
    await expect(h.log.finish(a, { status: 'SUCCEEDED', fields: {} })).rejects.toBeInstanceOf(FencedError);
    await expect(leases().renew(a)).rejects.toBeInstanceOf(FencedError);
    expect(await leases().release(a)).toBe(false);
    await h.log.append(b, 1, 'llm', { owner: 'b' });
    expect((await h.steps(taskId)).map((s) => s.fence)).toEqual([2]);
  });

  it('GIVEN a cancel flag on the row WHEN the owner checkpoints THEN the transaction refuses it as a cancel (no read per turn); a stale owner is still fenced', async () => {
    const taskId = randomUUID();
    const now = new Date().toISOString();
    await h.store.create({ taskId, status: 'RUNNING', priority: 'normal', prompt: 'p', createdAt: now, updatedAt: now });
    const lease = await leases(30_000).acquire(taskId, 'worker-a');
    if (lease === undefined) throw new Error('no lease');
    await h.log.append(lease, 1, 'llm', { before: 'cancel' });
    expect((await h.store.cancel(taskId))?.outcome).toBe('flagged');
    await expect(h.log.append(lease, 2, 'llm', {})).rejects.toBeInstanceOf(CancelRequestedError);
    await expect(h.log.recordIntent(lease, 2, { toolUseId: 't', name: 'record_note', idempotencyKey: `${taskId}/t` })).rejects.toBeInstanceOf(CancelRequestedError);
    await expect(h.log.append({ ...lease, fence: lease.fence + 1 }, 2, 'llm', {})).rejects.toBeInstanceOf(FencedError);
    // The terminal write itself is not blocked by the flag: the owner records CANCELLED.
    await h.log.finish(lease, { status: 'CANCELLED', fields: {} });
    expect((await h.status(taskId))?.status).toBe('CANCELLED');
    expect((await h.steps(taskId)).map((s) => s.seq)).toEqual([1]);
  });

  /** Write a recorded first step (an LLM reply asking for `tool`) as a worker that then died. */
  async function crashedAfterLlmStep(prompt: string, tool: string, input: Record<string, unknown>): Promise<{ taskId: string; toolUseId: string }> {
    const taskId = randomUUID();
    const toolUseId = `toolu_${randomUUID().slice(0, 8)}`;
    const now = new Date().toISOString();
    await h.store.create({ taskId, status: 'RUNNING', priority: 'normal', prompt, createdAt: now, updatedAt: now });
    const lease = await leases().acquire(taskId, 'crashed-worker');
    if (lease === undefined) throw new Error('no lease');
    await h.log.append(lease, 1, 'llm', {
      content: [{ type: 'tool_use', id: toolUseId, name: tool, input }],
      stopReason: 'tool_use',
      model: 'claude-test',
      inputTokens: 10,
      outputTokens: 5,
    });
    return { taskId, toolUseId };
  }

  async function resume(taskId: string): Promise<void> {
    await h.aws.sqs.send(new SendMessageCommand({ QueueUrl: h.aws.resources.queues.normal, MessageBody: JSON.stringify({ taskId }) }));
  }

  it('GIVEN recorded LLM and tool steps WHEN another worker resumes THEN neither the model call nor the tool is repeated', async () => {
    const prompt = `resume ${randomUUID()} [tools:2]`;
    const { taskId, toolUseId } = await crashedAfterLlmStep(prompt, 'record_note', { text: 'first' });
    const lease = await leases().acquire(taskId, 'crashed-worker');
    if (lease === undefined) throw new Error('no lease');
    await h.log.append(lease, 2, 'tool', { toolUseId, name: 'record_note', content: 'note stored earlier', isError: false });
    const worker = h.worker();
    await worker.start();
    await resume(taskId);
    const done = await eventually(finished(h, taskId), 'the resumed task to finish');
    await worker.stop(5000);
    expect(done.status).toBe('SUCCEEDED');
    // The stub saw the conversation only from the first unrecorded step on.
    expect(h.stub.calls.filter((c) => c.prompt === prompt).map((c) => c.toolResults)).toEqual([1, 2]);
    expect(await h.noteInvocations(`${taskId}/${toolUseId}`)).toBe(0);
    expect(done.result).toContain('note stored earlier');
    const steps = await h.steps(taskId);
    expect(steps.map((s) => s.kind)).toEqual(['llm', 'tool', 'llm', 'tool', 'llm']);
  });

  it('GIVEN an intent whose side effect happened WHEN resumed THEN record_note reconciles it and is not run again', async () => {
    const prompt = `reconcile ${randomUUID()} [tools:1]`;
    const { taskId, toolUseId } = await crashedAfterLlmStep(prompt, 'record_note', { text: 'once' });
    const key = `${taskId}/${toolUseId}`;
    const lease = await leases().acquire(taskId, 'crashed-worker');
    if (lease === undefined) throw new Error('no lease');
    await h.log.recordIntent(lease, 2, { toolUseId, name: 'record_note', idempotencyKey: key });
    // The crashed worker's call reached the note service before it died.
    const note = recordNoteTool({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable });
    await note.run({ text: 'once' }, { taskId, idempotencyKey: key, fence: lease.fence, signal: new AbortController().signal });
    await leases().release(lease);
    const worker = h.worker();
    await worker.start();
    await resume(taskId);
    const done = await eventually(finished(h, taskId), 'the reconciled task');
    await worker.stop(5000);
    expect(done.status).toBe('SUCCEEDED');
    expect(await h.noteInvocations(key)).toBe(1);
    const toolStep = (await h.steps(taskId))[1];
    expect(toolStep?.payload).toMatchObject({ toolUseId, isError: false, content: `note stored (${key})` });
  });

  it('GIVEN an intent whose side effect never happened WHEN resumed THEN reconcile says so and the tool runs exactly once', async () => {
    const prompt = `reconcile-missing ${randomUUID()} [tools:1]`;
    const { taskId, toolUseId } = await crashedAfterLlmStep(prompt, 'record_note', { text: 'never sent' });
    const key = `${taskId}/${toolUseId}`;
    const lease = await leases().acquire(taskId, 'crashed-worker');
    if (lease === undefined) throw new Error('no lease');
    await h.log.recordIntent(lease, 2, { toolUseId, name: 'record_note', idempotencyKey: key });
    await leases().release(lease);
    const worker = h.worker();
    await worker.start();
    await resume(taskId);
    expect((await eventually(finished(h, taskId), 'the task')).status).toBe('SUCCEEDED');
    await worker.stop(5000);
    expect(await h.noteInvocations(key)).toBe(1);
    // The crashed owner was only frozen and now thaws inside run(): its older fence is refused.
    const note = recordNoteTool({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable });
    const zombie = note.run({ text: 'never sent' }, { taskId, idempotencyKey: key, fence: lease.fence, signal: new AbortController().signal });
    await expect(zombie).rejects.toBeInstanceOf(FencedError);
    expect(await h.noteInvocations(key)).toBe(1);
  });

  it('GIVEN an intent for a side-effecting tool without reconcile WHEN resumed THEN it is not re-run and the model is told the outcome is unknown', async () => {
    let sends = 0;
    const sendEmail: ToolDefinition = {
      name: 'send_email',
      description: 'Send an email.',
      input: z.object({}).loose(),
      risk: 'side_effecting',
      idempotency: { onInterrupted: 'outcome_unknown' },
      run: async () => {
        sends += 1;
        return { content: 'sent' };
      },
    };
    const prompt = `unknown ${randomUUID()} [tools:1]`;
    const { taskId, toolUseId } = await crashedAfterLlmStep(prompt, 'send_email', { to: 'a@example.com' });
    const lease = await leases().acquire(taskId, 'crashed-worker');
    if (lease === undefined) throw new Error('no lease');
    await h.log.recordIntent(lease, 2, { toolUseId, name: 'send_email', idempotencyKey: `${taskId}/${toolUseId}` });
    await leases().release(lease);
    const worker = h.worker({ tools: [sendEmail] });
    await worker.start();
    await resume(taskId);
    const done = await eventually(finished(h, taskId), 'the task');
    await worker.stop(5000);
    expect(done.status).toBe('SUCCEEDED');
    expect(sends).toBe(0);
    const toolStep = (await h.steps(taskId))[1];
    expect(toolStep?.payload).toMatchObject({ toolUseId, isError: true, content: expect.stringContaining('outcome unknown') });
  });

  it('GIVEN a finished task WHEN its message is delivered again THEN it is acknowledged without work', async () => {
    const worker = h.worker();
    const duplicates: string[] = [];
    worker.events.on('task_duplicate', (e) => duplicates.push(e.taskId));
    await worker.start();
    const prompt = `dup ${randomUUID()} [tools:1]`;
    const taskId = await h.submit(prompt);
    expect((await eventually(finished(h, taskId), 'first run')).status).toBe('SUCCEEDED');
    const callsBefore = h.stub.calls.filter((c) => c.prompt === prompt).length;
    await resume(taskId);
    await eventually(async () => (duplicates.includes(taskId) ? true : undefined), 'the duplicate to be acknowledged');
    await eventually(async () => ((await h.queueDepth(h.aws.resources.queues.normal)).inFlight === 0 ? true : undefined), 'the duplicate to be deleted');
    await worker.stop(5000);
    expect(h.stub.calls.filter((c) => c.prompt === prompt)).toHaveLength(callsBefore);
    expect((await h.queueDepth(h.aws.resources.queues.normal)).visible).toBe(0);
  });

  it('GIVEN a task that always fails WHEN maxReceiveCount is reached THEN its status is FAILED with the reason, the message is in the DLQ and the redelivery was counted', async () => {
    const metrics = new InMemoryMetrics();
    const worker = h.worker({ metrics });
    await worker.start();
    const taskId = await h.submit(`always fails ${randomUUID()} [poison]`);
    const done = await eventually(finished(h, taskId), 'the poison task to be marked FAILED', 30_000);
    expect(done.status).toBe('FAILED');
    expect(done.error).toMatchObject({ type: 'poison', message: expect.stringMatching(/failed 2 times; last error: .*scripted poison/) });
    const inDlq = await eventually(async () => {
      const out = await h.aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: h.aws.resources.dlqUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
      return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) >= 1 ? true : undefined;
    }, 'the message to reach the DLQ', 30_000);
    await worker.stop(5000);
    expect(inDlq).toBe(true);
    // The second receive is reported with its count (the Redeliveries alarm reads the maximum).
    expect(metrics.find(METRICS.messageReceiveCount).filter((r) => r.properties['taskId'] === taskId).map((r) => r.value)).toEqual([2]);
  });

  it('GIVEN a cancel request WHEN the task is running THEN it stops at the next step as CANCELLED', async () => {
    const worker = h.worker();
    await worker.start();
    const taskId = await h.submit(`cancel me ${randomUUID()} [tools:30]`);
    await eventually(async () => ((await h.steps(taskId)).length >= 2 ? true : undefined), 'a few steps');
    // What DELETE /v1/tasks/{id} does to a RUNNING task: flag it.
    expect((await h.store.cancel(taskId))?.outcome).toBe('flagged');
    const done = await eventually(finished(h, taskId), 'the cancellation');
    await worker.stop(5000);
    expect(done.status).toBe('CANCELLED');
    expect((await h.steps(taskId)).length).toBeLessThan(20);
  });

  it('GIVEN a tool whose output is far over the DynamoDB item limit WHEN checkpointed THEN it is truncated with a marker and the task succeeds', async () => {
    const big: ToolDefinition = {
      name: 'fetch_page',
      description: 'Fetch a page.',
      input: z.object({}).loose(),
      risk: 'read_only',
      run: async () => ({ content: 'é'.repeat(600_000) }),
    };
    const worker = h.worker({ tools: [big], maxToolOutputBytes: 65_536 });
    await worker.start();
    const taskId = await h.submit(`big output ${randomUUID()} [tools:1]`);
    const done = await eventually(finished(h, taskId), 'the task with a big tool output');
    await worker.stop(5000);
    expect(done.status).toBe('SUCCEEDED');
    const content = String((await h.steps(taskId))[1]?.payload['content']);
    expect(Buffer.byteLength(content)).toBeLessThanOrEqual(65_536);
    expect(content).toContain('[truncated: output was 1200000 bytes, limit 65536]');
    expect(content).not.toContain('\uFFFD');
  });
});
