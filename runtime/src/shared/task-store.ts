import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { conditionHeld, ifConditionFails } from './dynamo-conditions';
import type { DynamoStoreOptions } from './dynamo-store';
import { OpenClawError } from './errors';
import { DEFAULT_TASK_RETENTION_DAYS, TASK_TTL_ATTRIBUTE, taskExpiry } from './task-retention';
import { terminalUpdate } from './terminal-update';
import { META_SK, renderStructuredInput, taskPk, type StructuredInput, type TaskRecord, type TaskStatus, type TerminalStatus, type WebhookDelivery } from './task-model';
import { MAX_SUBMITTED_ROW_BYTES, dynamoItemSize } from './task-size';
import { insertRow, type TaskRowInserts } from './task-row-inserts';

export class TaskNotFoundError extends OpenClawError {
  constructor(taskId: string) {
    super('not_found', `Task ${taskId} does not exist`, { taskId });
  }
}

export interface TaskStoreOptions extends DynamoStoreOptions {
  /**
   * Days the row is kept after it is created and again after it finishes (the table's TTL
   * deletes it then); a row that is never enqueued expires this long after creation.
   * @default DEFAULT_TASK_RETENTION_DAYS (30)
   */
  readonly retentionDays?: number;
  /**
   * Where `insert` writes new rows: the intake passes a TaskRowInserts so rows submitted together
   * are group-committed. Unset, each insert is its own conditional PutItem.
   * @default one PutItem per row
   */
  readonly inserts?: TaskRowInserts;
}

/** A task too large for its row: refused before it is written, so the caller can answer 413. */
export class TaskTooLargeError extends OpenClawError {
  constructor(
    taskId: string,
    readonly sizeBytes: number,
    readonly limitBytes: number,
  ) {
    super('request_too_large', `Task ${taskId} takes ${sizeBytes} bytes as stored; the limit is ${limitBytes} bytes`, { taskId, sizeBytes, limitBytes });
  }
}

/**
 * The row as stored. A structured input is kept once, as its JSON text (`inputJson`): a DynamoDB
 * map would not keep the order of its keys, and the agent must see the data as it was sent. Its
 * `input` and rendered `prompt` are derived on read.
 */
type Item = Omit<TaskRecord, 'prompt' | 'input'> & { prompt?: string; inputJson?: string; pk: string; sk: string; [TASK_TTL_ATTRIBUTE]: number };

/** The row for a new task. */
function toItem(task: TaskRecord, expiresAt: number): Item {
  const { prompt, input, ...rest } = task;
  const keys = { pk: taskPk(task.taskId), sk: META_SK, [TASK_TTL_ATTRIBUTE]: expiresAt };
  return input === undefined ? { ...rest, prompt, ...keys } : { ...rest, inputJson: JSON.stringify(input), ...keys };
}

/** The record as the rest of the runtime sees it: no keys, no storage bookkeeping, input and prompt as submitted. */
export function taskFromItem(item: Record<string, unknown> | undefined): TaskRecord | undefined {
  return strip(item);
}

function strip(item: Record<string, unknown> | undefined): TaskRecord | undefined {
  if (item === undefined) return undefined;
  const { pk: _pk, sk: _sk, [TASK_TTL_ATTRIBUTE]: _ttl, inputJson, ...rest } = item;
  const row = rest as unknown as Omit<TaskRecord, 'prompt'> & { prompt?: string };
  if (typeof inputJson !== 'string') return row as TaskRecord;
  const input = JSON.parse(inputJson) as StructuredInput;
  return { ...row, input, prompt: row.prompt ?? renderStructuredInput(input) };
}

/** A task row checked against the item-size limit, ready for `insert`. */
export interface StorableTask {
  readonly item: Record<string, unknown>;
  /** The item's size as DynamoDB counts it. */
  readonly sizeBytes: number;
}

/** The task rows (META items). Status transitions are conditional so racing writers cannot regress them. */
export class TaskStore {
  private readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  private readonly clock: () => number;
  private readonly retentionDays: number;
  private readonly inserts: TaskRowInserts | undefined;

  constructor(options: TaskStoreOptions) {
    this.inserts = options.inserts;
    this.client = options.client;
    this.tableName = options.tableName;
    this.clock = options.now ?? Date.now;
    this.retentionDays = options.retentionDays ?? DEFAULT_TASK_RETENTION_DAYS;
  }

  private now(): Date {
    return new Date(this.clock());
  }

  private expiry(): number {
    return taskExpiry(this.clock(), this.retentionDays);
  }

  /**
   * Insert a new task; false if a row with that ID already exists (the caller decides what that means).
   * The row expires after the retention unless it finishes (which restarts it), so a row whose
   * writer died before SendMessage does not stay QUEUED forever.
   */
  async create(task: TaskRecord, options: { abortSignal?: AbortSignal } = {}): Promise<boolean> {
    return this.insert(this.storable(task), options);
  }

