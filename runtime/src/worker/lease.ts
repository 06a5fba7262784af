import { GetCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { cancellationCodes, conditionHeld, ifConditionFails, isRetryableCancellation } from '../shared/dynamo-conditions';
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

/** An UpdateItem on the task row to apply together with taking the lease (TaskStore.markRunningUpdate). */
export interface RowUpdate {
  readonly TableName: string;
  readonly Key: Record<string, unknown>;
  readonly UpdateExpression: string;
  readonly ConditionExpression: string;
  readonly ExpressionAttributeNames: Record<string, string>;
  readonly ExpressionAttributeValues: Record<string, unknown>;
}

/** What `claim` found. */
export type ClaimResult =
  /** The lease is ours and the row update applied; `token` identifies this acquisition on the LOCK item. */
  | {
      readonly kind: 'claimed';
      readonly token: string;
      readonly expiresAt: number;
      /**
       * Set when this was the task's first lease ever (the LOCK item did not exist): the fence is 1
       * and no step or intent can exist, so the caller needs no read back to know them.
       */
      readonly firstFence?: 1;
    }
  /** Another owner holds a live lease until `expiresAt` (epoch ms); nothing was written. */
  | { readonly kind: 'leased_elsewhere'; readonly expiresAt: number }
  /** The row refused the update: `status` is its status, undefined when there is no row. Nothing was written. */
  | { readonly kind: 'not_runnable'; readonly status?: string };

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

  /**
   * Take the lease and apply `row` (the attempt counted on the task row) in one transaction: one
   * round trip instead of two, and a receive that cannot take the lease counts nothing. A
   * transaction returns no values, so the fence is read back with the task's partition and matched
   * by `token` (LeaseManager.fromLock). Conflicting transactions are retried, as in the checkpoint log.
   *
   * With `firstLease`, the LOCK item must not exist yet (a task's first delivery): success then
   * proves the fence is 1 and that no owner ever wrote a step, so the caller may read the partition
   * beside the claim instead of after it (`firstFence`). A LOCK that exists but is free is then
   * claimed the ordinary way (one more round trip); a live one is `leased_elsewhere` as usual.
   */
  async claim(taskId: string, owner: string, row: RowUpdate, options: { readonly firstLease?: boolean } = {}): Promise<ClaimResult> {
    let first = options.firstLease === true;
    for (let attempt = 0; ; attempt += 1) {
      const now = this.now();
      const expiresAt = now + this.leaseMs;
      const token = randomUUID();
      try {
        await this.client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.tableName,
                  Key: { pk: taskPk(taskId), sk: LOCK_SK },
                  UpdateExpression:
                    'SET #owner = :me, expiresAt = :exp, fence = if_not_exists(fence, :zero) + :one, acquiredAt = :now, #token = :token, #ttl = :ttl',
                  ConditionExpression: first ? 'attribute_not_exists(pk)' : 'attribute_not_exists(pk) OR expiresAt < :now OR #owner = :me',
                  ExpressionAttributeNames: { '#owner': 'owner', '#token': 'token', '#ttl': TASK_TTL_ATTRIBUTE },
                  ExpressionAttributeValues: {
                    ':me': owner,
                    ':exp': expiresAt,
                    ':zero': 0,
                    ':one': 1,
                    ':now': now,
                    ':token': token,
                    ':ttl': taskExpiry(now, this.retentionDays),
                  },
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              { Update: { ...row, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
            ],
          }),
        );
        return first ? { kind: 'claimed', token, expiresAt, firstFence: 1 } : { kind: 'claimed', token, expiresAt };
      } catch (err) {
        const codes = cancellationCodes(err);
        if (codes[0] === 'ConditionalCheckFailed') {
          const lock = reasonItem(err, 0);
          const lockExpires = numberOf(lock?.['expiresAt']);
          if (first && (lockExpires === undefined || lockExpires < now || stringOf(lock?.['owner']) === owner)) {
            // Leased before (a redrive, an approval's decision, a second copy) but free: claim it as usual.
            first = false;
            attempt -= 1;
            continue;
          }
          return { kind: 'leased_elsewhere', expiresAt: numberOf(lock?.['expiresAt']) ?? now + this.leaseMs };
        }
        if (codes[1] === 'ConditionalCheckFailed') {
          const status = stringOf(reasonItem(err, 1)?.['status']);
          return status === undefined ? { kind: 'not_runnable' } : { kind: 'not_runnable', status };
        }
        if (!isRetryableCancellation(err) || attempt >= 3) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 50 * 2 ** attempt));
      }
    }
  }

  /**
   * The handle for a `claim` from the LOCK item read back after it: undefined when the item no
   * longer carries this claim's token (another owner took over since).
   */
  fromLock(taskId: string, owner: string, claim: { readonly token: string; readonly expiresAt: number }, lock: Record<string, unknown> | undefined): LeaseHandle | undefined {
    if (lock === undefined || lock['token'] !== claim.token || lock['owner'] !== owner) return undefined;
    return { taskId, owner, fence: Number(lock['fence']), expiresAt: claim.expiresAt };
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

/** The item a cancelled transaction returned for its `index`-th action (raw attribute values: the document client does not unmarshall it). */
function reasonItem(err: unknown, index: number): Record<string, unknown> | undefined {
  const reasons = (err as { CancellationReasons?: { Item?: Record<string, unknown> }[] }).CancellationReasons;
  return Array.isArray(reasons) ? reasons[index]?.Item : undefined;
}

function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  const n = (value as { N?: unknown } | undefined)?.N;
  return typeof n === 'string' ? Number(n) : undefined;
}

function stringOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  const s = (value as { S?: unknown } | undefined)?.S;
  return typeof s === 'string' ? s : undefined;
}
