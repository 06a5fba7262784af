/**
 * Durable human approval end to end on the local system (intake, workers, gateway, stub model,
 * emulators): a `requires_approval` call suspends the task without holding a worker or a message,
 * a person's decision resumes it on any worker, approval runs the tool exactly once, denial and
 * expiry give the model an error result, and the webhook announces the wait.
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { taskViewSchema, type TaskView } from '../../runtime/src/intake/task-view';
import { MutableCanaryShare } from '../../runtime/src/intake/canary-share';
import { InMemoryMetrics } from '../../runtime/src/shared/metrics';
import { METRICS } from '../../runtime/src/shared/metrics-contract';
import { LOCK_SK, taskPk } from '../../runtime/src/shared/task-model';
import { verifyWebhookSignature } from '../../runtime/src/shared/webhooks';
import { ANNOUNCEMENT_SK, announcementPk } from '../../runtime/src/worker/tools/publish-announcement';
import type { LocalSystem } from '../../tools/local/system';
import { CheckpointLog } from '../../runtime/src/worker/checkpoint-log';
import { eventually } from '../support/aws';
import { startTestSystem } from '../support/system';

interface Hook {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

function client(system: () => LocalSystem) {
  const auth = () => ({ authorization: `Bearer ${system().apiKey}` });
  return {
    async submit(prompt: string, extra: Record<string, unknown> = {}): Promise<string> {
      const res = await fetch(`${system().intakeUrl}/v1/tasks`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ prompt, ...extra }) });
      expect(res.status).toBe(202);
      return ((await res.json()) as { taskId: string }).taskId;
    },
    async get(taskId: string): Promise<TaskView> {
      return taskViewSchema.parse(await (await fetch(`${system().intakeUrl}/v1/tasks/${taskId}`, { headers: auth() })).json());
    },
    decide(taskId: string, approvalId: string, body: unknown): Promise<Response> {
      return fetch(`${system().intakeUrl}/v1/tasks/${taskId}/approvals/${approvalId}`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    },
    async until(taskId: string, statuses: readonly string[], what: string): Promise<TaskView> {
      return eventually(async () => {
        const view = await this.get(taskId);
        return statuses.includes(view.status) ? view : undefined;
      }, what, 30_000, 50);
    },
    /** How often publish_announcement ran for the call the result names (0 when it never did). */
    async published(idempotencyKey: string): Promise<number> {
      const out = await system().dynamo.send(new GetCommand({ TableName: system().resources.tasksTable, Key: { pk: announcementPk(idempotencyKey), sk: ANNOUNCEMENT_SK }, ConsistentRead: true }));
      return Number(out.Item?.['invocations'] ?? 0);
    },
  };
}

