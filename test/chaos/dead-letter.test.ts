import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { DEAD_LETTERED, DeadLetterRows } from '../../runtime/src/shared/dead-letter-rows';
import type { RunningServer } from '../../runtime/src/shared/http';
import { TaskStore } from '../../runtime/src/shared/task-store';
import { redriveDeadLetters } from '../../tools/delivery/redrive';
import { startStubModel, type StubModel } from '../../tools/local/stub-model';
import { createTestAws, eventually, type TestAws } from '../support/aws';
import { bundleWorker, spawnWorker, startUnlimitedGateway, workerEnv, type WorkerProcess } from './worker-process';

const MAX_RECEIVES = 2;

/**
 * A worker process that dies on every receive of a task (SIGKILL as soon as it starts it, as an
 * OOM kill does) until SQS dead-letters the message. The worker's own dead-letter sweeper then
 * records the task FAILED with the reason and runs its webhook; after the "fix" (no more crashes)
 * an operator's redrive makes the task run again to SUCCEEDED.
 */
describe('chaos: a task whose worker crashes on every receive', () => {
  let aws: TestAws;
  let stub: StubModel;
  let gateway: RunningServer;
  let bundle: string;
  let current: WorkerProcess | undefined;
  const all: WorkerProcess[] = [];

  beforeAll(async () => {
    [aws, stub, bundle] = await Promise.all([
      createTestAws({ visibilityTimeoutSeconds: 10, maxReceiveCount: MAX_RECEIVES }),
      // Slow replies, so the task is still running when the harness kills its worker.
      startStubModel({ latencyMs: 300 }),
      bundleWorker(),
    ]);
    gateway = await startUnlimitedGateway(stub.url, 'dlq-stub');
  });

  afterAll(async () => {
    for (const p of all) p.child.kill('SIGKILL');
    await Promise.all(all.map((p) => p.exited));
    await gateway?.close();
    await stub?.close();
    aws?.destroy();
  });

  it('GIVEN a worker OOM-killed on every receive WHEN the message reaches the DLQ THEN the task is FAILED dead_lettered with its webhook run, and a redrive after the fix runs it to SUCCEEDED', async () => {
    const env = {
      ...workerEnv(aws, gateway.url),
      MAX_RECEIVE_COUNT: String(MAX_RECEIVES),
      DEAD_LETTER_QUEUE_URL: aws.resources.dlqUrl,
      DEAD_LETTER_SWEEP_MS: '1000',
      // A notifier in the process: the webhook's outcome is recorded on the row. The plain-http
      // loopback callback is refused by the deployed URL policy, which is what gets recorded.
      WEBHOOK_SIGNING_KEYS: JSON.stringify({ 'tenant-a': 'whsec_0123456789abcdef0123456789abcdef' }),
    };
    let generation = 0;
    const spawn = () => {
      generation += 1;
      current = spawnWorker(bundle, `dlq-${generation}`, env);
      all.push(current);
    };
    const store = new TaskStore({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const taskId = randomUUID();
    const now = new Date().toISOString();
    await store.create({
      taskId,
      status: 'QUEUED',
      priority: 'normal',
      prompt: `crash on receive ${taskId} [tools:4]`,
      createdAt: now,
      updatedAt: now,
      submittedBy: 'tenant-a',
      callbackUrl: 'http://127.0.0.1:9/hook',
    });
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.resources.queues.normal, MessageBody: JSON.stringify({ taskId }) }));

    // The crash loop: kill the worker the moment it starts the task, start a fresh one.
    let crashes = 0;
    let crashing = true;
    spawn();
    const killer = (async () => {
      while (crashing) {
        await new Promise((r) => setTimeout(r, 20));
        const p = current;
        if (!crashing || p === undefined || (p.events.get('task.started') ?? 0) === 0) continue;
        p.child.kill('SIGKILL');
        await p.exited;
        crashes += 1;
        spawn();
      }
    })();

    const failed = await eventually(
      async () => {
        const t = await store.get(taskId);
        return t?.status === 'FAILED' && t.webhook !== undefined ? t : undefined;
      },
      'the dead-lettered task to be recorded FAILED with its webhook outcome',
      90_000,
      250,
    ).finally(async () => {
      crashing = false;
      await killer;
    });

    expect(crashes).toBe(MAX_RECEIVES);
    expect(failed.error?.type).toBe(DEAD_LETTERED);
    expect(failed.error?.message).toMatch(new RegExp(`after ${MAX_RECEIVES} receives`));
    expect(failed.webhook?.status).toBe('FAILED');
    expect(failed.webhook?.lastError).toMatch(/http/i);
    const sweptBy = all.filter((p) => (p.events.get('task.dead_lettered') ?? 0) > 0);
    expect(sweptBy).toHaveLength(1);

    // The fix is deployed (no more crashes): the crashing worker is replaced, the operator redrives
    // the task and it runs again. (Stopped first so its 1 s test sweep does not hold the message.)
    const old = current;
    if (old !== undefined) {
      old.child.kill('SIGKILL');
      await old.exited;
    }
    const report = await redriveDeadLetters({
      sqs: aws.sqs,
      deadLetterQueueUrl: aws.resources.dlqUrl,
      lanes: aws.resources.queues,
      rows: new DeadLetterRows({ client: aws.dynamo, tableName: aws.resources.tasksTable }),
      select: { taskIds: new Set([taskId]) },
      deadlineMs: 60_000,
    });
    expect(report.redriven).toEqual([taskId]);
    spawn();
    const done = await eventually(
      async () => {
        const t = await store.get(taskId);
        return t?.status === 'SUCCEEDED' ? t : undefined;
      },
      'the redriven task to succeed',
      60_000,
      250,
    );
    expect(done.attempts).toBe(1);
    expect(done.error).toBeUndefined();
  }, 200_000);
});
