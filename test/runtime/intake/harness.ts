import type { AgentVersion } from '../../../runtime/src/shared/agent-version';
import { ReceiveMessageCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes, randomUUID } from 'node:crypto';
import { approvalEntryPut, approvalIdFor } from '../../../runtime/src/shared/approvals';
import { ApiKeyAuthenticator } from '../../../runtime/src/intake/api-keys';
import { hashApiKey, type ApiKeyEntry } from '../../../runtime/src/shared/api-keys';
import { createIntakeHandler, type IntakeOptions } from '../../../runtime/src/intake/app';
import { CallbackUrlPolicy } from '../../../runtime/src/shared/callback-url-policy';
import { listen, type RunningServer } from '../../../runtime/src/shared/http';
import { silentLogger } from '../../../runtime/src/shared/logger';
import { DEFAULT_TASK_RETENTION_DAYS } from '../../../runtime/src/shared/task-retention';
import { TaskStore } from '../../../runtime/src/shared/task-store';
import { createTestAws, type TestAws } from '../../support/aws';

export interface TestKey {
  readonly token: string;
  readonly entry: ApiKeyEntry;
}

export function makeKey(name: string, overrides: Partial<Omit<ApiKeyEntry, 'name' | 'sha256'>> = {}): TestKey {
  const token = `ocl_${randomBytes(18).toString('base64url')}`;
  return { token, entry: { name, sha256: hashApiKey(token), maxPriority: 'normal', ratePerMinute: 60_000, ...overrides } };
}

export interface IntakeHarness {
  readonly aws: TestAws;
  readonly server: RunningServer;
  readonly url: string;
  readonly store: TaskStore;
  /** `entitled` carries entitlements (a tool allowlist and budgets); `approver` may decide approvals; the others carry none. */
  readonly keys: Record<'standard' | 'vip' | 'slow' | 'other' | 'entitled' | 'approver', TestKey>;
  /** fetch against the intake with a key's bearer token and JSON content type. */
  call(path: string, init?: { method?: string; body?: unknown; key?: TestKey; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

/** The `entitled` key's entitlements. */
export const ENTITLED: NonNullable<ApiKeyEntry['entitlements']> = {
  tools: ['calculator'],
  budgets: { default: { maxSteps: 20, maxCostUsd: 1 }, ceiling: { maxSteps: 50, maxCostUsd: 5, maxDurationSeconds: 3600 } },
};

/** Every hostname resolves to one public address, so tests never depend on real DNS. */
export const publicResolver = async (): Promise<readonly string[]> => ['93.184.216.34'];

/**
 * An intake on port 0 against the shared emulators, with fresh tables and queues. `sqs` lets a
 * test wrap the real client (e.g. to fail SendMessage once).
 */
export async function startIntake(
  overrides: Partial<Omit<IntakeOptions, 'dynamo' | 'queues' | 'auth'>> & {
    wrapSqs?: (sqs: SQSClient) => SQSClient;
    wrapDynamo?: (dynamo: DynamoDBDocumentClient) => DynamoDBDocumentClient;
  } = {},
): Promise<IntakeHarness> {
  const aws = await createTestAws();
  const keys = {
    standard: makeKey('standard'),
    vip: makeKey('vip', { maxPriority: 'high' }),
    slow: makeKey('slow', { ratePerMinute: 6 }),
    other: makeKey('other'),
    entitled: makeKey('entitled', { entitlements: ENTITLED }),
    approver: makeKey('approver', { entitlements: { canApprove: true } }),
  };
  const { wrapSqs, wrapDynamo, ...rest } = overrides;
  const server = await listen(
    createIntakeHandler({
      dynamo: wrapDynamo !== undefined ? wrapDynamo(aws.dynamo) : aws.dynamo,
      sqs: wrapSqs !== undefined ? wrapSqs(aws.sqs) : aws.sqs,
      tableName: aws.resources.tasksTable,
      queues: aws.resources.queues,
      auth: new ApiKeyAuthenticator(Object.values(keys).map((k) => k.entry)),
      logger: silentLogger,
      callbackPolicy: new CallbackUrlPolicy({ resolver: publicResolver }),
      taskRetentionDays: DEFAULT_TASK_RETENTION_DAYS,
      ...rest,
    }),
    0,
    silentLogger,
    '127.0.0.1',
  );
  const store = new TaskStore({ client: aws.dynamo, tableName: aws.resources.tasksTable });
  return {
    aws,
    server,
    url: server.url,
    store,
    keys,
    call: (path, init = {}) =>
      fetch(`${server.url}${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          authorization: `Bearer ${(init.key ?? keys.standard).token}`,
          ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...init.headers,
        },
        ...(init.body !== undefined ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
      }),
    close: async () => {
      await server.close();
      aws.destroy();
    },
  };
}

/** Receive every message currently in a queue (they stay invisible afterwards) and return their task IDs. */
export async function drainTaskIds(sqs: SQSClient, queueUrl: string): Promise<string[]> {
  const ids: string[] = [];
  let emptyPolls = 0;
  // fauxqs (like SQS) may answer empty while messages remain; two empty polls in a row end the drain.
  while (emptyPolls < 2) {
    const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 300 }));
    const messages = out.Messages ?? [];
    emptyPolls = messages.length === 0 ? emptyPolls + 1 : 0;
    for (const m of messages) ids.push((JSON.parse(m.Body ?? '{}') as { taskId: string }).taskId);
  }
  return ids;
}

/** Fails SendMessage `failures.remaining` times, otherwise passes every call to the real client. */
export function failingSendMessage(sqs: SQSClient, failures: { remaining: number }): SQSClient {
  return new Proxy(sqs, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
      return (command: unknown, ...rest: unknown[]) => {
        if (command instanceof SendMessageCommand && failures.remaining > 0) {
          failures.remaining -= 1;
          return Promise.reject(Object.assign(new Error('injected: SQS is unavailable'), { name: 'ServiceUnavailable' }));
        }
        return (target.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
      };
    },
  });
}

/**
 * A task row waiting for an approval, as a worker's suspend leaves it (row plus registry entry),
 * without running a worker. Returns the task and approval IDs.
 */
export async function seedWaitingTask(
  h: Pick<IntakeHarness, 'aws' | 'store'>,
  options: { submittedBy?: string; expiresInMs?: number; taskId?: string; agentVersion?: AgentVersion } = {},
): Promise<{ taskId: string; approvalId: string; expiresAt: string }> {
  const taskId = options.taskId ?? randomUUID();
  const now = Date.now();
  const approvalId = approvalIdFor(`${taskId}/toolu_seed`);
  const pending = {
    approvalId,
    tool: 'publish_announcement',
    input: { audience: 'everyone', text: 'hello' },
    requestedAt: new Date(now).toISOString(),
    expiresAt: new Date(now + (options.expiresInMs ?? 3_600_000)).toISOString(),
  };
  const task = { taskId, status: 'WAITING_APPROVAL' as const, priority: 'normal' as const, ...(options.agentVersion !== undefined ? { agentVersion: options.agentVersion } : {}), prompt: 'seeded [approval]', submittedBy: options.submittedBy ?? 'approver', pendingApproval: pending, createdAt: pending.requestedAt, updatedAt: pending.requestedAt };
  await h.store.create(task);
  const put = approvalEntryPut(h.aws.resources.tasksTable, task, pending, DEFAULT_TASK_RETENTION_DAYS).Put;
  await h.aws.dynamo.send(new PutCommand(put));
  return { taskId, approvalId, expiresAt: pending.expiresAt };
}
