import { SQSClient } from '@aws-sdk/client-sqs';
import { emulatorEndpoints, eventually } from '../../support/aws';
import { createWorkerHarness, type WorkerHarness } from './harness';

/**
 * A finished task's result write, webhook and DeleteMessage go out while its slot already runs the
 * next task; these tests slow DeleteMessage down (a middleware on a real client against fauxqs) to
 * make the overlap and its ordering visible.
 */
describe('a finished task settles while its slot takes the next one', () => {
  let h: WorkerHarness;
  // A fresh table and queues per test: a long poll a stopped worker aborted can still take a message in fauxqs.
  beforeEach(async () => {
    h = await createWorkerHarness({ stub: { latencyMs: 50 } });
  });
  afterEach(async () => h.close());

  /** An SQS client whose DeleteMessage waits `delayMs` before it is sent; records what each delete found and when it ended. */
  function slowDeletes(delayMs: number, taskIds: () => readonly string[]) {
    const endpoints = emulatorEndpoints();
    const sqs = new SQSClient({ region: 'us-east-1', endpoint: endpoints.sqs, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const deletes: { sentAt: number; doneAt: number; succeededRows: number }[] = [];
    sqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'DeleteMessageCommand') return next(args);
        await new Promise((r) => setTimeout(r, delayMs));
        const statuses = await Promise.all(taskIds().map(async (id) => (await h.status(id))?.status));
        const entry = { sentAt: Date.now(), doneAt: 0, succeededRows: statuses.filter((s) => s === 'SUCCEEDED').length };
        deletes.push(entry);
        const out = await next(args);
        entry.doneAt = Date.now();
        return out;
      },
      { step: 'initialize', name: 'slowDeletes' },
    );
    return { sqs, deletes };
  }

  it('GIVEN two queued tasks and slow deletes WHEN one slot runs them THEN the second starts before the first is deleted, and each delete is sent only after its result is durable', async () => {
    const ids: string[] = [];
    const { sqs, deletes } = slowDeletes(800, () => ids);
    ids.push(await h.submit('first [tools:0]'), await h.submit('second [tools:0]'));
    const worker = h.worker({ sqs, concurrency: 1 });
    const started = new Map<string, number>();
    worker.events.on('task_started', (e) => started.set(e.taskId, Date.now()));
    await worker.start();
    await eventually(async () => (deletes.filter((d) => d.doneAt > 0).length === 2 ? true : undefined), 'both messages deleted');
    await worker.stop(5000);
    sqs.destroy();

    const [firstDelete] = [...deletes].sort((a, b) => a.doneAt - b.doneAt);
    const startTimes = [...started.values()].sort((a, b) => a - b);
    expect(startTimes).toHaveLength(2);
    // Overlap: the slot's second task started while the first one's delete was still waiting.
    expect(startTimes[1]).toBeLessThan(firstDelete?.doneAt ?? 0);
    // Order within a task: by the time the k-th delete was sent, at least k results were durable.
    expect(deletes.map((d, i) => d.succeededRows >= i + 1)).toEqual([true, true]);
    expect(await Promise.all(ids.map(async (id) => (await h.status(id))?.status))).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  });

  it('GIVEN a task settling WHEN the worker stops THEN stop resolves only after its message is deleted', async () => {
    const ids: string[] = [];
    const { sqs, deletes } = slowDeletes(1000, () => ids);
    ids.push(await h.submit('settling at stop [tools:0]'));
    const worker = h.worker({ sqs, concurrency: 1 });
    const finished = new Promise<void>((resolve) => worker.events.once('task_finished', () => resolve()));
    await worker.start();
    await finished;
    expect(deletes.filter((d) => d.doneAt > 0)).toHaveLength(0);
    expect(await worker.stop(5000)).toBe(true);
    expect(deletes.filter((d) => d.doneAt > 0)).toHaveLength(1);
    sqs.destroy();
    expect(await h.queueDepth(h.aws.resources.queues.normal)).toEqual({ visible: 0, inFlight: 0 });
  });
});
