import { ConditionalCheckFailedException, TransactionCanceledException, type CancellationReason } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { conditionHeld, ifConditionFails, isConditionalCheckFailed, isRetryableCancellation } from '../../../runtime/src/shared/dynamo-conditions';
import { FencedError } from '../../../runtime/src/shared/errors';
import { CheckpointLog } from '../../../runtime/src/worker/checkpoint-log';
import { LeaseManager } from '../../../runtime/src/worker/lease';
import { createTestAws, type TestAws } from '../../support/aws';

/** The exception the SDK raises for a cancelled TransactWriteItems, with one reason per item. */
const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: {},
    CancellationReasons: codes.map((Code): CancellationReason => ({ Code })),
  });

describe('DynamoDB condition classifier', () => {
  it.each([
    ['a failed condition on a single write', new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }), true, false],
    ['a transaction cancelled by its lease check', cancelled('ConditionalCheckFailed', 'None'), true, false],
    ['a transaction cancelled by the slot check', cancelled('None', 'ConditionalCheckFailed'), true, false],
    ['a condition failure next to a conflict', cancelled('ConditionalCheckFailed', 'TransactionConflict'), true, false],
    ['a transaction conflict', cancelled('None', 'TransactionConflict'), false, true],
    ['throttling inside a transaction', cancelled('ThrottlingError', 'None'), false, true],
    ['provisioned throughput exceeded', cancelled('None', 'ProvisionedThroughputExceeded'), false, true],
    ['a validation error', cancelled('None', 'ValidationError'), false, false],
    ['a cancellation without reasons', cancelled(), false, false],
    ['an unrelated error', new Error('socket hang up'), false, false],
    ['a non-error', 'ConditionalCheckFailedException', false, false],
  ].map(([what, err, fence, retryable]) => ({ what, err, fence, retryable })))('GIVEN $what THEN fence=$fence, retryable=$retryable', ({ err, fence, retryable }) => {
    expect(isConditionalCheckFailed(err)).toBe(fence);
    expect(isRetryableCancellation(err)).toBe(retryable);
  });

  it('GIVEN a failed condition WHEN run through the helpers THEN they answer false / the fallback; any other error is rethrown', async () => {
    const failing = (err: unknown) => () => Promise.reject(err);
    expect(await conditionHeld(failing(cancelled('ConditionalCheckFailed')))).toBe(false);
    expect(await conditionHeld(() => Promise.resolve({}))).toBe(true);
    expect(await ifConditionFails(failing(cancelled('None', 'ConditionalCheckFailed')), () => 'taken')).toBe('taken');
    await expect(conditionHeld(failing(cancelled('TransactionConflict')))).rejects.toBeInstanceOf(TransactionCanceledException);
  });
});

describe('checkpoint log against DynamoDB Local with transaction cancellations injected at the client', () => {
  let aws: TestAws;
  beforeAll(async () => {
    aws = await createTestAws();
  });
  afterAll(() => aws.destroy());

  /** The real client, except that the next `n` TransactWriteItems are cancelled with `codes` before reaching DynamoDB. */
  function cancelling(n: number, ...codes: string[]): { client: DynamoDBDocumentClient; injected: () => number } {
    let left = n;
    let injected = 0;
    const client = new Proxy(aws.dynamo, {
      get(target, prop, receiver) {
        if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
        return (command: { constructor: { name: string } }, ...rest: unknown[]) => {
          if (command.constructor.name === 'TransactWriteCommand' && left > 0) {
            left -= 1;
            injected += 1;
            return Promise.reject(cancelled(...codes));
          }
          return (target.send as (...a: unknown[]) => Promise<unknown>)(command, ...rest);
        };
      },
    });
    return { client, injected: () => injected };
  }

  const leaseFor = async (taskId: string) => {
    const lease = await new LeaseManager({ client: aws.dynamo, tableName: aws.resources.tasksTable }).acquire(taskId, 'w1');
    if (lease === undefined) throw new Error('no lease');
    return lease;
  };

  it('GIVEN a checkpoint whose transaction is cancelled by a conflict WHEN appended THEN it is retried and written, not fenced', async () => {
    const taskId = randomUUID();
    const lease = await leaseFor(taskId);
    const { client, injected } = cancelling(2, 'None', 'TransactionConflict');
    const log = new CheckpointLog({ client, tableName: aws.resources.tasksTable, backoff: async () => undefined });
    await log.append(lease, 1, 'llm', { text: 'hello' });
    expect(injected()).toBe(2);
    expect((await log.list(taskId)).map((s) => s.seq)).toEqual([1]);
  });

  it('GIVEN throttling that outlasts the retries WHEN appended THEN the cancellation surfaces as itself (retryable), never as FencedError', async () => {
    const taskId = randomUUID();
    const lease = await leaseFor(taskId);
    const { client } = cancelling(10, 'ThrottlingError', 'None');
    const log = new CheckpointLog({ client, tableName: aws.resources.tasksTable, cancelledRetries: 2, backoff: async () => undefined });
    const err: unknown = await log.append(lease, 1, 'llm', { text: 'hello' }).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(FencedError);
    expect(isRetryableCancellation(err)).toBe(true);
    // Nothing was decided against the writer: the same lease still writes the same slot.
    await new CheckpointLog({ client: aws.dynamo, tableName: aws.resources.tasksTable }).append(lease, 1, 'llm', { text: 'hello' });
  });

  it('GIVEN a real stale fence on DynamoDB Local WHEN appended THEN the cancellation says ConditionalCheckFailed and the write is fenced', async () => {
    const taskId = randomUUID();
    const lease = await leaseFor(taskId);
    const log = new CheckpointLog({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    const err: unknown = await log.append({ ...lease, fence: lease.fence + 1 }, 1, 'llm', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FencedError);
    const cause = (err as FencedError).cause as { name: string; CancellationReasons?: { Code?: string }[] };
    expect(cause.name).toBe('TransactionCanceledException');
    expect(cause.CancellationReasons?.map((r) => r.Code)).toContain('ConditionalCheckFailed');
  });
});
