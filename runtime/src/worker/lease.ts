import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { conditionHeld, ifConditionFails } from '../shared/dynamo-conditions';
import type { DynamoStoreOptions } from '../shared/dynamo-store';
import { FencedError } from '../shared/errors';
import { LOCK_SK, taskPk } from '../shared/task-model';
import { DEFAULT_TASK_RETENTION_DAYS, TASK_TTL_ATTRIBUTE, taskExpiry } from '../shared/task-retention';

/** Proof of ownership: checkpoint and result writes are conditioned on exactly this pair. */
export interface LeaseHandle {
  readonly taskId: string;
  readonly owner: string;
  readonly fence: number;
  readonly expiresAt: number;
}

export interface LeaseManagerOptions extends DynamoStoreOptions {
  /** How long a lease lives without renewal. Must be at least 2x the heartbeat period. @default 60_000 */
  readonly leaseMs?: number;
  /**
   * Days the LOCK item is kept after its last acquire or renew (the table's TTL deletes it then).
   * Cleanup only: the lease itself is `expiresAt`, checked in every condition.
   * @default DEFAULT_TASK_RETENTION_DAYS (30)
   */
  readonly retentionDays?: number;
}

/**
 * A lease per task on the LOCK item. Expiry is a timestamp compared inside the condition
 * expression, never DynamoDB TTL deletion (which can lag by days). Every acquisition increments
 * the fence, so a paused former owner's writes fail their condition.
 */
export class LeaseManager {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  readonly leaseMs: number;
  private readonly now: () => number;
  private readonly retentionDays: number;

  constructor(options: LeaseManagerOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.retentionDays = options.retentionDays ?? DEFAULT_TASK_RETENTION_DAYS;
  }

  /** Take the lease if it is free or expired; undefined when someone else holds a live lease. */
  async acquire(taskId: string, owner: string): Promise<LeaseHandle | undefined> {
    const now = this.now();
    const expiresAt = now + this.leaseMs;
    return ifConditionFails(
      async (): Promise<LeaseHandle> => {
        const out = await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: taskPk(taskId), sk: LOCK_SK },
            UpdateExpression: 'SET #owner = :me, expiresAt = :exp, fence = if_not_exists(fence, :zero) + :one, acquiredAt = :now, #ttl = :ttl',
            ConditionExpression: 'attribute_not_exists(pk) OR expiresAt < :now OR #owner = :me',
            ExpressionAttributeNames: { '#owner': 'owner', '#ttl': TASK_TTL_ATTRIBUTE },
            ExpressionAttributeValues: { ':me': owner, ':exp': expiresAt, ':zero': 0, ':one': 1, ':now': now, ':ttl': taskExpiry(now, this.retentionDays) },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return { taskId, owner, fence: Number(out.Attributes?.['fence']), expiresAt };
      },
      () => undefined,
    );
  }

  /** Extend a lease we still own; throws FencedError when it was taken over or has expired. */
  async renew(lease: LeaseHandle): Promise<LeaseHandle> {
    const now = this.now();
    const expiresAt = now + this.leaseMs;
    const renewed = await conditionHeld(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: taskPk(lease.taskId), sk: LOCK_SK },
          UpdateExpression: 'SET expiresAt = :exp, #ttl = :ttl',
          ConditionExpression: '#owner = :me AND fence = :fence AND expiresAt >= :now',
          ExpressionAttributeNames: { '#owner': 'owner', '#ttl': TASK_TTL_ATTRIBUTE },
          ExpressionAttributeValues: { ':me': lease.owner, ':fence': lease.fence, ':exp': expiresAt, ':now': now, ':ttl': taskExpiry(now, this.retentionDays) },
        }),
      ),
    );
    if (!renewed) throw new FencedError(`Lease on task ${lease.taskId} was lost (fence ${lease.fence})`, { ...lease });
    return { ...lease, expiresAt };
  }

  /** Give the lease up early so another worker can resume at once; a lost lease is not an error here. */
  async release(lease: LeaseHandle): Promise<boolean> {
    return conditionHeld(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: taskPk(lease.taskId), sk: LOCK_SK },
          // The item (and its fence counter) stays: deleting it would restart fences at 1.
          UpdateExpression: 'SET expiresAt = :zero REMOVE #owner',
          ConditionExpression: '#owner = :me AND fence = :fence',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':me': lease.owner, ':fence': lease.fence, ':zero': 0 },
        }),
      ),
    );
  }

  async inspect(taskId: string): Promise<{ owner?: string; fence: number; expiresAt: number } | undefined> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: taskPk(taskId), sk: LOCK_SK }, ConsistentRead: true }),
    );
    if (out.Item === undefined) return undefined;
    const owner = out.Item['owner'] as string | undefined;
    return { ...(owner !== undefined ? { owner } : {}), fence: Number(out.Item['fence']), expiresAt: Number(out.Item['expiresAt']) };
  }
}
