import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DeleteCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import type { AgentVersion } from './agent-version';
import { cancellationCodes, isConditionalCheckFailed } from './dynamo-conditions';
import { queryPartition, type DynamoStoreOptions } from './dynamo-store';
import { taskTraceContext } from './spans';
import { traceMessageAttributes } from './task-message';
import { TaskStore } from './task-store';
import { DEFAULT_TASK_RETENTION_DAYS, TASK_TTL_ATTRIBUTE, taskExpiry } from './task-retention';
import { META_SK, taskPk, type ApprovalDecision, type ApprovalDecisionKind, type PendingApproval, type Priority, type TaskMessage, type TaskRecord } from './task-model';

/**
 * Durable human approval: the contract between the worker (which suspends a task on a
 * `requires_approval` tool call), the intake (which records a person's decision) and the worker's
 * expiry sweep (which records "no decision in time" as a denial).
 *
 * Besides the task row, each waiting approval has an entry in a small per-pool registry,
 * `APPROVALS#<pool> / <expiresAt>#<taskId>`, written in the same transaction as the row: the sweep
 * finds expired and pending approvals with one Query instead of a scan of the table. A decision
 * marks the entry `decidedAt` in the transaction that records it; the decider then queues the task
 * and deletes the entry. An entry still there, decided, a while later means that queueing failed:
 * the sweep queues the task again (a duplicate message is harmless: lease and status checks).
 */

/** `decidedBy` of a denial recorded because no one decided before `expiresAt`. */
export const EXPIRED_BY = 'system:expiry';
/** `reason` of that denial. */
export const EXPIRED_REASON = 'expired';

/** What an approval ID looks like (the intake's route accepts only this). */
export const APPROVAL_ID_PATTERN = /^apr_[0-9a-f]{24}$/;

/** The approval of one tool call: derived from its idempotency key, so a replayed call asks for the same approval. */
export function approvalIdFor(idempotencyKey: string): string {
  return `apr_${createHash('sha256').update(idempotencyKey, 'utf8').digest('hex').slice(0, 24)}`;
}

export const approvalsPk = (pool: AgentVersion): string => `APPROVALS#${pool}`;
/** ISO 8601 timestamps in UTC sort as text, so the partition is ordered by expiry. */
export const approvalSk = (expiresAt: string, taskId: string): string => `${expiresAt}#${taskId}`;

/** A waiting approval's registry entry. */
export interface ApprovalEntry {
  readonly pool: AgentVersion;
  readonly taskId: string;
  readonly approvalId: string;
  readonly priority: Priority;
  readonly requestedAt: string;
  readonly expiresAt: string;
  /** Set by the transaction that decided it (or cancelled the task); the entry is deleted once the task is queued. */
  readonly decidedAt?: string;
}

/** The pool whose workers run a task (and sweep its approvals). */
export const poolOf = (task: Pick<TaskRecord, 'agentVersion'>): AgentVersion => task.agentVersion ?? 'stable';

/** The registry item of a new waiting approval, put in the worker's suspend transaction. */
export function approvalEntryPut(tableName: string, task: Pick<TaskRecord, 'taskId' | 'priority' | 'agentVersion'>, pending: PendingApproval, retentionDays: number) {
  const pool = poolOf(task);
  const entry: ApprovalEntry = { pool, taskId: task.taskId, approvalId: pending.approvalId, priority: task.priority, requestedAt: pending.requestedAt, expiresAt: pending.expiresAt };
  return {
    Put: {
      TableName: tableName,
      // Cleanup only: the sweep decides from `expiresAt`, never from TTL deletion.
      Item: { pk: approvalsPk(pool), sk: approvalSk(pending.expiresAt, task.taskId), ...entry, [TASK_TTL_ATTRIBUTE]: taskExpiry(Date.parse(pending.expiresAt), retentionDays) },
      ConditionExpression: 'attribute_not_exists(pk)',
    },
  };
}

/** What a decision on an approval did. */
export type DecisionOutcome =
  /** Recorded; the task is QUEUED again and must be queued (`queueTask`) and its entry forgotten. */
  | { readonly kind: 'decided'; readonly task: TaskRecord; readonly entry: ApprovalEntry }
  /** This task never asked for this approval (or no longer waits and has no decision for it). */
  | { readonly kind: 'unknown' }
  /** Someone (or the expiry) decided first. */
  | { readonly kind: 'already_decided'; readonly decision: ApprovalDecision }
  /** Too late: the approval expired at `expiresAt` and counts as denied. */
  | { readonly kind: 'expired'; readonly expiresAt: string };

export interface ApprovalStoreOptions extends DynamoStoreOptions {
  /** Days a cancelled row is kept (TASK_RETENTION_DAYS). @default DEFAULT_TASK_RETENTION_DAYS */
  readonly retentionDays?: number;
}

