import { SendMessageCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { startStubModel, type StubModel } from '../../tools/local/stub-model';
import { TaskStore } from '../../runtime/src/shared/task-store';
import { CheckpointLog } from '../../runtime/src/worker/checkpoint-log';
import { LeaseManager } from '../../runtime/src/worker/lease';
import { createTestAws, eventually, type TestAws } from '../support/aws';
import { bundleWorker, spawnWorker, workerEnv, type WorkerProcess } from './worker-process';

/** What ECS does on scale-in or deploy: SIGTERM, then SIGKILL after stopTimeout. */
describe('SIGTERM on a busy worker process', () => {
  let aws: TestAws;
  let stub: StubModel;
  let bundle: string;
  const procs: WorkerProcess[] = [];

  beforeAll(async () => {
    [aws, stub, bundle] = await Promise.all([createTestAws({ visibilityTimeoutSeconds: 30 }), startStubModel({ latencyMs: 800 }), bundleWorker()]);
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await stub?.close();
    aws?.destroy();
  });

  it('GIVEN a task mid-flight WHEN the process gets SIGTERM THEN it checkpoints the step, releases the lease, makes the message visible and exits 0 well before the drain timeout', async () => {
    const env = { ...workerEnv(aws, stub.url), VISIBILITY_TIMEOUT_SECONDS: '30', DRAIN_TIMEOUT_MS: '20000' };
    const store = new TaskStore({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const log = new CheckpointLog({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const taskId = randomUUID();
    const now = new Date().toISOString();
    await store.create({ taskId, status: 'QUEUED', priority: 'normal', prompt: `sigterm ${taskId} [tools:6]`, createdAt: now, updatedAt: now });
    const worker = spawnWorker(bundle, 'sigterm-worker', env);
    procs.push(worker);
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.resources.queues.normal, MessageBody: JSON.stringify({ taskId }) }));
    await eventually(async () => ((await log.list(taskId)).length >= 1 ? true : undefined), 'the first checkpoint');
    // Let the next model call (800 ms) get under way, then stop the task the way ECS does.
    await new Promise((r) => setTimeout(r, 300));
    const stepsAtSignal = (await log.list(taskId)).length;
    const signalled = Date.now();
    worker.child.kill('SIGTERM');
    const code = await worker.exited;
    const drainMs = Date.now() - signalled;

    expect(code).toBe(0);
    expect(drainMs).toBeLessThan(10_000);
    expect(worker.events.get('task.handed_back')).toBe(1);
    // The step in flight was finished and checkpointed, not thrown away.
    expect((await log.list(taskId)).length).toBeGreaterThan(stepsAtSignal);
    const lock = await new LeaseManager({ client: aws.dynamo, tableName: aws.resources.tasksTable }).inspect(taskId);
    expect(lock?.owner).toBeUndefined();
    const attrs = await aws.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: aws.resources.queues.normal, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    expect(attrs.Attributes).toMatchObject({ ApproximateNumberOfMessages: '1', ApproximateNumberOfMessagesNotVisible: '0' });
    expect((await store.get(taskId))?.status).toBe('RUNNING');
    process.stdout.write(`sigterm: drained in ${drainMs} ms, ${(await log.list(taskId)).length - stepsAtSignal} step(s) checkpointed after the signal\n`);
  }, 90_000);
});
