import { SendMessageCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { QueueUrls } from '../shared/config';
import { CallbackUrlPolicy, CallbackUrlRejectedError } from '../shared/callback-url-policy';
import { HttpError, errorMessage } from '../shared/errors';
import { readBody, sendJson, type Handler } from '../shared/http';
import type { Logger } from '../shared/logger';
import type { TaskMessage, TaskRecord } from '../shared/task-model';
import { taskTraceContext } from '../shared/spans';
import { TASK_ROW_WRITE_DEADLINE_MS, traceMessageAttributes } from '../shared/task-message';
import { TaskStore, TaskTooLargeError, type StorableTask } from '../shared/task-store';
import { MAX_TASK_BODY_BYTES } from '../shared/task-size';
import { describeIssues } from '../shared/zod-issues';
import { definedBudget, resolveBudget } from '../shared/task-budget';
import type { ApiKeyEntry } from '../shared/api-keys';
import { IMPLICIT_AGENT_NAME, describeAgents, resolveAgent, type AgentDirectory } from '../shared/agent-profiles';
import type { Authenticator } from './api-keys';
import { IdempotencyStore, parseIdempotencyKey, sha256Hex, type Claim } from './idempotency';
import { openApiDocument } from './openapi';
import { KeyRateLimiter, type RateLimiter } from './rate-limiter';
import { MAX_JSON_DEPTH, canonicalJson, exceedsDepth, renderPrompt, submitTaskSchema, type SubmitTaskInput } from './task-input';
import { accepted, toView } from './task-view';
import { CanaryRouter } from './canary-router';
import { MessageBatches } from './message-batches';
import { TaskRowInserts } from '../shared/task-row-inserts';
import { APPROVAL_PATH, ApprovalRoutes } from './approvals';
import { ApprovalStore } from '../shared/approvals';
import { trace } from '@opentelemetry/api';
import { OPENCLAW } from '../shared/spans';

export interface IntakeOptions {
  readonly dynamo: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly tableName: string;
  readonly queues: QueueUrls;
  readonly auth: Authenticator;
  readonly logger: Logger;
  /**
   * Extra conditions for /ready: each answers why the intake cannot serve yet (e.g. its API-key
   * secret is not set), or undefined. /health stays 200 meanwhile, so ECS keeps the task.
   * @default none
   */
  readonly readyChecks?: readonly (() => Promise<string | undefined>)[];
  /**
   * Days a task row is kept after it is created or cancelled (TASK_RETENTION_DAYS); a row whose
   * message was never sent expires after this. Required so the deployed value reaches the store.
   */
  readonly taskRetentionDays: number;
  /** @default MAX_TASK_BODY_BYTES (derived from DynamoDB's item limit; see shared/task-size.ts) */
  readonly maxBodyBytes?: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** @default crypto.randomUUID */
  readonly newId?: () => string;
  /** Decides which callback URLs are acceptable (https, public addresses). @default new CallbackUrlPolicy() */
  readonly callbackPolicy?: CallbackUrlPolicy;
  /**
   * Per-key request rate. main.ts passes a `SharedKeyRateLimiter` on the tasks table so the rate
   * holds across replicas; tests and single-process runs may keep the in-memory default.
   * @default a KeyRateLimiter (in memory, per process) on the system clock
   */
  readonly rateLimiter?: RateLimiter;
  /** Idempotency records; tests shorten the in-progress window. @default an IdempotencyStore on the tasks table */
  readonly idempotency?: IdempotencyStore;
  /** Agent canary: which version runs a new task and its lanes. @default every task to `queues` (no canary) */
  readonly router?: CanaryRouter;
  /** The agents a task may name (INTAKE_AGENTS), the default and their default budgets. @default one agent, `default` */
  readonly agents?: AgentDirectory;
  /**
   * Group-commit the accept path's writes (INTAKE_BATCH_WRITES): rows and messages submitted while
   * earlier ones are in flight go out together (TransactWriteItems, SendMessageBatch), each task
   * still answered only when its own row and message are in. A lone task is written as before.
   * An object sets how many writes of each kind may be in flight before arrivals start to batch.
   * @default true (4 row writes and 4 sends per queue in flight)
   */
  readonly batchWrites?: boolean | { readonly rowsInFlight?: number; readonly messagesInFlight?: number };
}

/** Sockets per AWS client in the deployed intake (main.ts) and its bench: a few hundred submissions in flight. */
export const INTAKE_MAX_SOCKETS = 256;

const TASK_PATH = /^\/v1\/tasks\/([A-Za-z0-9-]{1,64})$/;
const JSON_TYPE = /^application\/json\s*(;\s*charset=utf-8\s*)?$/i;

const methodNotAllowed = (method: string, path: string, allow: string) =>
  new HttpError(405, 'method_not_allowed', `${method} is not supported on ${path}; use ${allow}`, {}, { allow });

const notFound = (taskId: string) => new HttpError(404, 'not_found_error', `Task ${taskId} does not exist`);

/** Parse, bound and validate the submission body; every failure is a 4xx naming what to fix. */
async function readSubmission(req: IncomingMessage, maxBody: number): Promise<SubmitTaskInput> {
  const type = String(req.headers['content-type'] ?? '');
  if (!JSON_TYPE.test(type)) {
    throw new HttpError(415, 'unsupported_media_type', `Content-Type must be application/json (got "${type.slice(0, 100) || 'none'}")`);
  }
  const raw = await readBody(req, maxBody);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    throw new HttpError(400, 'invalid_request_error', 'Body is not valid UTF-8 JSON');
  }
  if (exceedsDepth(json, MAX_JSON_DEPTH)) {
    throw new HttpError(400, 'invalid_request_error', `Body nests deeper than ${MAX_JSON_DEPTH} levels; flatten the input`);
  }
  const parsed = submitTaskSchema.safeParse(json);
  if (!parsed.success) throw new HttpError(400, 'invalid_request_error', `Invalid task: ${describeIssues(parsed.error)}`.slice(0, 2000));
  return parsed.data;
}

