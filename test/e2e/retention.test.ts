import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { TASK_TTL_ATTRIBUTE } from '../../runtime/src/shared/task-retention';
import { TaskStore } from '../../runtime/src/shared/task-store';
import { taskPk } from '../../runtime/src/shared/task-model';
import { eventually, type TestAws } from '../support/aws';
import { failingSendMessage, startIntake, type IntakeHarness } from '../runtime/intake/harness';
import { createWorkerHarness, type WorkerHarness } from '../runtime/worker/harness';

/** Distinct from the 30-day default, so an item that missed the option shows up. */
const RETENTION_DAYS = 3;
const DAY_S = 86_400;

/** Every item of a task's partition: META, LOCK, STEP#..., INTENT#.... */
async function partition(aws: TestAws, taskId: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await aws.dynamo.send(
      new QueryCommand({
        TableName: aws.resources.tasksTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': taskPk(taskId) },
        ConsistentRead: true,
        ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}

/** `sk -> ttl` where ttl is the item's TTL attribute (undefined when missing). */
const ttlBySk = (items: readonly Record<string, unknown>[]) => Object.fromEntries(items.map((i) => [String(i['sk']), i[TASK_TTL_ATTRIBUTE]]));

/** A number within 50 s of `atMs` + `days` (closeTo with precision -2: |difference| < 10^2 / 2). */
const expiryNear = (atMs: number, days: number): unknown => expect.closeTo(atMs / 1000 + days * DAY_S, -2);

describe('task data retention: every item of a task partition carries the TTL', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await createWorkerHarness();
  });
  afterAll(async () => h.close());

  it('GIVEN a task run through the tool loop WHEN it finishes THEN META, LOCK, every STEP and INTENT expire the retention after now', async () => {
    // The row is created with the harness store's 30-day default; the worker runs with 3 days, so a
    // META still at 30 days would mean the terminal write did not restart its retention.
    const worker = h.worker({ taskRetentionDays: RETENTION_DAYS });
    await worker.start();
    const taskId = await h.submit(`retention ${randomUUID()} [tools:2]`);
    await eventually(async () => ((await h.status(taskId))?.status === 'SUCCEEDED' ? true : undefined), 'the task to succeed', 30_000);

    const now = Date.now();
    const ttls = ttlBySk(await partition(h.aws, taskId));
    const sks = Object.keys(ttls);
    // The calculator and record_note ran: 5 steps and one intent (record_note has side effects).
    expect(sks.filter((sk) => sk.startsWith('STEP#'))).toHaveLength(5);
    expect(sks.filter((sk) => sk.startsWith('INTENT#'))).toHaveLength(1);
    expect(sks).toEqual(expect.arrayContaining(['META', 'LOCK']));
    for (const sk of sks) expect({ sk, ttl: ttls[sk] }).toEqual({ sk, ttl: expiryNear(now, RETENTION_DAYS) });
    // The API's view of the task does not leak the storage attribute.
    expect(await h.status(taskId)).not.toHaveProperty(TASK_TTL_ATTRIBUTE);
  });
});

describe('task data retention when a task starts', () => {
  let h: WorkerHarness;
  beforeAll(async () => {
    h = await createWorkerHarness();
  });
  afterAll(async () => h.close());

  it('GIVEN a row queued weeks ago WHEN a worker takes it up THEN its retention restarts, so it cannot expire mid-run', async () => {
    const taskId = randomUUID();
    const queuedAt = Date.parse('2026-01-01T00:00:00Z');
    const old = new TaskStore({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable, retentionDays: RETENTION_DAYS, now: () => new Date(queuedAt).getTime() });
    await old.create({ taskId, status: 'QUEUED', priority: 'normal', prompt: 'late', createdAt: new Date(queuedAt).toISOString(), updatedAt: new Date(queuedAt).toISOString() });
    const startedAt = Date.now();
    const current = new TaskStore({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable, retentionDays: RETENTION_DAYS });
    expect((await current.markRunning(taskId))?.status).toBe('RUNNING');
    expect(ttlBySk(await partition(h.aws, taskId))).toEqual({ META: expiryNear(startedAt, RETENTION_DAYS) });
  });
});

describe('task data retention at the intake', () => {
  let intake: IntakeHarness | undefined;
  afterEach(async () => {
    await intake?.close();
    intake = undefined;
  });

  it('GIVEN a row written but never enqueued WHEN nothing retries it THEN its META still expires the retention after creation', async () => {
    intake = await startIntake({ taskRetentionDays: RETENTION_DAYS, wrapSqs: (sqs) => failingSendMessage(sqs, { remaining: 1 }) });
    const created = Date.now();
    // With an Idempotency-Key the row is kept for the client's retry, which never comes.
    const res = await intake.call('/v1/tasks', { body: { prompt: 'never enqueued' }, headers: { 'idempotency-key': `orphan-${randomUUID()}` } });
    expect(res.status).toBe(503);
    const rows = await partition(intake.aws, await onlyTaskId(intake));
    expect(rows.map((r) => ({ sk: r['sk'], status: r['status'], enqueuedAt: r['enqueuedAt'] }))).toEqual([{ sk: 'META', status: 'QUEUED', enqueuedAt: undefined }]);
    expect(rows[0]?.[TASK_TTL_ATTRIBUTE]).toEqual(expiryNear(created, RETENTION_DAYS));
  });

  it('GIVEN a queued task WHEN cancelled days later THEN its retention restarts at the cancel', async () => {
    let clock = Date.parse('2026-01-01T00:00:00Z');
    intake = await startIntake({ taskRetentionDays: RETENTION_DAYS, now: () => new Date(clock) });
    const created = clock;
    const res = await intake.call('/v1/tasks', { body: { prompt: 'cancel me' } });
    expect(res.status).toBe(202);
    const { taskId } = (await res.json()) as { taskId: string };
    expect(ttlBySk(await partition(intake.aws, taskId))).toEqual({ META: expiryNear(created, RETENTION_DAYS) });

    clock += 5 * DAY_S * 1000;
    const cancel = await intake.call(`/v1/tasks/${taskId}`, { method: 'DELETE' });
    expect(cancel.status).toBe(202);
    expect(ttlBySk(await partition(intake.aws, taskId))).toEqual({ META: expiryNear(clock, RETENTION_DAYS) });
  });
});

/** The one task row in an intake harness's table (a 503 body does not carry the task ID). */
async function onlyTaskId(intake: IntakeHarness): Promise<string> {
  const out = await intake.aws.dynamo.send(
    new ScanCommand({ TableName: intake.aws.resources.tasksTable, FilterExpression: 'sk = :meta', ExpressionAttributeValues: { ':meta': 'META' }, ConsistentRead: true }),
  );
  const ids = (out.Items ?? []).map((i) => String(i['taskId']));
  if (ids.length !== 1) throw new Error(`expected one task row, found ${ids.length}`);
  return ids[0] as string;
}
