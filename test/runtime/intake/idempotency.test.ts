import { HttpError } from '../../../runtime/src/shared/errors';
import { IdempotencyStore } from '../../../runtime/src/intake/idempotency';
import { createTestAws, type TestAws } from '../../support/aws';

describe('IdempotencyStore on DynamoDB Local', () => {
  let aws: TestAws;
  let clock: number;
  let store: IdempotencyStore;

  beforeAll(async () => {
    aws = await createTestAws();
  });
  afterAll(() => aws.destroy());
  beforeEach(() => {
    clock = 1_800_000_000_000;
    store = new IdempotencyStore({ client: aws.dynamo, tableName: aws.resources.tasksTable, now: () => clock, inProgressMs: 10_000, ttlSeconds: 3600 });
  });

  const key = () => `key-${Math.random().toString(36).slice(2)}`;
  const rejection = async (p: Promise<unknown>) => {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    return err as HttpError;
  };

  it('GIVEN a first request still in progress WHEN the same key arrives THEN 409 with retry-after', async () => {
    const k = key();
    expect(await store.claim('client', k, 'hash-a', 'task-1')).toMatchObject({ kind: 'owned', taskId: 'task-1' });
    clock += 4_000;
    const err = await rejection(store.claim('client', k, 'hash-a', 'task-2'));
    expect(err.status).toBe(409);
    expect(err.headers['retry-after']).toBe('6');
  });

  it('GIVEN an in-progress claim that expired WHEN retried THEN the retry takes over the same task ID and the old holder can no longer complete', async () => {
    const k = key();
    const first = await store.claim('client', k, 'hash-a', 'task-1');
    clock += 10_001;
    const second = await store.claim('client', k, 'hash-a', 'task-2');
    expect(second).toMatchObject({ kind: 'owned', taskId: 'task-1' });
    if (first.kind !== 'owned' || second.kind !== 'owned') throw new Error('expected owned claims');
    expect(await store.complete('client', k, first.claimId)).toBe(false);
    expect(await store.complete('client', k, second.claimId)).toBe(true);
    expect(await store.claim('client', k, 'hash-a', 'task-3')).toEqual({ kind: 'completed', taskId: 'task-1' });
  });

  it('GIVEN a released claim WHEN retried at once THEN the retry takes over without waiting', async () => {
    const k = key();
    const first = await store.claim('client', k, 'hash-a', 'task-1');
    if (first.kind !== 'owned') throw new Error('expected an owned claim');
    expect(await store.release('client', k, first.claimId)).toBe(true);
    expect(await store.claim('client', k, 'hash-a', 'task-2')).toMatchObject({ kind: 'owned', taskId: 'task-1' });
  });

  it('GIVEN a completed key WHEN reused with another body THEN 422; WHEN its ttl passed THEN it is a new key', async () => {
    const k = key();
    const first = await store.claim('client', k, 'hash-a', 'task-1');
    if (first.kind !== 'owned') throw new Error('expected an owned claim');
    await store.complete('client', k, first.claimId);
    expect((await rejection(store.claim('client', k, 'hash-b', 'task-2'))).status).toBe(422);
    clock += 3_601_000;
    // TTL deletion is lazy: the record still exists, and the condition on `ttl` is what lets the key be reused.
    expect(await store.claim('client', k, 'hash-b', 'task-3')).toMatchObject({ kind: 'owned', taskId: 'task-3' });
  });
});