/**
 * The intake's HTTP API. A task is accepted (202) only after its row is written and its message is
 * in the queue; a failure in between is answered 503 and either undone (no Idempotency-Key) or
 * left for the client's retry with the same key, which re-enqueues the same task.
 */
export function createIntakeHandler(options: IntakeOptions): Handler {
  const clock = options.now;
  const batchWrites = options.batchWrites ?? true;
  const inFlight = typeof batchWrites === 'object' ? batchWrites : {};
  const messages = batchWrites !== false ? new MessageBatches({ sqs: options.sqs, ...(inFlight.messagesInFlight !== undefined ? { maxInFlight: inFlight.messagesInFlight } : {}) }) : undefined;
  const store = new TaskStore({
    client: options.dynamo,
    tableName: options.tableName,
    retentionDays: options.taskRetentionDays,
    ...(batchWrites !== false
      ? { inserts: new TaskRowInserts({ client: options.dynamo, tableName: options.tableName, ...(inFlight.rowsInFlight !== undefined ? { maxInFlight: inFlight.rowsInFlight } : {}) }) }
      : {}),
    ...(clock !== undefined ? { now: () => clock().getTime() } : {}),
  });
  const now = options.now ?? (() => new Date());
  const newId = options.newId ?? randomUUID;
  const maxBody = options.maxBodyBytes ?? MAX_TASK_BODY_BYTES;
  const policy = options.callbackPolicy ?? new CallbackUrlPolicy();
  const limiter = options.rateLimiter ?? new KeyRateLimiter();
  const idempotency = options.idempotency ?? new IdempotencyStore({ client: options.dynamo, tableName: options.tableName });
  const logger = options.logger;
  const router = options.router ?? new CanaryRouter({ stable: options.queues });
  const agents = options.agents ?? { agents: [{ name: IMPLICIT_AGENT_NAME, default: true }], defaultAgent: IMPLICIT_AGENT_NAME };
  const approvals = new ApprovalRoutes({
    approvals: new ApprovalStore({ client: options.dynamo, tableName: options.tableName, retentionDays: options.taskRetentionDays, ...(clock !== undefined ? { now: () => clock().getTime() } : {}) }),
    sqs: options.sqs,
    router,
    logger,
  });

  const authenticate = async (req: IncomingMessage): Promise<ApiKeyEntry> => {
    const caller = await options.auth.authenticate(req.headers.authorization);
    const decision = await limiter.take(caller.name, caller.ratePerMinute);
    if (!decision.allowed) {
      logger.warn('intake.rate_limited', { key: caller.name });
      throw new HttpError(
        429,
        'rate_limit_error',
        `API key "${caller.name}" is over its rate of ${caller.ratePerMinute} requests per minute; retry after ${decision.retryAfterMs} ms`,
        {},
        { 'retry-after': String(Math.ceil(decision.retryAfterMs / 1000)), 'retry-after-ms': String(decision.retryAfterMs) },
      );
    }
    return caller;
  };

  /**
   * Put the task's message on its queue and mark the row; on failure undo or leave it for the retry.
   * Without an Idempotency-Key nothing can retry into this row, so the marker is written after the
   * response (one round-trip less on the accept path).
   */
  const sendMessage = async (task: TaskRecord): Promise<void> => {
    const message: TaskMessage = { taskId: task.taskId };
    // The worker continues this request's trace from the message attributes.
    const attributes = traceMessageAttributes(taskTraceContext(task.taskId));
    const queueUrl = router.queueUrl(task.agentVersion, task.priority);
    const body = JSON.stringify(message);
    const hasAttributes = Object.keys(attributes).length > 0;
    if (messages !== undefined) {
      await messages.send({ queueUrl, body, ...(hasAttributes ? { attributes } : {}) });
      return;
    }
    await options.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, ...(hasAttributes ? { MessageAttributes: attributes } : {}) }));
  };

  const enqueue = async (task: TaskRecord, undo: () => Promise<unknown>, awaitMarker: boolean): Promise<void> => {
    try {
      await sendMessage(task);
    } catch (err) {
      logger.error('intake.enqueue_failed', { taskId: task.taskId, error: errorMessage(err) });
      await undo().catch((undoErr: unknown) => logger.error('intake.undo_failed', { taskId: task.taskId, error: errorMessage(undoErr) }));
      throw new HttpError(503, 'queue_unavailable', 'The task could not be queued; retry (with the same Idempotency-Key, if you sent one)', { taskId: task.taskId }, { 'retry-after': '1' });
    }
    // The message is in the queue, so the task is accepted even if this marker write fails: the
    // marker only spares an idempotent retry a duplicate message (which the worker would skip).
    const marked = store.markEnqueued(task.taskId).catch((err: unknown) => logger.warn('intake.mark_enqueued_failed', { taskId: task.taskId, error: errorMessage(err) }));
    if (awaitMarker) await marked;
  };

  const tooLarge = (err: TaskTooLargeError) =>
    new HttpError(413, 'request_too_large', `Task takes ${err.sizeBytes} bytes as stored; the limit is ${err.limitBytes} bytes (a body of at most ${maxBody} bytes of text and objects always fits; long arrays of small numbers take more room): send less data`);

  /**
   * A task without an Idempotency-Key: nothing can retry into its row, so the row write and the
   * message go out at once (the accept waits for the slower of the two, not their sum). A worker
   * that receives the message before the row exists hands it back for up to TASK_ROW_WAIT_MS; the
   * write is abandoned after TASK_ROW_WRITE_DEADLINE_MS, well inside that wait, so an accepted task
   * always has its row by the time its message is given up on. On any failure the row becomes a
   * FAILED `not_accepted` tombstone (TaskStore.abandon; it also stops a write still on its way) and
   * the client gets a 503: a message already sent finds the tombstone or no row and is dropped. If
   * a worker has already started the task, both writes made it after all and the task is accepted.
   */
  const acceptNew = async (task: TaskRecord): Promise<TaskRecord> => {
    let row: StorableTask;
    try {
      row = store.storable(task);
    } catch (err) {
      if (err instanceof TaskTooLargeError) throw tooLarge(err);
      throw err;
    }
    const [stored, sent] = await Promise.allSettled([store.insert(row, { abortSignal: AbortSignal.timeout(TASK_ROW_WRITE_DEADLINE_MS) }), sendMessage(task)]);
    if (stored.status === 'fulfilled' && stored.value && sent.status === 'fulfilled') return task;
    if (stored.status === 'rejected') logger.error('intake.store_failed', { taskId: task.taskId, error: errorMessage(stored.reason) });
    if (sent.status === 'rejected') logger.error('intake.enqueue_failed', { taskId: task.taskId, error: errorMessage(sent.reason) });
    // A fresh random ID that already has a row is someone else's task: leave it alone. Otherwise
    // tombstone the row (it may still land late); if a worker already started it, both writes made it.
    if (!(stored.status === 'fulfilled' && !stored.value)) {
      const undo = await store.abandon(task).catch((undoErr: unknown) => {
        logger.error('intake.undo_failed', { taskId: task.taskId, error: errorMessage(undoErr) });
        return 'failed' as const;
      });
      if (undo === 'started') return task;
    }
    if (sent.status === 'rejected') throw new HttpError(503, 'queue_unavailable', 'The task could not be queued; retry', { taskId: task.taskId }, { 'retry-after': '1' });
    throw new HttpError(503, 'store_unavailable', 'The task could not be stored; retry', {}, { 'retry-after': '1' });
  };

  const submit = async (req: IncomingMessage, caller: ApiKeyEntry): Promise<{ task: TaskRecord; replayed: boolean }> => {
    const input = await readSubmission(req, maxBody);
    if (input.priority === 'high' && caller.maxPriority !== 'high') {
      throw new HttpError(403, 'permission_error', `API key "${caller.name}" may not submit priority "high"; use "normal" or ask for a key with high priority`);
    }
    if (input.callbackUrl !== undefined) {
      try {
        await policy.check(input.callbackUrl);
      } catch (err) {
        if (err instanceof CallbackUrlRejectedError) throw new HttpError(400, 'invalid_request_error', `Invalid task: callbackUrl: ${err.message}`);
        throw err;
      }
    }
    const agent = resolveAgent(agents, input.agent);
    if (agent === undefined) {
      throw new HttpError(400, 'invalid_request_error', `Invalid task: agent: ${JSON.stringify(input.agent)} is not an agent of this deployment; use one of ${describeAgents(agents)}, or leave it out for the default`);
    }
    const resolved = resolveBudget(input.budget === undefined ? undefined : definedBudget(input.budget), caller.entitlements?.budgets, agent.budget === undefined ? undefined : definedBudget(agent.budget));
    if ('overCeiling' in resolved) {
      const { field, requested, ceiling } = resolved.overCeiling;
      throw new HttpError(400, 'invalid_request_error', `Invalid task: budget.${field}: ${requested} is above this API key's ceiling of ${ceiling}; ask for at most ${ceiling} or leave it out`);
    }
    const key = parseIdempotencyKey(req.headers['idempotency-key']);
    // The agent as resolved: naming the default equals leaving it out (as with priority), and bodies
    // hashed before agents existed (no agent: the default) still match their retries.
    const hashed = { ...input, agent: agent.name === agents.defaultAgent ? undefined : agent.name };
    const claim: Claim | undefined = key === undefined ? undefined : await idempotency.claim(caller.name, key, sha256Hex(canonicalJson(hashed)), newId());
    if (claim?.kind === 'completed') {
      const existing = await store.get(claim.taskId);
      if (existing === undefined) throw notFound(claim.taskId);
      return { task: existing, replayed: true };
    }
    const at = now().toISOString();
    const taskId = claim?.taskId ?? newId();
    const agentVersion = await router.route(taskId);
    trace.getActiveSpan()?.setAttributes({ [OPENCLAW.agentVersion]: agentVersion, [OPENCLAW.agent]: agent.name });
    const task: TaskRecord = {
      taskId,
      status: 'QUEUED',
      priority: input.priority,
      agentVersion,
      agent: agent.name,
      prompt: renderPrompt(input),
      ...(input.input !== undefined ? { input: input.input } : {}),
      ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
      ...(input.callbackUrl !== undefined ? { callbackUrl: input.callbackUrl } : {}),
      submittedBy: caller.name,
      ...(caller.entitlements?.tools !== undefined ? { allowedTools: caller.entitlements.tools } : {}),
      ...(Object.keys(resolved.budget).length > 0 ? { budget: resolved.budget } : {}),
      createdAt: at,
      updatedAt: at,
    };
    if (claim === undefined) return { task: await acceptNew(task), replayed: false };
    // With a key, an earlier attempt may have written the row already: reuse it and finish its enqueue.
    let created: boolean;
    try {
      created = await store.create(task);
    } catch (err) {
      if (claim !== undefined) await idempotency.release(caller.name, key as string, claim.claimId).catch(() => false);
      if (err instanceof TaskTooLargeError) throw tooLarge(err);
      logger.error('intake.store_failed', { taskId: task.taskId, error: errorMessage(err) });
      throw new HttpError(503, 'store_unavailable', 'The task could not be stored; retry (with the same Idempotency-Key, if you sent one)', {}, { 'retry-after': '1' });
    }
    const row = created ? task : await store.get(task.taskId);
    if (row === undefined) throw new HttpError(503, 'conflict', 'Task row vanished during submission; retry', { taskId: task.taskId }, { 'retry-after': '1' });
    if (row.enqueuedAt === undefined) {
      const undo =
        claim === undefined
          ? () => store.deleteUnenqueued(task.taskId)
          : () => idempotency.release(caller.name, key as string, claim.claimId);
      await enqueue(row, undo, claim !== undefined);
    }
    if (claim !== undefined) {
      await idempotency.complete(caller.name, key as string, claim.claimId).catch((err: unknown) =>
        logger.warn('intake.idempotency_complete_failed', { taskId: task.taskId, error: errorMessage(err) }),
      );
    }
    return { task: row, replayed: !created };
  };

  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';

    if (path === '/health') {
      if (method !== 'GET') throw methodNotAllowed(method, path, 'GET');
      return sendJson(res, 200, { status: 'ok' });
    }
    if (path === '/ready') {
      if (method !== 'GET') throw methodNotAllowed(method, path, 'GET');
      const reasons = (await Promise.all((options.readyChecks ?? []).map((check) => check()))).filter((r): r is string => r !== undefined);
      if (reasons.length > 0) {
        logger.warn('intake.not_ready', { reasons });
        return sendJson(res, 503, { status: 'not_ready', reasons });
      }
      try {
        await Promise.all([
          options.dynamo.send(new DescribeTableCommand({ TableName: options.tableName })),
          options.sqs.send(new GetQueueAttributesCommand({ QueueUrl: options.queues.normal, AttributeNames: ['QueueArn'] })),
        ]);
        return sendJson(res, 200, { status: 'ready' });
      } catch (err) {
        logger.warn('intake.not_ready', { error: errorMessage(err) });
        return sendJson(res, 503, { status: 'not_ready' });
      }
    }
    if (path === '/openapi.json') {
      if (method !== 'GET') throw methodNotAllowed(method, path, 'GET');
      return sendJson(res, 200, openApiDocument());
    }

    if (path === '/v1/tasks') {
      if (method !== 'POST') throw methodNotAllowed(method, path, 'POST');
      const caller = await authenticate(req);
      const { task, replayed } = await submit(req, caller);
      logger.info(replayed ? 'task.replayed' : 'task.accepted', { taskId: task.taskId, priority: task.priority, agentVersion: task.agentVersion ?? 'stable', agent: task.agent, key: caller.name });
      return sendJson(res, 202, accepted(task), { location: `/v1/tasks/${task.taskId}`, ...(replayed ? { 'idempotent-replayed': 'true' } : {}) });
    }

    const approval = APPROVAL_PATH.exec(path);
    if (approval !== null) {
      if (method !== 'POST') throw methodNotAllowed(method, '/v1/tasks/{taskId}/approvals/{approvalId}', 'POST');
      const caller = await authenticate(req);
      approvals.assertMayApprove(caller);
      const taskId = approval[1] as string;
      const task = await store.get(taskId);
      // As for GET: another key's task looks exactly like a missing one.
      if (task === undefined || task.submittedBy !== caller.name) throw notFound(taskId);
      return sendJson(res, 200, toView(await approvals.decide(req, caller, task, approval[2] as string)));
    }

    const match = TASK_PATH.exec(path);
    if (match === null) throw new HttpError(404, 'not_found_error', `No route for ${method} ${path.slice(0, 200)}`);
    if (method !== 'GET' && method !== 'DELETE') throw methodNotAllowed(method, '/v1/tasks/{taskId}', 'GET, DELETE');
    const caller = await authenticate(req);
    const taskId = match[1] as string;
    // Strongly consistent: a client polling right after its 202 must not get a 404 from a lagging replica.
    const task = await store.get(taskId);
    // Another key's task looks exactly like a missing one: task IDs are not a capability to share.
    if (task === undefined || task.submittedBy !== caller.name) throw notFound(taskId);
    if (method === 'GET') return sendJson(res, 200, toView(task));

    let outcome = await store.cancel(taskId);
    if (outcome?.outcome === 'waiting') {
      const cancelled = await approvals.cancelWaiting(outcome.task);
      // Decided (or cancelled) meanwhile: cancel it as the status it has now.
      outcome = cancelled !== undefined ? { outcome: 'cancelled', task: cancelled } : await store.cancel(taskId);
    }
    if (outcome === undefined) throw notFound(taskId);
    if (outcome.outcome === 'terminal' || outcome.outcome === 'waiting') {
      throw new HttpError(409, 'conflict', `Task ${taskId} already finished with status ${outcome.task.status}; there is nothing to cancel`);
    }
    logger.info('task.cancel_requested', { taskId, outcome: outcome.outcome, key: caller.name });
    return sendJson(res, 202, toView(outcome.task));
  };
}