describe('human approval through the local system', () => {
  let system: LocalSystem;
  const hooks: Hook[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  let hookUrl: string;
  const api = client(() => system);

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    system = await startTestSystem('appr', { workers: 2, allowHttpCallbackHosts: ['127.0.0.1'] });
  });
  afterAll(async () => {
    await system.stop();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  const queueDepth = async () => {
    let total = 0;
    for (const url of [system.resources.queues.high, system.resources.queues.normal]) {
      const out = await system.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      total += Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
    }
    return total;
  };

  it('GIVEN [approval] WHEN the model calls the tool THEN the task waits with no lease and no message, the signed approval_requested webhook fires, and an approval runs the tool exactly once', async () => {
    const taskId = await api.submit(`publish it ${Date.now()} [approval]`, { callbackUrl: hookUrl });
    const waiting = await api.until(taskId, ['WAITING_APPROVAL', 'SUCCEEDED', 'FAILED'], 'the task to wait for approval');
    expect(waiting.status).toBe('WAITING_APPROVAL');
    const pending = waiting.pendingApproval;
    expect(pending).toMatchObject({ tool: 'publish_announcement', input: { audience: 'all customers' } });
    const expiresIn = Date.parse(pending?.expiresAt ?? '') - Date.parse(pending?.requestedAt ?? '');
    expect(expiresIn).toBe(24 * 3600 * 1000);
    // Nothing is held while a person decides: no message in flight or waiting (deleted right after the
    // webhook, once the wait is recorded), the lease released.
    await eventually(async () => ((await queueDepth()) === 0 ? true : undefined), 'the message to be deleted');
    const lock = await system.dynamo.send(new GetCommand({ TableName: system.resources.tasksTable, Key: { pk: taskPk(taskId), sk: LOCK_SK }, ConsistentRead: true }));
    expect(lock.Item?.['owner']).toBeUndefined();
    expect(lock.Item?.['expiresAt']).toBe(0);

    const requested = await eventually(async () => hooks.find((h) => h.headers['x-openclaw-event'] === 'approval_requested' && h.body.includes(taskId)), 'the approval_requested webhook');
    expect(verifyWebhookSignature(system.webhookSecret, String(requested.headers['x-openclaw-signature']), requested.body, Math.floor(Date.now() / 1000))).toBe(true);
    expect(requested.headers['x-openclaw-delivery']).toBe(`${taskId}/${pending?.approvalId}`);
    expect(JSON.parse(requested.body)).toMatchObject({ event: 'approval_requested', taskId, status: 'WAITING_APPROVAL', pendingApproval: pending, decisionUrl: `/v1/tasks/${taskId}/approvals/${pending?.approvalId}` });

    const res = await api.decide(taskId, pending?.approvalId ?? '', { decision: 'approve', reason: 'text checked' });
    expect(res.status).toBe(200);
    const done = await api.until(taskId, ['SUCCEEDED', 'FAILED'], 'the approved task to finish');
    expect(done.status).toBe('SUCCEEDED');
    expect(done.result).toMatch(/announcement published to all customers/);
    expect(done.decisions).toEqual([{ approvalId: pending?.approvalId, decision: 'approve', reason: 'text checked', decidedBy: 'local-dev', decidedAt: expect.any(String), requestedAt: expect.any(String) }]);
    const key = /\(([^()]+\/toolu_[^()]+)\)/.exec(done.result ?? '')?.[1] ?? '';
    expect(await api.published(key)).toBe(1);
    await eventually(async () => hooks.find((h) => h.headers['x-openclaw-event'] === 'task.finished' && h.body.includes(taskId)), 'the completion webhook');
  });

  it('GIVEN a waiting task WHEN a person denies it THEN the model gets an error tool result with the reason and the tool never runs', async () => {
    const prompt = `publish it ${Date.now()} [approval]`;
    const taskId = await api.submit(prompt);
    const waiting = await api.until(taskId, ['WAITING_APPROVAL'], 'the task to wait for approval');
    const approvalId = waiting.pendingApproval?.approvalId ?? '';
    expect((await api.decide(taskId, approvalId, { decision: 'deny', reason: 'wrong audience' })).status).toBe(200);
    const done = await api.until(taskId, ['SUCCEEDED', 'FAILED'], 'the denied task to finish');
    // The stub's answer quotes the tool result it was given: the denial and its reason.
    expect(done.result).toMatch(/tool "publish_announcement" was not run: a person denied the approval \(apr_[0-9a-f]{24}\); reason: wrong audience/);
    expect(done.decisions?.[0]).toMatchObject({ decision: 'deny', reason: 'wrong audience', decidedBy: 'local-dev' });
    // The model was asked twice: for the call, then with the denial as its one tool result.
    const steps = (system.stub?.calls ?? []).filter((c) => c.prompt === prompt).map((c) => c.toolResults);
    expect(steps).toEqual([0, 1]);
    // The checkpointed call's own key: never published.
    const steps0 = await new CheckpointLog({ client: system.dynamo, tableName: system.resources.tasksTable }).list(taskId);
    const use = (steps0[0]?.payload['content'] as { type: string; id?: string }[]).find((b) => b.type === 'tool_use');
    expect(use?.id).toMatch(/^toolu_/);
    expect(await api.published(`${taskId}/${use?.id ?? ''}`)).toBe(0);
  });

  it('GIVEN one approval POSTed twice at once WHEN both race THEN one wins (200), the other gets 409, and the side effect happens exactly once', async () => {
    const taskId = await api.submit(`publish it ${Date.now()} [approval]`);
    const waiting = await api.until(taskId, ['WAITING_APPROVAL'], 'the task to wait for approval');
    const approvalId = waiting.pendingApproval?.approvalId ?? '';
    const statuses = await Promise.all([api.decide(taskId, approvalId, { decision: 'approve' }), api.decide(taskId, approvalId, { decision: 'approve' })].map(async (r) => (await r).status));
    expect(statuses.sort()).toEqual([200, 409]);
    const done = await api.until(taskId, ['SUCCEEDED', 'FAILED'], 'the approved task to finish');
    expect(done.status).toBe('SUCCEEDED');
    const key = /\(([^()]+\/toolu_[^()]+)\)/.exec(done.result ?? '')?.[1] ?? '';
    expect(key.startsWith(`${taskId}/`)).toBe(true);
    expect(await api.published(key)).toBe(1);
    expect(done.decisions).toHaveLength(1);
  });
});

describe('an approval no one decides', () => {
  let system: LocalSystem;
  const metrics = new InMemoryMetrics();
  const api = client(() => system);

  beforeAll(async () => {
    system = await startTestSystem('apprx', { approvalTimeoutMs: 3000, approvalSweepMs: 200, metrics });
  });
  afterAll(async () => {
    await system.stop();
  });

  it('GIVEN no decision by expiresAt WHEN the sweep runs THEN it counts as a denial: recorded as expired, the model told so, a later decision is 409, and the pending gauges were published', async () => {
    const taskId = await api.submit(`publish it ${Date.now()} [approval]`);
    const waiting = await api.until(taskId, ['WAITING_APPROVAL'], 'the task to wait for approval');
    const approvalId = waiting.pendingApproval?.approvalId ?? '';
    await eventually(async () => (metrics.records.some((r) => r.name === METRICS.approvalsPending && r.value === 1) ? true : undefined), 'a sweep to count the pending approval');
    const done = await api.until(taskId, ['SUCCEEDED', 'FAILED'], 'the expired task to finish');
    expect(done.status).toBe('SUCCEEDED');
    expect(done.result).toMatch(/no one decided before the approval expired, which counts as a denial/);
    expect(done.decisions).toEqual([{ approvalId, decision: 'deny', reason: 'expired', decidedBy: 'system:expiry', decidedAt: expect.any(String), requestedAt: expect.any(String) }]);
    const late = await api.decide(taskId, approvalId, { decision: 'approve' });
    expect(late.status).toBe(409);
    expect(((await late.json()) as { error: { message: string } }).error.message).toMatch(/expired with no decision and counted as a denial/);
    expect(metrics.records.filter((r) => r.name === METRICS.approvalsExpired)).toHaveLength(1);
    const ages = metrics.records.filter((r) => r.name === METRICS.approvalOldestPendingSeconds).map((r) => r.value);
    expect(Math.max(...ages)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...ages)).toBeLessThanOrEqual(4);
  });
});