/** The conditional writes of approval decisions, expiry and cancel, on the tasks table. */
export class ApprovalStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly now: () => number;
  private readonly retentionDays: number;
  private readonly rows: TaskStore;

  constructor(options: ApprovalStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.now = options.now ?? Date.now;
    this.retentionDays = options.retentionDays ?? DEFAULT_TASK_RETENTION_DAYS;
    this.rows = new TaskStore(options);
  }

  /**
   * Record a person's decision on `task` (the row as just read). One conditional transaction:
   * the row must still wait for exactly this approval, unexpired; so of two racing decisions
   * (or a decision and the expiry sweep) exactly one is recorded.
   */
  async decide(task: TaskRecord, approvalId: string, decision: ApprovalDecisionKind, decidedBy: string, reason: string | undefined): Promise<DecisionOutcome> {
    const earlier = (task.decisions ?? []).find((d) => d.approvalId === approvalId);
    if (earlier !== undefined) return { kind: 'already_decided', decision: earlier };
    const pending = task.pendingApproval;
    if (task.status !== 'WAITING_APPROVAL' || pending?.approvalId !== approvalId) return { kind: 'unknown' };
    const now = new Date(this.now()).toISOString();
    if (now >= pending.expiresAt) return { kind: 'expired', expiresAt: pending.expiresAt };
    const record: ApprovalDecision = { approvalId, decision, ...(reason !== undefined ? { reason } : {}), decidedBy, decidedAt: now, requestedAt: pending.requestedAt };
    const applied = await this.resolve(task, pending, record, 'pendingApproval.expiresAt > :now');
    if (applied.kind === 'applied') return { kind: 'decided', task: applied.task, entry: applied.entry };
    // Lost a race: say what happened instead.
    const current = (await this.readRow(task.taskId)) ?? task;
    const winner = (current.decisions ?? []).find((d) => d.approvalId === approvalId);
    if (winner !== undefined) return { kind: 'already_decided', decision: winner };
    if (current.pendingApproval?.approvalId === approvalId) return { kind: 'expired', expiresAt: current.pendingApproval.expiresAt };
    return { kind: 'unknown' };
  }

  /**
   * Record an expired approval as denied (`reason: expired`). Every worker's sweep may try; the
   * condition lets one win. `stale`: the row no longer waits for it (cancelled, or decided with
   * its entry left behind), so the entry can be forgotten.
   */
  async expire(entry: ApprovalEntry): Promise<{ kind: 'expired'; task: TaskRecord } | { kind: 'lost' | 'stale' | 'not_due' }> {
    const nowMs = this.now();
    const now = new Date(nowMs).toISOString();
    if (now < entry.expiresAt) return { kind: 'not_due' };
    const record: ApprovalDecision = { approvalId: entry.approvalId, decision: 'deny', reason: EXPIRED_REASON, decidedBy: EXPIRED_BY, decidedAt: now, ...(entry.requestedAt !== '' ? { requestedAt: entry.requestedAt } : {}) };
    const applied = await this.resolve({ taskId: entry.taskId, priority: entry.priority, agentVersion: entry.pool }, { approvalId: entry.approvalId, expiresAt: entry.expiresAt }, record, 'pendingApproval.expiresAt <= :now');
    if (applied.kind === 'applied') return { kind: 'expired', task: applied.task };
    return { kind: applied.codes[1] === 'ConditionalCheckFailed' ? 'lost' : 'stale' };
  }

  /**
   * Cancel a task that waits for an approval: it becomes CANCELLED at once (no worker holds it).
   * Returns the entry to queue (so a worker sends the completion webhook) and forget, or undefined
   * when the row no longer waits for that approval.
   */
  async cancelWaiting(task: TaskRecord): Promise<{ task: TaskRecord; entry: ApprovalEntry } | undefined> {
    const pending = task.pendingApproval;
    if (task.status !== 'WAITING_APPROVAL' || pending === undefined) return undefined;
    const nowMs = this.now();
    const now = new Date(nowMs).toISOString();
    const entry = this.entryOf(task, pending);
    try {
      const rowUpdate = {
        Update: {
          TableName: this.tableName,
          Key: { pk: taskPk(task.taskId), sk: META_SK },
          UpdateExpression: 'SET #s = :cancelled, cancelRequested = :t, updatedAt = :now, finishedAt = :now, #error = :error, #ttl = :ttl REMOVE pendingApproval',
          ConditionExpression: '#s = :waiting AND pendingApproval.approvalId = :id',
          ExpressionAttributeNames: { '#s': 'status', '#error': 'error', '#ttl': TASK_TTL_ATTRIBUTE },
          ExpressionAttributeValues: {
            ':cancelled': 'CANCELLED',
            ':waiting': 'WAITING_APPROVAL',
            ':id': pending.approvalId,
            ':t': true,
            ':now': now,
            ':error': { type: 'cancelled', message: 'cancelled by request while waiting for approval' },
            ':ttl': taskExpiry(nowMs, this.retentionDays),
          },
        },
      };
      await this.client.send(new TransactWriteCommand({ TransactItems: [rowUpdate, this.markDecided(entry, now)] }));
    } catch (err) {
      if (isConditionalCheckFailed(err)) return undefined;
      throw err;
    }
    const after = await this.readRow(task.taskId);
    return after === undefined ? undefined : { task: after, entry: { ...entry, decidedAt: now } };
  }

  /** Every registry entry of a pool (waiting, or decided and not yet forgotten), oldest expiry first. */
  async entries(pool: AgentVersion): Promise<ApprovalEntry[]> {
    const items = await queryPartition({ client: this.client, tableName: this.tableName }, approvalsPk(pool));
    return items.map((item) => ({
      pool,
      taskId: String(item['taskId']),
      approvalId: String(item['approvalId']),
      priority: item['priority'] === 'high' ? 'high' : 'normal',
      requestedAt: String(item['requestedAt']),
      expiresAt: String(item['expiresAt']),
      ...(typeof item['decidedAt'] === 'string' ? { decidedAt: item['decidedAt'] } : {}),
    }));
  }

  /**
   * Delete an entry once its task is queued. `onlyUndecided` deletes a stale entry only while no
   * decision marked it (a decider that marked it owns the queueing).
   */
  async forget(entry: ApprovalEntry, onlyUndecided = false): Promise<void> {
    await this.client
      .send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: approvalsPk(entry.pool), sk: approvalSk(entry.expiresAt, entry.taskId) },
          ...(onlyUndecided ? { ConditionExpression: 'attribute_not_exists(decidedAt)' } : {}),
        }),
      )
      .catch((err: unknown) => {
        if (!isConditionalCheckFailed(err)) throw err;
      });
  }

  private entryOf(task: Pick<TaskRecord, 'taskId' | 'priority' | 'agentVersion'>, pending: Pick<PendingApproval, 'approvalId' | 'expiresAt'> & { requestedAt?: string }): ApprovalEntry {
    return { pool: poolOf(task), taskId: task.taskId, approvalId: pending.approvalId, priority: task.priority, requestedAt: pending.requestedAt ?? '', expiresAt: pending.expiresAt };
  }

  /** Mark the registry entry decided; refused when another decision marked it first. */
  private markDecided(entry: ApprovalEntry, now: string) {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: approvalsPk(entry.pool), sk: approvalSk(entry.expiresAt, entry.taskId) },
        // Written whole, so an entry lost to an earlier failure is recreated for the sweep's re-queue.
        UpdateExpression: 'SET decidedAt = :now, taskId = :task, approvalId = :id, priority = :p, expiresAt = :exp, requestedAt = if_not_exists(requestedAt, :now)',
        ConditionExpression: 'attribute_not_exists(decidedAt)',
        ExpressionAttributeValues: { ':now': now, ':task': entry.taskId, ':id': entry.approvalId, ':p': entry.priority, ':exp': entry.expiresAt },
      },
    };
  }

  /** The decision transaction: the row back to QUEUED with the decision appended, the entry marked. */
  private async resolve(
    task: Pick<TaskRecord, 'taskId' | 'priority' | 'agentVersion'>,
    pending: Pick<PendingApproval, 'approvalId' | 'expiresAt'> & { requestedAt?: string },
    record: ApprovalDecision,
    timeCondition: string,
  ): Promise<{ kind: 'applied'; task: TaskRecord; entry: ApprovalEntry } | { kind: 'refused'; codes: (string | undefined)[] }> {
    const entry = this.entryOf(task, pending);
    const rowUpdate = {
      Update: {
        TableName: this.tableName,
        Key: { pk: taskPk(task.taskId), sk: META_SK },
        UpdateExpression: 'SET #s = :queued, updatedAt = :now, decisions = list_append(if_not_exists(decisions, :empty), :d) REMOVE pendingApproval',
        ConditionExpression: `#s = :waiting AND pendingApproval.approvalId = :id AND ${timeCondition}`,
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':queued': 'QUEUED', ':waiting': 'WAITING_APPROVAL', ':id': pending.approvalId, ':now': record.decidedAt, ':empty': [], ':d': [record] },
      },
    };
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: [rowUpdate, this.markDecided(entry, record.decidedAt)] }));
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
      return { kind: 'refused', codes: cancellationCodes(err) };
    }
    const after = await this.readRow(task.taskId);
    if (after === undefined) return { kind: 'refused', codes: [] };
    return { kind: 'applied', task: after, entry: { ...entry, decidedAt: record.decidedAt } };
  }

  private readRow(taskId: string): Promise<TaskRecord | undefined> {
    return this.rows.get(taskId);
  }

}

/**
 * Put a task's message on `queueUrl` (its pool's lane for its priority), with a fresh trace
 * context, as the intake does for a new task.
 */
export async function queueTask(sqs: SQSClient, queueUrl: string, taskId: string): Promise<void> {
  const message: TaskMessage = { taskId };
  const attributes = traceMessageAttributes(taskTraceContext(taskId));
  await sqs.send(
    new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message), ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}) }),
  );
}
