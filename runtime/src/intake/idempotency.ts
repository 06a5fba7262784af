import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash, randomUUID } from 'node:crypto';
import { conditionHeld } from '../shared/dynamo-conditions';
import type { DynamoStoreOptions } from '../shared/dynamo-store';
import { HttpError } from '../shared/errors';
import { TASK_TTL_ATTRIBUTE } from '../shared/task-retention';

/**
 * An idempotency record (Powertools' shape: key hash, payload hash, status, expiry), stored in the
 * tasks table next to the task rows, expiring by the table's TTL attribute (TASK_TTL_ATTRIBUTE);
 * TTL deletion is lazy, so every condition compares that attribute itself instead of trusting it.
 */
interface IdempotencyItem {
  readonly pk: string;
  readonly sk: typeof RECORD_SK;
  readonly payloadHash: string;
  readonly status: 'IN_PROGRESS' | 'COMPLETED';
  readonly taskId: string;
  /** Who holds the in-progress claim; completion and release are conditioned on it (no zombie writes). */
  readonly claimId: string;
  /** Epoch ms after which another request may take over an in-progress claim. */
  readonly inProgressExpiry: number;
  /** Epoch seconds, in the table's TTL attribute. */
  readonly [TASK_TTL_ATTRIBUTE]: number;
}

const RECORD_SK = 'IDEMPOTENCY';
const KEY_SHAPE = /^[\x21-\x7e]{1,255}$/;

/** What the caller should do with a request that carries an Idempotency-Key. */
export type Claim =
  /** First request for this key, or a takeover of one that failed: create/enqueue `taskId`, then complete. */
  | { readonly kind: 'owned'; readonly taskId: string; readonly claimId: string }
  /** Already done: answer with the existing task. */
  | { readonly kind: 'completed'; readonly taskId: string };

export interface IdempotencyStoreOptions extends DynamoStoreOptions {
  /** How long a key is remembered. @default 86_400 (24 h) */
  readonly ttlSeconds?: number;
  /** How long one request may hold a key before a retry may take over. @default 10_000 */
  readonly inProgressMs?: number;
}

/** Validate the header value; keys are opaque to us but must be printable ASCII of sane length. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || !KEY_SHAPE.test(value)) {
    throw new HttpError(400, 'invalid_request_error', 'Idempotency-Key must be 1-255 printable ASCII characters without spaces (a UUID is a good choice)');
  }
  return value;
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Keys are per API key: two clients may pick the same key without colliding. */
const recordPk = (scope: string, key: string): string => `IDEMPOTENCY#${sha256Hex(`${scope}\n${key}`)}`;

export class IdempotencyStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly ttlSeconds: number;
  private readonly inProgressMs: number;
  private readonly now: () => number;

  constructor(options: IdempotencyStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.ttlSeconds = options.ttlSeconds ?? 86_400;
    this.inProgressMs = options.inProgressMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Claim `key` (scoped to the calling API key) for a body with `payloadHash`. The same key with a
   * different body is a client bug (422); a key whose first request is still running gets 409.
   */
  async claim(scope: string, key: string, payloadHash: string, proposedTaskId: string): Promise<Claim> {
    const pk = recordPk(scope, key);
    for (let round = 0; round < 3; round += 1) {
      const now = this.now();
      const claimId = randomUUID();
      const item: IdempotencyItem = {
        pk,
        sk: RECORD_SK,
        payloadHash,
        status: 'IN_PROGRESS',
        taskId: proposedTaskId,
        claimId,
        inProgressExpiry: now + this.inProgressMs,
        [TASK_TTL_ATTRIBUTE]: Math.ceil(now / 1000) + this.ttlSeconds,
      };
      const created = await conditionHeld(() =>
        this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            ConditionExpression: 'attribute_not_exists(pk) OR #ttl < :nowSec',
            ExpressionAttributeNames: { '#ttl': TASK_TTL_ATTRIBUTE },
            ExpressionAttributeValues: { ':nowSec': Math.floor(now / 1000) },
          }),
        ),
      );
      if (created) return { kind: 'owned', taskId: proposedTaskId, claimId };
      const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk, sk: RECORD_SK }, ConsistentRead: true }));
      const existing = out.Item as IdempotencyItem | undefined;
      if (existing === undefined || existing[TASK_TTL_ATTRIBUTE] < Math.floor(now / 1000)) continue;
      if (existing.payloadHash !== payloadHash) {
        throw new HttpError(
          422,
          'idempotency_key_reused',
          `Idempotency-Key "${key}" was already used with a different request body (task ${existing.taskId}); send the same body to get that task back, or use a new key for a new task`,
        );
      }
      if (existing.status === 'COMPLETED') return { kind: 'completed', taskId: existing.taskId };
      if (existing.inProgressExpiry > now) {
        const waitMs = existing.inProgressExpiry - now;
        throw new HttpError(
          409,
          'idempotency_in_progress',
          `A request with Idempotency-Key "${key}" is still being processed; retry in ${Math.ceil(waitMs / 1000)} s`,
          {},
          { 'retry-after': String(Math.ceil(waitMs / 1000)) },
        );
      }
      // The earlier request failed or died mid-way: take over its claim (and its task ID).
      const taken = await this.transfer(pk, existing.claimId, claimId, now);
      if (taken) return { kind: 'owned', taskId: existing.taskId, claimId };
    }
    throw new HttpError(409, 'idempotency_in_progress', `Idempotency-Key "${key}" is contended; retry in 1 s`, {}, { 'retry-after': '1' });
  }

  /** Mark the key done, if this request still holds it. */
  async complete(scope: string, key: string, claimId: string): Promise<boolean> {
    return this.conditionalUpdate(scope, key, claimId, 'SET #status = :completed', { ':completed': 'COMPLETED' }, { '#status': 'status' });
  }

  /** Give the key up after a failure, so the client's retry takes over at once instead of waiting. */
  async release(scope: string, key: string, claimId: string): Promise<boolean> {
    return this.conditionalUpdate(scope, key, claimId, 'SET inProgressExpiry = :zero', { ':zero': 0 });
  }

  private async transfer(pk: string, fromClaim: string, toClaim: string, now: number): Promise<boolean> {
    return conditionHeld(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk, sk: RECORD_SK },
          UpdateExpression: 'SET claimId = :to, inProgressExpiry = :expiry',
          ConditionExpression: 'claimId = :from AND inProgressExpiry <= :now AND #status = :inProgress',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':to': toClaim, ':from': fromClaim, ':expiry': now + this.inProgressMs, ':now': now, ':inProgress': 'IN_PROGRESS' },
        }),
      ),
    );
  }

  private async conditionalUpdate(
    scope: string,
    key: string,
    claimId: string,
    update: string,
    values: Record<string, unknown>,
    names: Record<string, string> = {},
  ): Promise<boolean> {
    return conditionHeld(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: recordPk(scope, key), sk: RECORD_SK },
          UpdateExpression: update,
          ConditionExpression: 'claimId = :claim',
          ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
          ExpressionAttributeValues: { ':claim': claimId, ...values },
        }),
      ),
    );
  }
}
