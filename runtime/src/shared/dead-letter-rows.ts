import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { conditionHeld } from './errors';
import { DEFAULT_TASK_RETENTION_DAYS, TASK_TTL_ATTRIBUTE, taskExpiry } from './task-retention';
import { LOCK_SK, META_SK, taskPk, type Priority, type TaskRecord } from './task-model';
import { terminalUpdate } from './terminal-update';

/** `error.type` of a task whose message reached the dead-letter queue without the worker recording why (OOM, crash on receive). */
export const DEAD_LETTERED = 'dead_lettered';
/** `error.type` the worker records on the last receive it is allowed (runtime/src/worker/consumer.ts). */
export const POISON = 'poison';
/** Failures an operator may redrive after a fix: both mean "the DLQ holds this task's message". */
export const REDRIVABLE_ERROR_TYPES: readonly string[] = [DEAD_LETTERED, POISON];

export interface DeadLetterRowsOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Days the row is kept after it is failed or reopened (TASK_RETENTION_DAYS). @default DEFAULT_TASK_RETENTION_DAYS (30) */
  readonly retentionDays?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** What recording a dead-lettered message did to its task row. */
export type DeadLetterOutcome =
  /** The row was QUEUED or RUNNING and is now FAILED with `error.type = dead_lettered`. */
  | { readonly kind: 'failed'; readonly task: TaskRecord }
  /**
   * The row was already terminal (the worker recorded `poison`, or the task finished), or it waits
   * for a person's approval (a stale copy of its message; the decision queues a fresh one): left as it is.
   */
  | { readonly kind: 'terminal'; readonly task: TaskRecord }
  /** A worker still holds a live lease: the task may yet finish; look again after `retryInMs`. */
  | { readonly kind: 'leased'; readonly retryInMs: number }
  /** No row (expired, or never created). */
  | { readonly kind: 'missing' };

/** What reopening a task for redrive did. */
export type ReopenOutcome =
  | { readonly kind: 'reopened'; readonly priority: Priority }
  /** The row is not FAILED for a redrivable reason (it succeeded, was cancelled, or failed for its own input). */
  | { readonly kind: 'not_redrivable'; readonly status: string; readonly errorType?: string }
  | { readonly kind: 'missing' };

/**
 * The task-row transitions around the dead-letter queue: the sweeper's FAILED record for a message
 * that reached the DLQ without the worker's help, and the operator's reopen before a redrive (a
 * reopened row is QUEUED again, so the redriven message is worked instead of acknowledged as a
 * duplicate of a finished task). Both are conditional, so racing sweepers and redrives are harmless.
 */
export class DeadLetterRows {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly retentionDays: number;
  private readonly now: () => number;

  constructor(o: DeadLetterRowsOptions) {
    this.client = o.client;
    this.tableName = o.tableName;
    this.retentionDays = o.retentionDays ?? DEFAULT_TASK_RETENTION_DAYS;
    this.now = o.now ?? Date.now;
  }

  /**
   * Record that the task's message is in the DLQ, which SQS does after `maxReceiveCount` receives. A task whose lease
   * is still live is left alone: its worker may finish it (the message can only be there because a
   * heartbeat failed to extend its visibility), and its fenced finish must not be pre-empted.
   */
  async markDeadLettered(taskId: string, detail: { readonly maxReceiveCount: number }): Promise<DeadLetterOutcome> {
    const key = { pk: taskPk(taskId) };
    const [row, lock] = await Promise.all([this.get(taskId, META_SK), this.get(taskId, LOCK_SK)]);
    if (row === undefined) return { kind: 'missing' };
    const task = row as unknown as TaskRecord;
    if (task.status !== 'QUEUED' && task.status !== 'RUNNING') return { kind: 'terminal', task };
    const leaseLeft = Number(lock?.['expiresAt'] ?? 0) - this.now();
    if (leaseLeft > 0) return { kind: 'leased', retryInMs: leaseLeft };
    const now = this.now();
    const message =
      `the task's message reached the dead-letter queue after ${detail.maxReceiveCount} receives without the worker recording an outcome ` +
      '(the worker process crashed or was killed while running it, e.g. out of memory); an operator can redrive it after a fix';
    const update = terminalUpdate('FAILED', { error: { type: DEAD_LETTERED, message } }, new Date(now).toISOString(), taskExpiry(now, this.retentionDays));
    let after: TaskRecord | undefined;
    const held = await conditionHeld(async () => {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { ...key, sk: META_SK },
          ...update,
          ConditionExpression: `attribute_exists(pk) AND ${update.ConditionExpression}`,
          ReturnValues: 'ALL_NEW',
        }),
      );
      after = strip(out.Attributes);
    });
    if (held && after !== undefined) return { kind: 'failed', task: after };
    // Lost a race with a worker's finish or another sweeper: report what is there now.
    const current = await this.get(taskId, META_SK);
    return current === undefined ? { kind: 'missing' } : { kind: 'terminal', task: current as unknown as TaskRecord };
  }

  /**
   * Before a redrive: a task FAILED as dead-lettered or poison becomes QUEUED again, keeping its
   * checkpoints (the worker resumes from them) and with `attempts` back at 0 (the redriven message
   * starts a fresh receive count). `redrives` counts how often this happened.
   */
  async reopen(taskId: string): Promise<ReopenOutcome> {
    const now = this.now();
    let priority: Priority | undefined;
    const held = await conditionHeld(async () => {
      const out = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: taskPk(taskId), sk: META_SK },
          UpdateExpression:
            'SET #s = :queued, updatedAt = :now, attempts = :zero, redrives = if_not_exists(redrives, :zero) + :one, redrivenAt = :now, #ttl = :ttl REMOVE #error, finishedAt, webhook',
          ConditionExpression: '#s = :failed AND #error.#type IN (:dead, :poison)',
          ExpressionAttributeNames: { '#s': 'status', '#error': 'error', '#type': 'type', '#ttl': TASK_TTL_ATTRIBUTE },
          ExpressionAttributeValues: {
            ':queued': 'QUEUED',
            ':failed': 'FAILED',
            ':dead': DEAD_LETTERED,
            ':poison': POISON,
            ':now': new Date(now).toISOString(),
            ':zero': 0,
            ':one': 1,
            ':ttl': taskExpiry(now, this.retentionDays),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      priority = (out.Attributes?.['priority'] as Priority | undefined) ?? 'normal';
    });
    if (held && priority !== undefined) return { kind: 'reopened', priority };
    const current = await this.get(taskId, META_SK);
    if (current === undefined) return { kind: 'missing' };
    const errorType = (current['error'] as { type?: string } | undefined)?.type;
    return { kind: 'not_redrivable', status: String(current['status']), ...(errorType !== undefined ? { errorType } : {}) };
  }

  private async get(taskId: string, sk: string): Promise<Record<string, unknown> | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: taskPk(taskId), sk }, ConsistentRead: true }));
    return out.Item === undefined ? undefined : (strip(out.Item) as unknown as Record<string, unknown>);
  }
}

function strip(item: Record<string, unknown> | undefined): TaskRecord | undefined {
  if (item === undefined) return undefined;
  const { pk: _pk, sk: _sk, [TASK_TTL_ATTRIBUTE]: _ttl, ...rest } = item;
  return rest as unknown as TaskRecord;
}
