import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { TaskRowInserts } from '../../../runtime/src/shared/task-row-inserts';
import { MessageBatches, MessageNotSentError } from '../../../runtime/src/intake/message-batches';
import { createTestAws, type TestAws } from '../../support/aws';
import { drainTaskIds, startIntake, type IntakeHarness } from './harness';

/**
 * Counts the commands a client sends, by name, passing every one to the real client after
 * `delayMs`: the emulators on loopback answer in a millisecond, AWS in several, and batches form
 * only while a write is out.
 */
function counting<C extends { send: (...args: never[]) => Promise<unknown> }>(client: C, counts: Map<string, number>, delayMs = 0): C {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
      return async (command: { constructor: { name: string } }, ...rest: unknown[]) => {
        counts.set(command.constructor.name, (counts.get(command.constructor.name) ?? 0) + 1);
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        return (target.send as unknown as (...args: unknown[]) => Promise<unknown>).call(target, command, ...rest);
      };
    },
  });
}

/** Reports one entry of every SendMessageBatch as failed (the others go to the real queue), as SQS does per entry. */
function refusingOneEntry(sqs: SQSClient, refused: string[]): SQSClient {
  return new Proxy(sqs, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
      return async (command: unknown, ...rest: unknown[]) => {
        const send = target.send as unknown as (...args: unknown[]) => Promise<unknown>;
        if (!(command instanceof SendMessageBatchCommand)) return send.call(target, command, ...rest);
        const [victim, ...others] = command.input.Entries ?? [];
        refused.push((JSON.parse(victim?.MessageBody ?? '{}') as { taskId: string }).taskId);
        const out = (await send.call(target, new SendMessageBatchCommand({ ...command.input, Entries: others }), ...rest)) as { Successful?: unknown[]; Failed?: unknown[] };
        return { ...out, Failed: [...(out.Failed ?? []), { Id: victim?.Id, SenderFault: false, Code: 'InternalError', Message: 'injected' }] };
      };
    },
  });
}

const row = (pk: string, extra: Record<string, unknown> = {}) => ({ pk, sk: 'META', taskId: pk, status: 'QUEUED', ...extra });