describe('an approval no one decides on the canary\'s candidate (npm start with a canary)', () => {
  let system: LocalSystem;
  const api = client(() => system);

  beforeAll(async () => {
    // Every task to the candidate; the stable pool's sweep is the only one (as for a candidate at zero in AWS).
    system = await startTestSystem('apprc', { approvalTimeoutMs: 3000, approvalSweepMs: 200, canary: { share: new MutableCanaryShare(100), workers: 1 } });
  });
  afterAll(async () => {
    await system.stop();
  });

  it('GIVEN a candidate task waiting for approval WHEN it expires THEN the stable sweep records the denial and queues it on the candidate\'s lane, where the candidate finishes it', async () => {
    const taskId = await api.submit(`publish it on the candidate ${Date.now()} [approval]`);
    const waiting = await api.until(taskId, ['WAITING_APPROVAL'], 'the candidate task to wait for approval');
    expect(waiting.agentVersion).toBe('candidate');
    const done = await api.until(taskId, ['SUCCEEDED', 'FAILED'], 'the expired candidate task to finish');
    expect(done).toMatchObject({ status: 'SUCCEEDED', agentVersion: 'candidate' });
    expect(done.decisions).toEqual([expect.objectContaining({ decision: 'deny', reason: 'expired', decidedBy: 'system:expiry' })]);
  });
});
