import { GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { cancellationCodes, isConditionalCheckFailed, isRetryableCancellation } from '../shared/dynamo-conditions';
import { queryPartition, type DynamoStoreOptions } from '../shared/dynamo-store';
import { FencedError } from '../shared/errors';
import { LOCK_SK, META_SK, STEP_PREFIX, stepSk, taskPk, type PendingApproval, type StepKind, type StepRecord, type TaskRecord, type TerminalStatus } from '../shared/task-model';
import { approvalEntryPut } from '../shared/approvals';
import { DEFAULT_TASK_RETENTION_DAYS, TASK_TTL_ATTRIBUTE, taskExpiry } from '../shared/task-retention';
import { terminalUpdate } from '../shared/terminal-update';
import type { LeaseHandle } from './lease';
import { CancelRequestedError } from './worker-errors';

export interface CheckpointLogOptions extends DynamoStoreOptions {
  /**
   * Days each step and intent is kept after it is written, and the task row after its terminal
   * write (the table's TTL deletes them then).
   * @default DEFAULT_TASK_RETENTION_DAYS (30)
   */
  readonly retentionDays?: number;
  /**
   * Extra tries of a transaction cancelled for throttling or a conflicting transaction (nothing
   * was written, so a retry is safe). @default 3
   */
  readonly cancelledRetries?: number;
  /** Waits between those tries; injected so tests need not sleep. @default setTimeout with full jitter up to 50·2ⁿ ms */
  readonly backoff?: (attempt: number) => Promise<void>;
}

const jitteredBackoff = (attempt: number): Promise<void> => new Promise((r) => setTimeout(r, Math.random() * 50 * 2 ** attempt));

const INTENT_PREFIX = 'INTENT#';

/** Side-effecting tool calls announce themselves here before they run: `TASK#id / INTENT#000004`. */
export const intentSk = (seq: number): string => `${INTENT_PREFIX}${String(seq).padStart(6, '0')}`;

/** A side-effecting tool call that was about to run in step `seq`. */
export interface ToolIntent {
  readonly toolUseId: string;
  readonly name: string;
  readonly idempotencyKey: string;
  readonly fence: number;
  readonly createdAt: string;
}

/** Terminal fields a worker writes when it finishes a task under its lease. */
export interface TaskOutcome {
  readonly status: TerminalStatus;
  readonly fields: Partial<TaskRecord>;
  /**
   * The task's last step (the model's final answer), not written yet: `finishAndRelease` writes it
   * in the same transaction as the result. @default none (every step is already in the log)
   */
  readonly finalStep?: StepRecord;
}

/** A task's partition as one consistent Query returns it: the row, the lock, the steps and the intents. */
export interface TaskPartition {
  /** The task row as stored (TaskStore's `taskFromItem` turns it into a TaskRecord). */
  readonly row?: Record<string, unknown>;
  readonly lock?: Record<string, unknown>;
  readonly steps: StepRecord[];
  /** Intents by step number. */
  readonly intents: ReadonlyMap<number, ToolIntent>;
}

function stepFrom(taskId: string, item: Record<string, unknown>): StepRecord {
  return {
    taskId,
    seq: Number(item['seq']),
    kind: item['kind'] as StepKind,
    fence: Number(item['fence']),
    createdAt: String(item['createdAt']),
    payload: item['payload'] as Record<string, unknown>,
  };
}

function intentFrom(item: Record<string, unknown>): ToolIntent {
  const { pk: _pk, sk: _sk, [TASK_TTL_ATTRIBUTE]: _ttl, ...rest } = item;
  return rest as unknown as ToolIntent;
}

/** The task stopped at a `requires_approval` tool call: it waits, without a worker, for a person's decision. */
export interface WaitingOutcome {
  readonly status: 'WAITING_APPROVAL';
  readonly fields: Partial<TaskRecord>;
  readonly pendingApproval: PendingApproval;
}

/** How one run of the agent loop ended: finished, or suspended for an approval. */
export type RunOutcome = TaskOutcome | WaitingOutcome;

/**
 * The append-only step log, fenced: every append is one transaction of "this slot is empty" and
 * "the lease is still mine, with this fence, unexpired". A worker that lost its lease cannot
 * write a step or a result, whatever it still believes.
 */
export class CheckpointLog {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly now: () => number;
  private readonly retentionDays: number;
  private readonly cancelledRetries: number;
  private readonly backoff: (attempt: number) => Promise<void>;

  constructor(options: CheckpointLogOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.now = options.now ?? Date.now;
    this.retentionDays = options.retentionDays ?? DEFAULT_TASK_RETENTION_DAYS;
    this.cancelledRetries = options.cancelledRetries ?? 3;
    this.backoff = options.backoff ?? jitteredBackoff;
  }

  async list(taskId: string): Promise<StepRecord[]> {
    const steps: StepRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': taskPk(taskId), ':prefix': STEP_PREFIX },
          ConsistentRead: true,
          ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of out.Items ?? []) steps.push(stepFrom(taskId, item));
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return steps;
  }

  /**
   * The whole partition in one consistent Query (paged only past 1 MB): what a worker starting a
   * task needs (row, lock, steps to replay, the intent of a step a previous owner died in) in one
   * round trip instead of three.
   */
  async load(taskId: string): Promise<TaskPartition> {
    let row: Record<string, unknown> | undefined;
    let lock: Record<string, unknown> | undefined;
    const steps: StepRecord[] = [];
    const intents = new Map<number, ToolIntent>();
    for (const item of await queryPartition({ client: this.client, tableName: this.tableName }, taskPk(taskId))) {
      const sk = String(item['sk']);
      if (sk === META_SK) row = item;
      else if (sk === LOCK_SK) lock = item;
      else if (sk.startsWith(STEP_PREFIX)) steps.push(stepFrom(taskId, item));
      else if (sk.startsWith(INTENT_PREFIX)) intents.set(Number(sk.slice(INTENT_PREFIX.length)), intentFrom(item));
    }
    return { ...(row !== undefined ? { row } : {}), ...(lock !== undefined ? { lock } : {}), steps, intents };
  }
  private leaseCheck(lease: LeaseHandle) {
    return {
      ConditionCheck: {
        TableName: this.tableName,
        Key: { pk: taskPk(lease.taskId), sk: LOCK_SK },
        ConditionExpression: '#owner = :me AND fence = :fence AND expiresAt > :now',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':me': lease.owner, ':fence': lease.fence, ':now': this.now() },
      },
    };
  }

  /** The task row must not ask the task to stop: checked in the same transaction, so no read per turn. */
  private notCancelled(taskId: string) {
    return {
      ConditionCheck: {
        TableName: this.tableName,
        Key: { pk: taskPk(taskId), sk: META_SK },
        ConditionExpression: 'attribute_not_exists(cancelRequested) OR cancelRequested <> :yes',
        ExpressionAttributeValues: { ':yes': true },
      },
    };
  }

  /**
   * One transaction: the lease check (and, for steps and intents, the cancel flag) plus `write`.
   * A failed lease or slot condition means we no longer own the task (FencedError); the cancel
   * flag alone means the task was asked to stop (CancelRequestedError). A cancellation for
   * throttling or a conflicting transaction wrote nothing and is retried, then rethrown as it came.
   */
  private async fenced(
    lease: LeaseHandle,
    write: Record<string, unknown>,
    what: string,
    context: Record<string, unknown>,
    checkCancel = false,
    alsoWrite: readonly Record<string, unknown>[] = [],
  ): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        // The lease check is rebuilt per try: its `expiresAt > now` must use the time of this try.
        const items = checkCancel ? [this.leaseCheck(lease), this.notCancelled(lease.taskId), write, ...alsoWrite] : [this.leaseCheck(lease), write, ...alsoWrite];
        await this.client.send(new TransactWriteCommand({ TransactItems: items }));
        return;
      } catch (err) {
        const codes = cancellationCodes(err);
        const othersHeld = codes.every((code, i) => i === 1 || code !== 'ConditionalCheckFailed');
        if (checkCancel && codes[1] === 'ConditionalCheckFailed' && othersHeld) {
          throw new CancelRequestedError(lease.taskId);
        }
        if (isConditionalCheckFailed(err)) {
          throw new FencedError(
            `${what} of task ${lease.taskId} rejected: lease lost (fence ${lease.fence}) or already written`,
            { taskId: lease.taskId, fence: lease.fence, ...context },
            { cause: err },
          );
        }
        if (!isRetryableCancellation(err) || attempt >= this.cancelledRetries) throw err;
        await this.backoff(attempt);
      }
    }
  }

  /**
   * Append step `seq`. With `nextIntent`, the intent of the side-effecting tool call that runs as
   * step `nextIntent.seq` right after this one goes into the same transaction (one round trip
   * instead of two; see recordIntent for what an intent means).
   */
  async append(
    lease: LeaseHandle,
    seq: number,
    kind: StepKind,
    payload: Record<string, unknown>,
    nextIntent?: { readonly seq: number; readonly intent: Omit<ToolIntent, 'fence' | 'createdAt'> },
  ): Promise<StepRecord> {
    const step = this.draft(lease, seq, kind, payload);
    await this.write(lease, step, nextIntent);
    return step;
  }

  /**
   * Write a step drafted earlier (`draft`) exactly as drafted: the agent loop keeps working on the
   * drafted step while this write is in flight (see checkpoint-pipeline.ts), so the stored step
   * must be the one the loop already used. Fenced and cancel-checked like `append`.
   */
  async write(lease: LeaseHandle, step: StepRecord, nextIntent?: { readonly seq: number; readonly intent: Omit<ToolIntent, 'fence' | 'createdAt'> }): Promise<void> {
    const extra = nextIntent === undefined ? [] : [this.intentPut(lease, nextIntent.seq, nextIntent.intent)];
    await this.fenced(lease, this.stepPut(step), `Checkpoint ${step.seq}`, { seq: step.seq }, true, extra);
  }

  private intentPut(lease: LeaseHandle, seq: number, intent: Omit<ToolIntent, 'fence' | 'createdAt'>) {
    const now = this.now();
    const record: ToolIntent = { ...intent, fence: lease.fence, createdAt: new Date(now).toISOString() };
    const item = { pk: taskPk(lease.taskId), sk: intentSk(seq), ...record, [TASK_TTL_ATTRIBUTE]: taskExpiry(now, this.retentionDays) };
    return { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } };
  }

  /** A step as `append` would record it, not written: the final step goes in with the result (`finishAndRelease`). */
  draft(lease: LeaseHandle, seq: number, kind: StepKind, payload: Record<string, unknown>): StepRecord {
    return { taskId: lease.taskId, seq, kind, fence: lease.fence, createdAt: new Date(this.now()).toISOString(), payload };
  }

  private stepPut(step: StepRecord) {
    const item = { pk: taskPk(step.taskId), sk: stepSk(step.seq), ...step, [TASK_TTL_ATTRIBUTE]: taskExpiry(this.now(), this.retentionDays) };
    return { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } };
  }

  /**
   * Record, under the lease, that a side-effecting tool call is about to run in step `seq`. An
   * intent without a matching step means the outcome is unknown (see README: side effects).
   */
  async recordIntent(lease: LeaseHandle, seq: number, intent: Omit<ToolIntent, 'fence' | 'createdAt'>): Promise<ToolIntent> {
    const now = this.now();
    const record: ToolIntent = { ...intent, fence: lease.fence, createdAt: new Date(now).toISOString() };
    const item = { pk: taskPk(lease.taskId), sk: intentSk(seq), ...record, [TASK_TTL_ATTRIBUTE]: taskExpiry(now, this.retentionDays) };
    await this.fenced(
      lease,
      { Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
      `Intent for step ${seq}`,
      { seq, toolUseId: intent.toolUseId },
      true,
    );
    return record;
  }

  async getIntent(taskId: string, seq: number): Promise<ToolIntent | undefined> {
    const out = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { pk: taskPk(taskId), sk: intentSk(seq) }, ConsistentRead: true }));
    if (out.Item === undefined) return undefined;
    const { pk: _pk, sk: _sk, [TASK_TTL_ATTRIBUTE]: _ttl, ...rest } = out.Item;
    return rest as ToolIntent;
  }

  /**
   * Write the terminal status and give the lease up in one transaction: the lock's release is
   * conditioned like the lease check (owner, fence, unexpired), so a worker that lost the lease
   * writes neither. Saves the separate release round trip of a finished task. An outcome with a
   * `finalStep` writes that step in the same transaction (one round trip for the last checkpoint
   * and the result), checked against the cancel flag as every append is: a cancel requested during
   * the last model call still wins (CancelRequestedError, nothing written).
   */
  async finishAndRelease(lease: LeaseHandle, outcome: TaskOutcome): Promise<void> {
    const now = this.now();
    const terminal = terminalUpdate(outcome.status, outcome.fields, new Date(now).toISOString(), taskExpiry(now, this.retentionDays));
    const step = outcome.finalStep;
    const update =
      step === undefined
        ? terminal
        : {
            ...terminal,
            ConditionExpression: `${terminal.ConditionExpression} AND (attribute_not_exists(cancelRequested) OR cancelRequested <> :yes)`,
            ExpressionAttributeValues: { ...terminal.ExpressionAttributeValues, ':yes': true },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
          };
    const release = this.release(lease, now);
    const row = { Update: { TableName: this.tableName, Key: { pk: taskPk(lease.taskId), sk: META_SK }, ...update } };
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: step === undefined ? [release, row] : [release, row, this.stepPut(step)] }));
    } catch (err) {
      if (!isConditionalCheckFailed(err)) throw err;
      const codes = cancellationCodes(err);
      // Only the row refused, and it is still running with the flag set: a cancel, not a fence.
      if (step !== undefined && codes[0] !== 'ConditionalCheckFailed' && codes[2] !== 'ConditionalCheckFailed' && cancelledRow(err)) {
        throw new CancelRequestedError(lease.taskId);
      }
      throw new FencedError(`Result of task ${lease.taskId} rejected: lease lost (fence ${lease.fence}) or already written`, { taskId: lease.taskId, fence: lease.fence, status: outcome.status }, { cause: err });
    }
  }

  /** The lock's conditional release (owner, fence, unexpired), as one item of a transaction. */
  private release(lease: LeaseHandle, now: number) {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: taskPk(lease.taskId), sk: LOCK_SK },
        // The item (and its fence counter) stays: deleting it would restart fences at 1.
        UpdateExpression: 'SET expiresAt = :zero REMOVE #owner',
        ConditionExpression: '#owner = :me AND fence = :fence AND expiresAt > :now',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':me': lease.owner, ':fence': lease.fence, ':now': now, ':zero': 0 },
      },
    };
  }

  /**
   * Suspend the task for a person's approval, in one transaction: the lease is released (fenced
   * like every write), the row moves RUNNING -> WAITING_APPROVAL with `pendingApproval` unless it
   * was asked to stop (CancelRequestedError), and the approval's registry entry is written for the
   * expiry sweep (shared/approvals.ts). The tool_use itself is already checkpointed (its LLM step).
   */
  async suspendForApproval(lease: LeaseHandle, task: Pick<TaskRecord, 'taskId' | 'priority' | 'agentVersion'>, outcome: WaitingOutcome): Promise<void> {
    const now = this.now();
    const sets = ['#s = :waiting', 'pendingApproval = :p', 'updatedAt = :at'];
    const names: Record<string, string> = { '#s': 'status' };
    const values: Record<string, unknown> = { ':waiting': 'WAITING_APPROVAL', ':running': 'RUNNING', ':p': outcome.pendingApproval, ':at': new Date(now).toISOString(), ':yes': true };
    for (const [k, v] of Object.entries(outcome.fields)) {
      if (v === undefined || k === 'status' || k === 'taskId' || k === 'pendingApproval') continue;
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      sets.push(`#${k} = :${k}`);
    }
    const row = {
      Update: {
        TableName: this.tableName,
        Key: { pk: taskPk(lease.taskId), sk: META_SK },
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: '#s = :running AND (attribute_not_exists(cancelRequested) OR cancelRequested <> :yes)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    };
    const entry = approvalEntryPut(this.tableName, task, outcome.pendingApproval, this.retentionDays);
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: [this.release(lease, now), row, entry] }));
    } catch (err) {
      const codes = cancellationCodes(err);
      if (codes[1] === 'ConditionalCheckFailed' && codes[0] !== 'ConditionalCheckFailed') throw new CancelRequestedError(lease.taskId);
      if (!isConditionalCheckFailed(err)) throw err;
      throw new FencedError(`Approval request of task ${lease.taskId} rejected: lease lost (fence ${lease.fence}) or already written`, { taskId: lease.taskId, fence: lease.fence }, { cause: err });
    }
  }

  /** Write the terminal status under the lease; the row must not already be terminal. */
  async finish(lease: LeaseHandle, outcome: TaskOutcome): Promise<void> {
    const now = this.now();
    const update = terminalUpdate(outcome.status, outcome.fields, new Date(now).toISOString(), taskExpiry(now, this.retentionDays));
    await this.fenced(lease, { Update: { TableName: this.tableName, Key: { pk: taskPk(lease.taskId), sk: META_SK }, ...update } }, 'Result', {
      status: outcome.status,
    });
  }
}

/** Whether the row a cancelled transaction returned (its second action) is still running with the cancel flag set. */
function cancelledRow(err: unknown): boolean {
  const reasons = (err as { CancellationReasons?: { Item?: Record<string, unknown> }[] }).CancellationReasons;
  const item = Array.isArray(reasons) ? reasons[1]?.Item : undefined;
  const status = (item?.['status'] as { S?: string } | undefined)?.S;
  const flag = (item?.['cancelRequested'] as { BOOL?: boolean } | undefined)?.BOOL;
  return flag === true && (status === 'QUEUED' || status === 'RUNNING');
}