describe('group commit on the accept path (DynamoDB Local and fauxqs)', () => {
  let aws: TestAws;
  beforeAll(async () => {
    aws = await createTestAws();
  });
  afterAll(() => aws.destroy());

  describe('TaskRowInserts', () => {
    const stored = async (dynamo: DynamoDBDocumentClient, pk: string) =>
      (await dynamo.send(new GetCommand({ TableName: aws.resources.tasksTable, Key: { pk, sk: 'META' }, ConsistentRead: true }))).Item;

    it('GIVEN rows submitted while a write is in flight THEN they are written in one TransactWriteItems and each is answered true', async () => {
      const counts = new Map<string, number>();
      const inserts = new TaskRowInserts({ client: counting(aws.dynamo, counts), tableName: aws.resources.tasksTable, maxInFlight: 1 });
      const keys = Array.from({ length: 12 }, () => `TASK#${randomUUID()}`);
      const answers = await Promise.all(keys.map((pk) => inserts.insert(row(pk), 100)));
      expect(answers).toEqual(keys.map(() => true));
      // The first goes alone (nothing was in flight); the eleven behind it go together.
      expect(Object.fromEntries(counts)).toEqual({ PutCommand: 1, TransactWriteCommand: 1 });
      for (const pk of keys) expect(await stored(aws.dynamo, pk)).toMatchObject({ pk, status: 'QUEUED' });
    });

    it('GIVEN a batch holding a key that already has a row THEN only that row answers false, the existing row is untouched and the rest are written', async () => {
      const existing = `TASK#${randomUUID()}`;
      await aws.dynamo.send(new PutCommand({ TableName: aws.resources.tasksTable, Item: row(existing, { status: 'RUNNING' }) }));
      const counts = new Map<string, number>();
      const inserts = new TaskRowInserts({ client: counting(aws.dynamo, counts), tableName: aws.resources.tasksTable, maxInFlight: 1 });
      const fresh = Array.from({ length: 5 }, () => `TASK#${randomUUID()}`);
      const keys = [fresh[0] as string, fresh[1] as string, existing, ...fresh.slice(2)];
      const answers = await Promise.all(keys.map((pk) => inserts.insert(row(pk), 100)));
      expect(answers).toEqual(keys.map((pk) => pk !== existing));
      // The cancelled transaction named the existing row; the others were written on their own.
      expect(counts.get('TransactWriteCommand')).toBe(1);
      expect(await stored(aws.dynamo, existing)).toMatchObject({ status: 'RUNNING' });
      for (const pk of fresh) expect(await stored(aws.dynamo, pk)).toMatchObject({ status: 'QUEUED' });
    });

    it('GIVEN the same key twice in one batch THEN one insert wins and the other answers false (no ValidationException for the batch)', async () => {
      const inserts = new TaskRowInserts({ client: aws.dynamo, tableName: aws.resources.tasksTable, maxInFlight: 1 });
      const twice = `TASK#${randomUUID()}`;
      const other = `TASK#${randomUUID()}`;
      const answers = await Promise.all([`TASK#${randomUUID()}`, twice, other, twice].map((pk) => inserts.insert(row(pk), 100)));
      expect(answers).toEqual([true, true, true, false]);
      expect(await stored(aws.dynamo, other)).toBeDefined();
    });
  });

  describe('MessageBatches', () => {
    it('GIVEN messages sent while a send is in flight THEN they share one SendMessageBatch and every one reaches its own queue once', async () => {
      const counts = new Map<string, number>();
      const batches = new MessageBatches({ sqs: counting(aws.sqs, counts), maxInFlight: 1 });
      const ids = Array.from({ length: 14 }, (_, i) => `msg-${i}-${randomUUID()}`);
      const lanes = ids.map((_, i) => (i % 2 === 0 ? aws.resources.queues.normal : aws.resources.queues.high));
      await Promise.all(ids.map((taskId, i) => batches.send({ queueUrl: lanes[i] as string, body: JSON.stringify({ taskId }), attributes: { traceparent: { DataType: 'String', StringValue: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` } } })));
      // Per queue: the first alone, the other six together.
      expect(Object.fromEntries(counts)).toEqual({ SendMessageCommand: 2, SendMessageBatchCommand: 2 });
      const normal = await drainTaskIds(aws.sqs, aws.resources.queues.normal);
      const high = await drainTaskIds(aws.sqs, aws.resources.queues.high);
      expect(normal.sort()).toEqual(ids.filter((_, i) => i % 2 === 0).sort());
      expect(high.sort()).toEqual(ids.filter((_, i) => i % 2 === 1).sort());
    });

    it('GIVEN SQS refuses one entry of a batch THEN only that caller gets MessageNotSentError naming the queue and code', async () => {
      const refused: string[] = [];
      const batches = new MessageBatches({ sqs: refusingOneEntry(aws.sqs, refused), maxInFlight: 1 });
      const ids = Array.from({ length: 4 }, (_, i) => `entry-${i}-${randomUUID()}`);
      const settled = await Promise.allSettled(ids.map((taskId) => batches.send({ queueUrl: aws.resources.queues.normal, body: JSON.stringify({ taskId }) })));
      expect(refused).toEqual([ids[1]]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      const error = (settled[1] as PromiseRejectedResult).reason as MessageNotSentError;
      expect(error).toBeInstanceOf(MessageNotSentError);
      expect(error.message).toContain(aws.resources.queues.normal);
      expect(error.message).toContain('InternalError');
      expect((await drainTaskIds(aws.sqs, aws.resources.queues.normal)).sort()).toEqual([ids[0], ids[2], ids[3]].sort());
    });
  });

  describe('the intake under a burst', () => {
    const burst = async (h: IntakeHarness, n: number) =>
      Promise.all(Array.from({ length: n }, (_, i) => h.call('/v1/tasks', { body: { prompt: `burst ${i}` } }).then(async (res) => ({ status: res.status, body: (await res.json()) as { taskId?: string } }))));

    it('GIVEN 60 submissions at once THEN rows and messages go out in batches, with far fewer requests than tasks, and every task is stored once and queued once', async () => {
      const dynamoCalls = new Map<string, number>();
      const sqsCalls = new Map<string, number>();
      // One write of each kind in flight, so a burst on loopback batches as a busy intake's does.
      const h = await startIntake({ batchWrites: { rowsInFlight: 1, messagesInFlight: 1 }, wrapDynamo: (d) => counting(d, dynamoCalls, 20), wrapSqs: (s) => counting(s, sqsCalls, 20) });
      try {
        const results = await burst(h, 60);
        expect(results.map((r) => r.status)).toEqual(results.map(() => 202));
        const ids = results.map((r) => r.body.taskId as string);
        expect((dynamoCalls.get('TransactWriteCommand') ?? 0) > 0).toBe(true);
        expect((sqsCalls.get('SendMessageBatchCommand') ?? 0) > 0).toBe(true);
        const rowWrites = (dynamoCalls.get('TransactWriteCommand') ?? 0) + (dynamoCalls.get('PutCommand') ?? 0);
        const sends = (sqsCalls.get('SendMessageBatchCommand') ?? 0) + (sqsCalls.get('SendMessageCommand') ?? 0);
        expect(rowWrites).toBeLessThan(30);
        expect(sends).toBeLessThan(30);
        for (const id of ids) expect(await h.store.get(id)).toMatchObject({ status: 'QUEUED' });
        expect((await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).sort()).toEqual([...ids].sort());
      } finally {
        await h.close();
      }
    }, 60_000);

    it('GIVEN batchWrites false THEN each task is one PutItem and one SendMessage, as before', async () => {
      const dynamoCalls = new Map<string, number>();
      const sqsCalls = new Map<string, number>();
      const h = await startIntake({ batchWrites: false, wrapDynamo: (d) => counting(d, dynamoCalls), wrapSqs: (s) => counting(s, sqsCalls) });
      try {
        const results = await burst(h, 20);
        expect(results.map((r) => r.status)).toEqual(results.map(() => 202));
        expect(dynamoCalls.get('TransactWriteCommand')).toBeUndefined();
        expect(dynamoCalls.get('PutCommand')).toBe(20);
        expect(Object.fromEntries(sqsCalls)).toEqual({ SendMessageCommand: 20 });
      } finally {
        await h.close();
      }
    }, 60_000);

    it('GIVEN SQS refuses one entry of a batch THEN that submission alone is 503 and its row is not runnable, while the others are accepted', async () => {
      const refused: string[] = [];
      const h = await startIntake({ batchWrites: { messagesInFlight: 1 }, wrapSqs: (s) => refusingOneEntry(counting(s, new Map(), 20), refused) });
      try {
        const results = await burst(h, 30);
        expect(refused.length).toBeGreaterThan(0);
        const accepted = results.filter((r) => r.status === 202).map((r) => r.body.taskId as string);
        expect(results.filter((r) => r.status === 503)).toHaveLength(refused.length);
        expect(accepted).toHaveLength(30 - refused.length);
        for (const id of refused) expect((await h.store.get(id))?.status ?? 'absent').not.toBe('QUEUED');
        for (const id of accepted) expect(await h.store.get(id)).toMatchObject({ status: 'QUEUED' });
        expect((await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).sort()).toEqual([...accepted].sort());
      } finally {
        await h.close();
      }
    }, 60_000);

    it('GIVEN a whole batch send fails THEN every submission in it is 503 and none of their rows is runnable', async () => {
      let failNext = 0;
      const h = await startIntake({
        batchWrites: { messagesInFlight: 1 },
        wrapSqs: (sqs) =>
          new Proxy(counting(sqs, new Map(), 20), {
            get(target, prop, receiver) {
              if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
              return (command: unknown, ...rest: unknown[]) => {
                if (command instanceof SendMessageBatchCommand && failNext > 0) {
                  failNext -= 1;
                  return Promise.reject(Object.assign(new Error('injected: SQS is unavailable'), { name: 'ServiceUnavailable' }));
                }
                return (target.send as unknown as (...args: unknown[]) => Promise<unknown>).call(target, command, ...rest);
              };
            },
          }) as SQSClient,
      });
      try {
        failNext = 1000;
        const results = await burst(h, 20);
        const refused = results.filter((r) => r.status === 503);
        // The first message of the burst goes alone (SendMessage) and is accepted; the rest were batched and refused.
        expect(refused.length).toBeGreaterThan(0);
        expect(results.filter((r) => r.status === 202).length + refused.length).toBe(20);
        const queued = await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal);
        const acceptedIds = results.filter((r) => r.status === 202).map((r) => r.body.taskId as string);
        expect(queued.sort()).toEqual([...acceptedIds].sort());
      } finally {
        await h.close();
      }
    }, 60_000);
  });
});

