import { randomUUID } from 'node:crypto';
import { startStubModel, type StubModel } from '../../tools/local/stub-model';
import { TaskStore } from '../../runtime/src/shared/task-store';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { CheckpointLog } from '../../runtime/src/worker/checkpoint-log';
import { createTestAws, eventually, type TestAws } from '../support/aws';
import { allNoteInvocations, llmStepToolResults } from '../runtime/worker/harness';
import { bundleWorker, spawnWorker, workerEnv, type WorkerProcess } from './worker-process';

/**
 * The zombie case: worker A is frozen (SIGSTOP, like a long GC pause or a stalled VM) in the middle
 * of a task. Its lease lapses, worker B takes the task over and finishes it. When A thaws, its
 * pending work must not land: every write it attempts is fenced.
 */
describe('a paused worker cannot write after its lease was taken over', () => {
  let aws: TestAws;
  let stub: StubModel;
  let bundle: string;
  const procs: WorkerProcess[] = [];

  beforeAll(async () => {
    [aws, stub, bundle] = await Promise.all([createTestAws({ visibilityTimeoutSeconds: 10, maxReceiveCount: 10 }), startStubModel({ latencyMs: 300 }), bundleWorker()]);
  });
  afterAll(async () => {
    for (const p of procs) {
      p.child.kill('SIGCONT');
      p.child.kill('SIGKILL');
    }
    await Promise.all(procs.map((p) => p.exited));
    await stub?.close();
    aws?.destroy();
  });

  it('GIVEN worker A frozen mid-task past its lease WHEN B takes over and A thaws THEN A is fenced and the log holds only B\'s later steps', async () => {
    // Straight at the stub: this test is about the worker, not the gateway.
    const env = workerEnv(aws, stub.url);
    const store = new TaskStore({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const log = new CheckpointLog({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const taskId = randomUUID();
    const prompt = `paused worker ${taskId} [tools:6]`;
    const now = new Date().toISOString();
    await store.create({ taskId, status: 'QUEUED', priority: 'normal', prompt, createdAt: now, updatedAt: now });

    const a = spawnWorker(bundle, 'worker-a', env);
    procs.push(a);
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.resources.queues.normal, MessageBody: JSON.stringify({ taskId }) }));
    await eventually(async () => ((await log.list(taskId)).length >= 2 ? true : undefined), 'A to checkpoint a couple of steps');
    a.child.kill('SIGSTOP');
    const frozenAt = Date.now();
    const stepsWhenFrozen = await log.list(taskId);

    const b = spawnWorker(bundle, 'worker-b', env);
    procs.push(b);
    const done = await eventually(
      async () => {
        const t = await store.get(taskId);
        return t?.status === 'SUCCEEDED' || t?.status === 'FAILED' ? t : undefined;
      },
      'B to take over and finish',
      45_000,
    );
    expect(done.status).toBe('SUCCEEDED');
    expect(Date.now() - frozenAt).toBeGreaterThan(6000);

    a.child.kill('SIGCONT');
    await eventually(async () => ((a.events.get('task.fenced') ?? 0) > 0 ? true : undefined), 'A to notice it was fenced', 20_000);

    const steps = await log.list(taskId);
    const aSteps = steps.filter((s) => s.fence === 1);
    const bSteps = steps.filter((s) => s.fence === 2);
    // A may have completed a write that was already on the wire when it froze, nothing after.
    expect(aSteps.length).toBeLessThanOrEqual(stepsWhenFrozen.length + 1);
    expect(bSteps.length).toBeGreaterThan(0);
    expect(Math.max(...aSteps.map((s) => s.seq))).toBeLessThan(Math.min(...bSteps.map((s) => s.seq)));
    expect(steps.map((s) => s.seq)).toEqual(steps.map((_, i) => i + 1));
    // B's thawed rival changed nothing after B's result: the row still shows B's outcome.
    expect((await store.get(taskId))?.status).toBe('SUCCEEDED');
    // Side effects once; no LLM step asked again after its checkpoint.
    expect([...(await allNoteInvocations(aws, aws.resources.tasksTable)).values()].every((n) => n === 1)).toBe(true);
    // No check can close the gap between A's last lease check and its request leaving the socket:
    // a freeze inside it sends one call on thaw. That call is A's (fence 1) and its reply is
    // fenced; the current owner (fence 2) never re-asks a checkpointed step.
    const calls = stub.calls.filter((c) => c.prompt === prompt);
    const redone = llmStepToolResults(steps).flatMap((step) => calls.filter((c) => c.toolResults === step.toolResults && c.at > step.createdAt));
    expect(redone.filter((c) => c.headers['x-openclaw-fence'] !== '1')).toEqual([]);
    expect(redone.length).toBeLessThanOrEqual(1);
    process.stdout.write(`paused worker: A wrote ${aSteps.length} steps (fence 1), B wrote ${bSteps.length} (fence 2), A fenced ${a.events.get('task.fenced')} time(s)\n`);
  }, 120_000);
});
