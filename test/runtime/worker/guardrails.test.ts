import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { InMemoryMetrics } from '../../../runtime/src/shared/metrics';
import { METRICS } from '../../../runtime/src/shared/metrics-contract';
import type { TaskRecord } from '../../../runtime/src/shared/task-model';
import { LeaseManager } from '../../../runtime/src/worker/lease';
import { eventually } from '../../support/aws';
import { createWorkerHarness, type WorkerHarness } from './harness';

/** Guardrails in the real worker against DynamoDB Local, fauxqs and the stub model. */
let h: WorkerHarness;
beforeAll(async () => {
  h = await createWorkerHarness();
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