  /**
   * The row for `task`, or TaskTooLargeError: lets a caller refuse an oversize task before it
   * starts anything else (the intake sends the message alongside the write).
   */
  storable(task: TaskRecord): StorableTask {
    const item = toItem(task, this.expiry());
    const size = dynamoItemSize(item);
    if (size > MAX_SUBMITTED_ROW_BYTES) throw new TaskTooLargeError(task.taskId, size, MAX_SUBMITTED_ROW_BYTES);
    return { item, sizeBytes: size };
  }

  /** Write a row from `storable`; false if a row with that ID already exists. */
  async insert(row: StorableTask, options: { abortSignal?: AbortSignal } = {}): Promise<boolean> {
    if (this.inserts !== undefined) return this.inserts.insert(row.item, row.sizeBytes, options.abortSignal);
    return insertRow(this.client, this.tableName, row.item, options.abortSignal);
  }

  async get(taskId: string, consistent = true): Promise<TaskRecord | undefined> {
    const out = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: taskPk(taskId), sk: META_SK }, ConsistentRead: consistent }),
    );
    return strip(out.Item);
  }

  async require(taskId: string): Promise<TaskRecord> {
    const task = await this.get(taskId);
    if (task === undefined) throw new TaskNotFoundError(taskId);
    return task;
  }

  /**
   * Move a task to RUNNING unless it already finished, counting one attempt (call it once the
   * lease is held, so a receive that could not take the lease counts nothing). Returns the updated
   * row, or undefined when the task is terminal (a duplicate delivery of finished work) or unknown.
   */
  async markRunning(taskId: string): Promise<TaskRecord | undefined> {
    return ifConditionFails(
      async () => {
        const out = await this.client.send(new UpdateCommand({ ...this.markRunningUpdate(taskId), ReturnValues: 'ALL_NEW' }));
        return strip(out.Attributes);
      },
      () => undefined,
    );
  }

  /**
   * The update `markRunning` makes, for a caller that sends it inside a transaction (the worker
   * takes the lease and counts the attempt in one round trip).
   */
  markRunningUpdate(taskId: string) {
    const now = this.now().toISOString();
    return {
      TableName: this.tableName,
      Key: { pk: taskPk(taskId), sk: META_SK },
      UpdateExpression:
        'SET #s = :running, updatedAt = :now, startedAt = if_not_exists(startedAt, :now), attempts = if_not_exists(attempts, :zero) + :one, #ttl = :ttl',
      ConditionExpression: 'attribute_exists(pk) AND #s IN (:queued, :running)',
      // Each attempt restarts the row's retention, so a task taken up late cannot expire mid-run.
      ExpressionAttributeNames: { '#s': 'status', '#ttl': TASK_TTL_ATTRIBUTE },
      ExpressionAttributeValues: { ':running': 'RUNNING', ':queued': 'QUEUED', ':now': now, ':zero': 0, ':one': 1, ':ttl': this.expiry() },
    };
  }

  /**
   * Give back the attempt `markRunning` counted, when the task is handed back for a reason that
   * is not its own (provider weather, a drain): `attempts` counts only receives spent toward the DLQ.
   */
  async refundAttempt(taskId: string): Promise<boolean> {
    return conditionHeld(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: taskPk(taskId), sk: META_SK },
          UpdateExpression: 'SET attempts = attempts - :one',
          ConditionExpression: 'attempts >= :one AND #s = :running',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':one': 1, ':running': 'RUNNING' },
        }),
      ),
    );
  }

  /** Mark the row as in the queue (after SendMessage succeeded). Idempotent: the first time wins. */
  async markEnqueued(taskId: string): Promise<void> {
    await conditionHeld(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: taskPk(taskId), sk: META_SK },
          UpdateExpression: 'SET enqueuedAt = :now',
          ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(enqueuedAt)',
          ExpressionAttributeValues: { ':now': this.now().toISOString() },
        }),
      ),
    );
  }

  /**
   * Remove a row whose enqueue failed, so a task the client was never told about cannot linger
   * QUEUED. Only a row that is still QUEUED and never marked enqueued is removed.
   */
  async deleteUnenqueued(taskId: string): Promise<boolean> {
    return conditionHeld(() =>
      this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: taskPk(taskId), sk: META_SK },
          ConditionExpression: '#s = :queued AND attribute_not_exists(enqueuedAt)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':queued': 'QUEUED' },
        }),
      ),
    );
  }

  /**
   * Make sure a task whose submission failed never runs: its row becomes a FAILED tombstone
   * (`not_accepted`) unless a worker has already started it. Unlike a delete, the tombstone also
   * stops a row write that is still on its way (an abandoned PutItem DynamoDB applies late), whose
   * `attribute_not_exists` condition then fails. Returns 'started' when the task is already past
   * QUEUED: its row and message both made it, so it was accepted after all.
   */
  async abandon(task: TaskRecord): Promise<'abandoned' | 'started'> {
    const now = this.now().toISOString();
    const tombstone: Item = {
      pk: taskPk(task.taskId),
      sk: META_SK,
      taskId: task.taskId,
      status: 'FAILED',
      priority: task.priority,
      prompt: '',
      ...(task.submittedBy !== undefined ? { submittedBy: task.submittedBy } : {}),
      createdAt: task.createdAt,
      updatedAt: now,
      finishedAt: now,
      error: { type: 'not_accepted', message: 'the submission failed (503) before the task was accepted; it never ran' },
      [TASK_TTL_ATTRIBUTE]: this.expiry(),
    };
    const put = await conditionHeld(() =>
      this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: tombstone,
          ConditionExpression: 'attribute_not_exists(pk) OR (#s = :queued AND attribute_not_exists(enqueuedAt))',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':queued': 'QUEUED' },
        }),
      ),
    );
    return put ? 'abandoned' : 'started';
  }

  /**
   * Cancel a task: a QUEUED one becomes CANCELLED at once (the worker skips it on receipt); a
   * RUNNING one is flagged and the worker stops at its next step. Returns the row after the
   * change, or the unchanged row when it was already terminal (the caller answers 409) or waits
   * for an approval (`waiting`: the caller cancels it together with its approval entry).
   */
  async cancel(taskId: string): Promise<{ outcome: 'cancelled' | 'flagged' | 'terminal' | 'waiting'; task: TaskRecord } | undefined> {
    const now = this.now().toISOString();
    const attempt = async (update: string, expected: TaskStatus, values: Record<string, unknown>) => {
      let after: TaskRecord | undefined;
      await conditionHeld(async () => {
        const out = await this.client.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: taskPk(taskId), sk: META_SK },
            UpdateExpression: update,
            ConditionExpression: '#s = :expected',
            // DynamoDB rejects names the expression does not use; only the terminal step sets `ttl`.
            ExpressionAttributeNames: { '#s': 'status', ...(update.includes('#ttl') ? { '#ttl': TASK_TTL_ATTRIBUTE } : {}) },
            ExpressionAttributeValues: { ':expected': expected, ':now': now, ...values },
            ReturnValues: 'ALL_NEW',
          }),
        );
        after = strip(out.Attributes);
      });
      return after;
    };
    // QUEUED -> RUNNING can happen between any two calls, so each step is conditional and the
    // sequence is retried from the top once.
    for (let round = 0; round < 2; round += 1) {
      const cancelled = await attempt(
        'SET #s = :cancelled, cancelRequested = :t, updatedAt = :now, finishedAt = :now, #ttl = :ttl',
        'QUEUED',
        { ':cancelled': 'CANCELLED', ':t': true, ':ttl': this.expiry() },
      );
      if (cancelled !== undefined) return { outcome: 'cancelled', task: cancelled };
      const flagged = await attempt('SET cancelRequested = :t, updatedAt = :now', 'RUNNING', { ':t': true });
      if (flagged !== undefined) return { outcome: 'flagged', task: flagged };
      const current = await this.get(taskId);
      if (current === undefined) return undefined;
      // No worker holds a waiting task: the caller cancels it with its approval (ApprovalStore.cancelWaiting).
      if (current.status === 'WAITING_APPROVAL') return { outcome: 'waiting', task: current };
      if (current.status !== 'QUEUED' && current.status !== 'RUNNING') return { outcome: 'terminal', task: current };
    }
    const current = await this.require(taskId);
    return { outcome: 'terminal', task: current };
  }

  /** Record the completion webhook's outcome on a finished task. */
  async recordWebhook(taskId: string, delivery: WebhookDelivery): Promise<void> {
    await this.client.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: taskPk(taskId), sk: META_SK },
        UpdateExpression: 'SET webhook = :w',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':w': delivery },
      }),
    );
  }

  /** Record the `approval_requested` webhook's outcome, if the task still waits for that approval. */
  async recordApprovalWebhook(taskId: string, approvalId: string, delivery: WebhookDelivery): Promise<boolean> {
    return conditionHeld(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: taskPk(taskId), sk: META_SK },
          UpdateExpression: 'SET approvalWebhook = :w',
          ConditionExpression: 'pendingApproval.approvalId = :id',
          ExpressionAttributeValues: { ':w': { ...delivery, approvalId }, ':id': approvalId },
        }),
      ),
    );
  }

  /**
   * Record a terminal status for a task that is not terminal yet. Fenced writers (the worker)
   * use the checkpoint log's transaction instead; this path is for failures outside any lease:
   * a message that reached the DLQ without the worker's help (the DLQ sweeper).
   */
  async finishUnfenced(taskId: string, status: TerminalStatus, fields: Partial<TaskRecord>): Promise<boolean> {
    const now = this.now();
    const update = terminalUpdate(status, fields, now.toISOString(), this.expiry());
    return conditionHeld(() =>
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: taskPk(taskId), sk: META_SK },
          ...update,
          ConditionExpression: `attribute_exists(pk) AND ${update.ConditionExpression}`,
        }),
      ),
    );
  }
}
