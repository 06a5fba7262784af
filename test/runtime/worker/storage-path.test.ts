import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import type { TaskRecord } from '../../../runtime/src/shared/task-model';
import { LeaseManager } from '../../../runtime/src/worker/lease';
import { eventually } from '../../support/aws';
import { createWorkerHarness, type WorkerHarness } from './harness';

/**
 * The worker's fewer round trips keep their guarantees: the lease and the attempt taken in one
 * transaction, the partition read once, the final answer written with the result, and a message
 * that arrives before its row (the intake writes both at once) handed back, not dropped.
 */
const finished = (h: WorkerHarness, taskId: string) => async () => {
  const t = await h.status(taskId);
  return t !== undefined && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(t.status) ? t : undefined;
};

describe('worker storage path against DynamoDB Local and fauxqs', () => {
  let h: WorkerHarness;
  /** Prompt -> task ID of tasks to cancel while the model writes their final answer. */
  const cancelOnFinalCall = new Map<string, string>();
  beforeAll(async () => {
    h = await createWorkerHarness({
      stub: {
        latencyMs: 300,
        intercept: (call) => {
          const taskId = cancelOnFinalCall.get(call.prompt);
          // What DELETE /v1/tasks/{id} does to a running task, while the reply is on its way.
          if (taskId !== undefined) void h.store.cancel(taskId);
          return undefined;
        },
      },
    });
  });
  afterAll(async () => h.close());

  const leases = () => new LeaseManager({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable, leaseMs: 30_000 });
  const row = (taskId: string, status: TaskRecord['status'] = 'QUEUED'): TaskRecord => {
    const now = new Date().toISOString();
    return { taskId, status, priority: 'normal', prompt: `p ${taskId}`, createdAt: now, updatedAt: now };
  };

  it('GIVEN a free task WHEN two owners claim it THEN one gets the lease and the attempt, the other learns when that lease ends; nothing is counted twice', async () => {
    const taskId = randomUUID();
    await h.store.create(row(taskId));
    const a = await leases().claim(taskId, 'worker-a', h.store.markRunningUpdate(taskId));
    const b = await leases().claim(taskId, 'worker-b', h.store.markRunningUpdate(taskId));
    if (a.kind !== 'claimed') throw new Error(`expected a claim, got ${a.kind}`);
    expect(b).toEqual({ kind: 'leased_elsewhere', expiresAt: a.expiresAt });
    const partition = await h.log.load(taskId);
    expect(partition.row?.['status']).toBe('RUNNING');
    expect(partition.row?.['attempts']).toBe(1);
    expect(leases().fromLock(taskId, 'worker-a', a, partition.lock)).toEqual({ taskId, owner: 'worker-a', fence: 1, expiresAt: a.expiresAt });
    // A handle is only built for the acquisition the LOCK item still records.
    expect(leases().fromLock(taskId, 'worker-a', { ...a, token: 'someone-else' }, partition.lock)).toBeUndefined();
  });

  it('GIVEN first-lease claims WHEN the LOCK is missing, free or held THEN only the missing one proves fence 1; a free one is claimed as usual, a held one is leased elsewhere', async () => {
    const fresh = randomUUID();
    await h.store.create(row(fresh));
    const first = await leases().claim(fresh, 'worker-a', h.store.markRunningUpdate(fresh), { firstLease: true });
    expect(first).toMatchObject({ kind: 'claimed', firstFence: 1 });
    expect((await h.log.load(fresh)).lock?.['fence']).toBe(1);
    // Held by worker-a: a first-lease claim by another worker is refused like any claim.
    expect(await leases().claim(fresh, 'worker-b', h.store.markRunningUpdate(fresh), { firstLease: true })).toMatchObject({ kind: 'leased_elsewhere' });

    const resumed = randomUUID();
    await h.store.create(row(resumed));
    const before = await leases().acquire(resumed, 'worker-a');
    if (before === undefined) throw new Error('no lease');
    expect(await leases().release(before)).toBe(true);
    const again = await leases().claim(resumed, 'worker-b', h.store.markRunningUpdate(resumed), { firstLease: true });
    // Leased before: no firstFence, so the caller reads the fence (2) and the steps back.
    expect(again.kind).toBe('claimed');
    expect(again).not.toHaveProperty('firstFence');
    const partition = await h.log.load(resumed);
    expect(partition.lock?.['fence']).toBe(2);
    expect(partition.row?.['attempts']).toBe(1);
  });

  it('GIVEN a finished task or no row at all WHEN claimed THEN not runnable with the row status (or none) and no lease taken', async () => {
    const done = randomUUID();
    await h.store.create(row(done, 'SUCCEEDED'));
    expect(await leases().claim(done, 'worker-a', h.store.markRunningUpdate(done))).toEqual({ kind: 'not_runnable', status: 'SUCCEEDED' });
    const missing = randomUUID();
    expect(await leases().claim(missing, 'worker-a', h.store.markRunningUpdate(missing))).toEqual({ kind: 'not_runnable' });
    expect((await h.log.load(done)).lock).toBeUndefined();
    expect((await h.log.load(missing)).lock).toBeUndefined();
  });

  it('GIVEN a message that arrives before its row WHEN the worker receives it THEN it is handed back and the task runs once the row exists', async () => {
    const worker = h.worker();
    const pending: string[] = [];
    worker.events.on('task_handed_back', (e) => {
      if (e.reason === 'row_pending') pending.push(e.taskId);
    });
    await worker.start();
    const taskId = randomUUID();
    const prompt = `early message ${taskId} [tools:1]`;
    await h.aws.sqs.send(new SendMessageCommand({ QueueUrl: h.aws.resources.queues.normal, MessageBody: JSON.stringify({ taskId }) }));
    await eventually(async () => (pending.includes(taskId) ? true : undefined), 'the rowless message to be handed back');
    const now = new Date().toISOString();
    await h.store.create({ taskId, status: 'QUEUED', priority: 'normal', prompt, createdAt: now, updatedAt: now });
    const done = await eventually(finished(h, taskId), 'the task to run once its row exists');
    await worker.stop(5000);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.attempts).toBe(1);
    expect(h.stub.calls.filter((c) => c.prompt === prompt)).toHaveLength(2);
    // The final answer went in with the result: every step is in the log.
    expect((await h.steps(taskId)).map((s) => s.kind)).toEqual(['llm', 'tool', 'llm']);
  });

  it('GIVEN a message without a row older than the row wait WHEN received THEN it is dropped as missing', async () => {
    const worker = h.worker({ rowWaitMs: 0 });
    const dropped: string[] = [];
    worker.events.on('task_duplicate', (e) => dropped.push(e.taskId));
    await worker.start();
    const taskId = randomUUID();
    await h.aws.sqs.send(new SendMessageCommand({ QueueUrl: h.aws.resources.queues.normal, MessageBody: JSON.stringify({ taskId }) }));
    await eventually(async () => (dropped.includes(taskId) ? true : undefined), 'the orphan message to be dropped');
    await eventually(async () => ((await h.queueDepth(h.aws.resources.queues.normal)).inFlight === 0 ? true : undefined), 'the orphan to be deleted');
    await worker.stop(5000);
    expect(await h.queueDepth(h.aws.resources.queues.normal)).toEqual({ visible: 0, inFlight: 0 });
  });

  it('GIVEN a cancel requested during the final model call WHEN the answer arrives THEN CANCELLED wins and the answer is not recorded', async () => {
    const worker = h.worker();
    await worker.start();
    const taskId = randomUUID();
    const prompt = `cancel at the end ${taskId} [tools:0]`;
    cancelOnFinalCall.set(prompt, taskId);
    await h.submit(prompt, { taskId });
    const done = await eventually(finished(h, taskId), 'the cancellation');
    await worker.stop(5000);
    expect(done.status).toBe('CANCELLED');
    expect(done.result).toBeUndefined();
    expect(await h.steps(taskId)).toEqual([]);
  });
});
