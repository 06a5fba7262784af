import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CallbackUrlPolicy } from '../../../runtime/src/shared/callback-url-policy';
import { DEAD_LETTERED, DeadLetterRows } from '../../../runtime/src/shared/dead-letter-rows';
import { silentLogger } from '../../../runtime/src/shared/logger';
import { LOCK_SK, taskPk, type TaskRecord } from '../../../runtime/src/shared/task-model';
import { TaskStore } from '../../../runtime/src/shared/task-store';
import { SIGNATURE_HEADER, WebhookNotifier, verifyWebhookSignature } from '../../../runtime/src/shared/webhooks';
import { DeadLetterSweeper } from '../../../runtime/src/worker/dead-letter-sweeper';
import { redriveDeadLetters } from '../../../tools/delivery/redrive';
import { createTestAws, type TestAws } from '../../support/aws';

const SECRET = 'whsec_dead_letter_test';

/**
 * The dead-letter sweeper and the redrive against fauxqs and DynamoDB Local. Messages are put in
 * the DLQ the way SQS leaves them after a worker died on every receive (test/chaos/dead-letter.test.ts
 * gets them there with real crashing worker processes).
 */
describe('dead-letter sweeper and redrive', () => {
  let aws: TestAws;
  let store: TaskStore;
  let rows: DeadLetterRows;
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end();
    });
  });
  let hookUrl: string;

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    aws = await createTestAws({ visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
    store = new TaskStore({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    rows = new DeadLetterRows({ client: aws.dynamo, tableName: aws.resources.tasksTable });
  });

  afterAll(async () => {
    aws?.destroy();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  const sweeper = () =>
    new DeadLetterSweeper({
      sqs: aws.sqs,
      queueUrl: aws.resources.dlqUrl,
      rows,
      logger: silentLogger,
      maxReceiveCount: 3,
      holdSeconds: 1,
      notifier: new WebhookNotifier({
        store,
        secretFor: (name) => (name === 'tenant-a' ? SECRET : undefined),
        policy: new CallbackUrlPolicy({ allowHttpHosts: ['127.0.0.1'] }),
        logger: silentLogger,
      }),
    });

  async function task(status: TaskRecord['status'], extra: Partial<TaskRecord> = {}): Promise<string> {
    const taskId = randomUUID();
    const now = new Date().toISOString();
    await store.create({ taskId, status, priority: 'normal', prompt: `dead letter ${taskId}`, createdAt: now, updatedAt: now, ...extra });
    return taskId;
  }
  const deadLetter = (body: string) => aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.resources.dlqUrl, MessageBody: body }));
  const dlqDepth = async () => {
    const out = await aws.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: aws.resources.dlqUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(out.Attributes?.['ApproximateNumberOfMessages'] ?? 0) + Number(out.Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0);
  };

  it('GIVEN a RUNNING task whose message is in the DLQ and whose lease lapsed WHEN swept THEN it is FAILED dead_lettered, its webhook is sent signed, and the message stays', async () => {
    const taskId = await task('RUNNING', { callbackUrl: hookUrl, submittedBy: 'tenant-a', attempts: 3 });
    await deadLetter(JSON.stringify({ taskId }));

    const result = await sweeper().sweep();

    expect(result.failed).toEqual([taskId]);
    const row = await store.require(taskId);
    expect(row.status).toBe('FAILED');
    expect(row.error?.type).toBe(DEAD_LETTERED);
    expect(row.error?.message).toMatch(/after 3 receives/);
    expect(row.finishedAt).toEqual(expect.any(String));
    expect(row.webhook).toMatchObject({ status: 'DELIVERED', attempts: 1 });
    const hook = received.find((r) => r.body.includes(taskId));
    expect(hook).toBeDefined();
    expect(JSON.parse(hook?.body ?? '{}')).toMatchObject({ taskId, status: 'FAILED', error: { type: DEAD_LETTERED } });
    expect(verifyWebhookSignature(SECRET, String(hook?.headers[SIGNATURE_HEADER]), hook?.body ?? '', Math.floor(Date.now() / 1000))).toBe(true);
    // Never deleted: the message waits for the operator (alarm) and a redrive.
    expect(await dlqDepth()).toBeGreaterThanOrEqual(1);
  });

  it('GIVEN a task that finished, one with a live lease and a malformed message WHEN swept THEN none of them is changed', async () => {
    const finished = await task('SUCCEEDED', { result: 'done' });
    const leased = await task('RUNNING');
    await aws.dynamo.send(
      new PutCommand({ TableName: aws.resources.tasksTable, Item: { pk: taskPk(leased), sk: LOCK_SK, owner: 'w1', fence: 1, expiresAt: Date.now() + 60_000 } }),
    );
    await deadLetter(JSON.stringify({ taskId: finished }));
    await deadLetter(JSON.stringify({ taskId: leased }));
    await deadLetter('not json');
    // The first test's message is held for 1 s; let it come back so this sweep sees everything.
    await new Promise((r) => setTimeout(r, 1200));

    const result = await sweeper().sweep();

    expect(result.failed).toEqual([]);
    expect(result.leased).toBe(1);
    expect(result.unknown).toBe(1);
    expect((await store.require(finished)).status).toBe('SUCCEEDED');
    expect((await store.require(leased)).status).toBe('RUNNING');
  });

  it('GIVEN a dead-lettered task WHEN an operator redrives it by ID THEN its row is QUEUED with attempts 0 and a fresh message is on its lane, the others stay in the DLQ', async () => {
    const taskId = await task('RUNNING', { priority: 'high', attempts: 3 });
    await deadLetter(JSON.stringify({ taskId }));
    await sweeper().sweep();
    expect((await store.require(taskId)).error?.type).toBe(DEAD_LETTERED);
    const before = await dlqDepth();

    const report = await redriveDeadLetters({
      sqs: aws.sqs,
      deadLetterQueueUrl: aws.resources.dlqUrl,
      lanes: aws.resources.queues,
      rows,
      select: { taskIds: new Set([taskId]) },
      deadlineMs: 10_000,
    });

    expect(report.redriven).toEqual([taskId]);
    expect(report.notFound).toEqual([]);
    const row = await store.require(taskId);
    expect(row).toMatchObject({ status: 'QUEUED', attempts: 0 });
    expect(row.error).toBeUndefined();
    expect(row.webhook).toBeUndefined();
    const lane = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: aws.resources.queues.high, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect((lane.Messages ?? []).map((m) => JSON.parse(m.Body ?? '{}').taskId)).toContain(taskId);
    expect(await dlqDepth()).toBe(before - 1);
  });

  it('GIVEN a task that failed for its own input WHEN an operator redrives everything THEN it is skipped and reported, not reopened', async () => {
    const own = await task('FAILED', { error: { type: 'max_steps', message: 'too many steps' } });
    await deadLetter(JSON.stringify({ taskId: own }));

    const report = await redriveDeadLetters({
      sqs: aws.sqs,
      deadLetterQueueUrl: aws.resources.dlqUrl,
      lanes: aws.resources.queues,
      rows,
      select: { all: true },
      deadlineMs: 10_000,
    });

    expect(report.skipped).toContainEqual({ taskId: own, reason: 'task is FAILED (max_steps)' });
    expect((await store.require(own)).status).toBe('FAILED');
    // The first test's dead-lettered task was redriven by --all too (it was FAILED dead_lettered).
    expect(report.redriven.length).toBeGreaterThanOrEqual(1);
  });
});
