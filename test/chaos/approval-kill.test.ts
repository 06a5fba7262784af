import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { ApiKeyAuthenticator } from '../../runtime/src/intake/api-keys';
import { createIntakeHandler } from '../../runtime/src/intake/app';
import { staticKeyProvider } from '../../runtime/src/gateway/api-key-provider';
import { createGatewayHandler } from '../../runtime/src/gateway/proxy';
import { parseGatewayLimits } from '../../runtime/src/shared/gateway-limits';
import { listen, type RunningServer } from '../../runtime/src/shared/http';
import { silentLogger } from '../../runtime/src/shared/logger';
import { LOCK_SK, taskPk } from '../../runtime/src/shared/task-model';
import { DEFAULT_TASK_RETENTION_DAYS } from '../../runtime/src/shared/task-retention';
import { TaskStore } from '../../runtime/src/shared/task-store';
import { ANNOUNCEMENT_SK, announcementPk } from '../../runtime/src/worker/tools/publish-announcement';
import { startStubModel, type StubModel } from '../../tools/local/stub-model';
import { makeKey } from '../runtime/intake/harness';
import { createTestAws, eventually, type TestAws } from '../support/aws';
import { bundleWorker, spawnWorker, workerEnv, type WorkerProcess } from './worker-process';

/**
 * The approval outlives the worker that asked for it: a real worker process (the bundled main.ts)
 * suspends a task at a `requires_approval` call and is SIGKILLed while the task waits; the
 * decision is POSTed while no worker runs at all; a new process resumes the task from its
 * checkpoints and runs the approved tool exactly once.
 */
describe('chaos: the worker that asked for an approval is SIGKILLed while the task waits', () => {
  let aws: TestAws;
  let stub: StubModel;
  let gateway: RunningServer;
  let intake: RunningServer;
  let bundle: string;
  const procs: WorkerProcess[] = [];
  const ops = makeKey('ops', { entitlements: { canApprove: true } });

  beforeAll(async () => {
    [aws, stub, bundle] = await Promise.all([createTestAws({ visibilityTimeoutSeconds: 10 }), startStubModel(), bundleWorker()]);
    const limits = parseGatewayLimits({ tiers: { sonnet: { models: ['claude-sonnet-5'], rpm: 1_000_000, itpm: 1_000_000_000, otpm: 1_000_000_000 } } });
    gateway = await listen(createGatewayHandler({ upstreamUrl: stub.url, keys: staticKeyProvider('chaos-stub'), logger: silentLogger, limits }), 0, silentLogger, '127.0.0.1');
    intake = await listen(
      createIntakeHandler({
        dynamo: aws.dynamo,
        sqs: aws.sqs,
        tableName: aws.resources.tasksTable,
        queues: aws.resources.queues,
        auth: new ApiKeyAuthenticator([ops.entry]),
        logger: silentLogger,
        taskRetentionDays: DEFAULT_TASK_RETENTION_DAYS,
      }),
      0,
      silentLogger,
      '127.0.0.1',
    );
  });

  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await intake?.close();
    await gateway?.close();
    await stub?.close();
    aws?.destroy();
  });

  it('GIVEN a task waiting for approval WHEN its worker is SIGKILLed and the approval arrives with no worker running THEN a new worker resumes it and the tool runs once', async () => {
    const env = { ...workerEnv(aws, gateway.url), AGENT_TOOLS: 'calculator,record_note,publish_announcement' };
    const start = (id: string) => {
      const p = spawnWorker(bundle, id, env);
      procs.push(p);
      return p;
    };
    const store = new TaskStore({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const headers = { authorization: `Bearer ${ops.token}`, 'content-type': 'application/json' };

    const asker = start('approval-asker');
    const submitted = await fetch(`${intake.url}/v1/tasks`, { method: 'POST', headers, body: JSON.stringify({ prompt: `announce ${Date.now()} [approval]` }) });
    expect(submitted.status).toBe(202);
    const { taskId } = (await submitted.json()) as { taskId: string };
    const waiting = await eventually(async () => {
      const t = await store.get(taskId);
      return t?.status === 'WAITING_APPROVAL' && (asker.events.get('task.waiting_approval') ?? 0) > 0 ? t : undefined;
    }, `the task to wait for approval (worker log: ${asker.lines.slice(-5).join(' | ')})`, 30_000);
    const approvalId = waiting.pendingApproval?.approvalId ?? '';

    // Nothing is held while the task waits: its message is deleted (right after the wait is recorded).
    const depth = async () => {
      const out = await aws.sqs.send(new GetQueueAttributesCommand({ QueueUrl: aws.resources.queues.normal, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    };
    await eventually(async () => ((await depth()) === 0 ? true : undefined), 'the message to be deleted');

    asker.child.kill('SIGKILL');
    expect(await asker.exited).toBeNull();

    // Nor for the dead worker: no message, no live lease, the task still waiting.
    expect(await depth()).toBe(0);
    const lock = await aws.dynamo.send(new GetCommand({ TableName: aws.resources.tasksTable, Key: { pk: taskPk(taskId), sk: LOCK_SK }, ConsistentRead: true }));
    expect(lock.Item?.['owner']).toBeUndefined();
    expect((await store.get(taskId))?.status).toBe('WAITING_APPROVAL');

    // Decided while no worker runs at all.
    const decided = await fetch(`${intake.url}/v1/tasks/${taskId}/approvals/${approvalId}`, { method: 'POST', headers, body: JSON.stringify({ decision: 'approve', reason: 'after the crash' }) });
    expect(decided.status).toBe(200);
    expect(await depth()).toBe(1);

    const resumer = start('approval-resumer');
    const done = await eventually(async () => {
      const t = await store.get(taskId);
      return t?.status === 'SUCCEEDED' || t?.status === 'FAILED' ? t : undefined;
    }, `the approved task to finish (worker log: ${resumer.lines.slice(-5).join(' | ')})`, 30_000);
    expect(done.status).toBe('SUCCEEDED');
    expect(resumer.events.get('tool.approved')).toBe(1);
    expect(asker.events.get('tool.approved')).toBeUndefined();
    const key = /\(([^()]+\/toolu_[^()]+)\)/.exec(done.result ?? '')?.[1] ?? '';
    expect(key.startsWith(`${taskId}/`)).toBe(true);
    const effect = await aws.dynamo.send(new GetCommand({ TableName: aws.resources.tasksTable, Key: { pk: announcementPk(key), sk: ANNOUNCEMENT_SK }, ConsistentRead: true }));
    expect(effect.Item?.['invocations']).toBe(1);
    // The one LLM step before the wait was not asked of the model again: two calls in all.
    expect(stub.calls.filter((c) => c.prompt.includes(taskId) || c.prompt.startsWith('announce')).map((c) => c.toolResults)).toEqual([0, 1]);
  });
});
