import { SendMessageCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import type { QueueUrls } from '../shared/config';
import { HttpError, errorMessage } from '../shared/errors';
import { readBody, sendJson, type Handler } from '../shared/http';
import type { Logger } from '../shared/logger';
import type { TaskMessage, TaskRecord } from '../shared/task-model';
import { TaskStore } from '../shared/task-store';
import { describeIssues } from '../shared/zod-issues';
import type { ApiKeyAuthenticator } from './api-keys';
import { submitTaskSchema } from './task-input';

export interface IntakeOptions {
  readonly dynamo: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly tableName: string;
  readonly queues: QueueUrls;
  readonly auth: ApiKeyAuthenticator;
  readonly logger: Logger;
  /** @default 256 KiB */
  readonly maxBodyBytes?: number;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** @default crypto.randomUUID */
  readonly newId?: () => string;
}

const TASK_PATH = /^\/v1\/tasks\/([A-Za-z0-9-]{1,64})$/;

/** The public view of a task: everything but internal bookkeeping. */
function view(task: TaskRecord) {
  const { cancelRequested, submittedBy: _by, ...rest } = task;
  return { ...rest, ...(cancelRequested === true ? { cancelRequested } : {}) };
}

export function createIntakeHandler(options: IntakeOptions): Handler {
  const store = new TaskStore({ client: options.dynamo, tableName: options.tableName, ...(options.now !== undefined ? { now: options.now } : {}) });
  const now = options.now ?? (() => new Date());
  const newId = options.newId ?? randomUUID;
  const maxBody = options.maxBodyBytes ?? 256 * 1024;

  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';

    if (method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (method === 'GET' && path === '/ready') {
      try {
        await Promise.all([
          options.dynamo.send(new DescribeTableCommand({ TableName: options.tableName })),
          options.sqs.send(new GetQueueAttributesCommand({ QueueUrl: options.queues.normal, AttributeNames: ['QueueArn'] })),
        ]);
        return sendJson(res, 200, { status: 'ready' });
      } catch (err) {
        options.logger.warn('intake.not_ready', { error: errorMessage(err) });
        return sendJson(res, 503, { status: 'not_ready' });
      }
    }

    const caller = options.auth.authenticate(req.headers.authorization);

    if (method === 'POST' && path === '/v1/tasks') {
      const type = String(req.headers['content-type'] ?? '');
      if (!/^application\/json\b/i.test(type)) {
        throw new HttpError(415, 'unsupported_media_type', `Content-Type must be application/json (got "${type || 'none'}")`);
      }
      const raw = await readBody(req, maxBody);
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
      } catch {
        throw new HttpError(400, 'invalid_request_error', 'Body is not valid UTF-8 JSON');
      }
      const parsed = submitTaskSchema.safeParse(json);
      if (!parsed.success) throw new HttpError(400, 'invalid_request_error', `Invalid task: ${describeIssues(parsed.error)}`);
      const input = parsed.data;
      if (input.priority === 'high' && caller.maxPriority !== 'high') {
        throw new HttpError(403, 'permission_error', `API key "${caller.name}" may not submit priority "high"; use "normal" or ask for a key with high priority`);
      }
      const at = now().toISOString();
      const task: TaskRecord = {
        taskId: newId(),
        status: 'QUEUED',
        priority: input.priority,
        prompt: input.prompt,
        ...(input.metadata !== undefined ? { metadata: input.metadata } : {}),
        ...(input.callbackUrl !== undefined ? { callbackUrl: input.callbackUrl } : {}),
        submittedBy: caller.name,
        createdAt: at,
        updatedAt: at,
      };
      await store.create(task);
      const message: TaskMessage = { taskId: task.taskId };
      await options.sqs.send(
        new SendMessageCommand({ QueueUrl: input.priority === 'high' ? options.queues.high : options.queues.normal, MessageBody: JSON.stringify(message) }),
      );
      options.logger.info('task.accepted', { taskId: task.taskId, priority: task.priority, key: caller.name });
      return sendJson(res, 202, { taskId: task.taskId, status: task.status, statusUrl: `/v1/tasks/${task.taskId}` }, { location: `/v1/tasks/${task.taskId}` });
    }

    const match = TASK_PATH.exec(path);
    if (match !== null) {
      const taskId = match[1] as string;
      if (method === 'GET') {
        const task = await store.get(taskId, false);
        if (task === undefined) throw new HttpError(404, 'not_found_error', `Task ${taskId} does not exist`);
        return sendJson(res, 200, view(task));
      }
      if (method === 'DELETE') {
        const task = await store.get(taskId);
        if (task === undefined) throw new HttpError(404, 'not_found_error', `Task ${taskId} does not exist`);
        const updated = await store.requestCancel(taskId);
        return sendJson(res, 202, view(updated));
      }
    }
    throw new HttpError(404, 'not_found_error', `No route for ${method} ${path}`);
  };
}
