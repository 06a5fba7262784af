import { MAX_TASK_BODY_BYTES } from '../../../runtime/src/shared/task-size';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { IdempotencyStore, sha256Hex } from '../../../runtime/src/intake/idempotency';
import { buildOpenApiDocument } from '../../../runtime/src/intake/openapi';
import { KeyRateLimiter } from '../../../runtime/src/intake/rate-limiter';
import { canonicalJson, submitTaskSchema } from '../../../runtime/src/intake/task-input';
import { errorBodySchema, healthSchema, taskAcceptedSchema, taskViewSchema } from '../../../runtime/src/intake/task-view';
import { failingSendMessage, seedWaitingTask, startIntake, type IntakeHarness } from './harness';

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> }>> };

const BY_COMPONENT: Record<string, z.ZodType> = { Task: taskViewSchema, TaskAccepted: taskAcceptedSchema, Error: errorBodySchema, Health: healthSchema };

describe('OpenAPI document', () => {
  const doc = buildOpenApiDocument() as unknown as Doc;
  let h: IntakeHarness;
  let broken: IntakeHarness;
  let noQueue: IntakeHarness;

  // The slow key's bucket holds one request; moving this clock a minute on refills it.
  let clock = Date.now();

  beforeAll(async () => {
    h = await startIntake({ rateLimiter: new KeyRateLimiter({ now: () => clock }) });
    // The 503s: one intake whose table does not exist, one whose queue refuses every SendMessage.
    broken = await startIntake({ tableName: 'no-such-table' });
    noQueue = await startIntake({ wrapSqs: (sqs) => failingSendMessage(sqs, { remaining: Number.MAX_SAFE_INTEGER }) });
  });
  afterAll(async () => {
    await Promise.all([h.close(), broken.close(), noQueue.close()]);
  });

  it('GIVEN the zod schemas WHEN the document is generated THEN it equals the checked-in openapi.json (regenerate with write-openapi.ts)', () => {
    const checkedIn = JSON.parse(readFileSync(join(__dirname, '../../../runtime/src/intake/openapi.json'), 'utf8')) as unknown;
    expect(checkedIn).toEqual(doc);
  });

  it('GIVEN the running intake THEN /openapi.json serves the same document', async () => {
    const res = await fetch(`${h.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(doc);
  });

  const submitted = async (body: unknown = { prompt: 'doc' }) =>
    taskAcceptedSchema.parse(await (await h.call('/v1/tasks', { body })).json()).taskId;

  /** One request per documented (method, path, status); the test below demands they match exactly. */
  const scenarios: Record<string, () => Promise<Response>> = {
    'post /v1/tasks 202': () => h.call('/v1/tasks', { body: { prompt: 'ok' } }),
    'post /v1/tasks 400': () => h.call('/v1/tasks', { body: { prompt: 7 } }),
    'post /v1/tasks 401': () => fetch(`${h.url}/v1/tasks`, { method: 'POST' }),
    'post /v1/tasks 403': () => h.call('/v1/tasks', { body: { prompt: 'x', priority: 'high' } }),
    'post /v1/tasks 409': async () => {
      const body = { prompt: 'in progress' };
      const key = `busy-${Date.now()}`;
      const other = new IdempotencyStore({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable });
      await other.claim('standard', key, sha256Hex(canonicalJson(submitTaskSchema.parse(body))), 'held-elsewhere');
      return h.call('/v1/tasks', { body, headers: { 'idempotency-key': key } });
    },
    'post /v1/tasks 413': () => h.call('/v1/tasks', { body: { prompt: 'x'.repeat(MAX_TASK_BODY_BYTES) } }),
    'post /v1/tasks 415': () => h.call('/v1/tasks', { body: 'prompt=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    'post /v1/tasks 422': async () => {
      const headers = { 'idempotency-key': `reuse-${Date.now()}` };
      await h.call('/v1/tasks', { body: { prompt: 'a' }, headers });
      return h.call('/v1/tasks', { body: { prompt: 'b' }, headers });
    },
    'post /v1/tasks 429': async () => {
      await h.call('/v1/tasks', { body: { prompt: 'a' }, key: h.keys.slow });
      return h.call('/v1/tasks', { body: { prompt: 'a' }, key: h.keys.slow });
    },
    'post /v1/tasks 503': () => noQueue.call('/v1/tasks', { body: { prompt: 'no queue' } }),
    'get /v1/tasks/{taskId} 200': async () => h.call(`/v1/tasks/${await submitted()}`),
    'get /v1/tasks/{taskId} 401': () => fetch(`${h.url}/v1/tasks/x`, { headers: { authorization: 'Bearer nope' } }),
    'get /v1/tasks/{taskId} 404': () => h.call('/v1/tasks/missing'),
    'get /v1/tasks/{taskId} 429': async () => {
      await h.call('/v1/tasks/x', { key: h.keys.slow });
      return h.call('/v1/tasks/x', { key: h.keys.slow });
    },
    'delete /v1/tasks/{taskId} 202': async () => h.call(`/v1/tasks/${await submitted()}`, { method: 'DELETE' }),
    'delete /v1/tasks/{taskId} 401': () => fetch(`${h.url}/v1/tasks/x`, { method: 'DELETE' }),
    'delete /v1/tasks/{taskId} 404': () => h.call('/v1/tasks/missing', { method: 'DELETE' }),
    'delete /v1/tasks/{taskId} 409': async () => {
      const taskId = await submitted();
      await h.call(`/v1/tasks/${taskId}`, { method: 'DELETE' });
      return h.call(`/v1/tasks/${taskId}`, { method: 'DELETE' });
    },
    'delete /v1/tasks/{taskId} 429': async () => {
      await h.call('/v1/tasks/x', { key: h.keys.slow, method: 'DELETE' });
      return h.call('/v1/tasks/x', { key: h.keys.slow, method: 'DELETE' });
    },
    'post /v1/tasks/{taskId}/approvals/{approvalId} 200': async () => {
      const t = await seedWaitingTask(h);
      return h.call(`/v1/tasks/${t.taskId}/approvals/${t.approvalId}`, { body: { decision: 'approve' }, key: h.keys.approver });
    },
    'post /v1/tasks/{taskId}/approvals/{approvalId} 400': async () => {
      const t = await seedWaitingTask(h);
      return h.call(`/v1/tasks/${t.taskId}/approvals/${t.approvalId}`, { body: { decision: 'perhaps' }, key: h.keys.approver });
    },
    'post /v1/tasks/{taskId}/approvals/{approvalId} 401': () => fetch(`${h.url}/v1/tasks/x/approvals/apr_000000000000000000000000`, { method: 'POST' }),
    'post /v1/tasks/{taskId}/approvals/{approvalId} 403': () => h.call('/v1/tasks/x/approvals/apr_000000000000000000000000', { body: { decision: 'approve' } }),
    'post /v1/tasks/{taskId}/approvals/{approvalId} 404': () => h.call('/v1/tasks/missing/approvals/apr_000000000000000000000000', { body: { decision: 'approve' }, key: h.keys.approver }),
    'post /v1/tasks/{taskId}/approvals/{approvalId} 409': async () => {
      const t = await seedWaitingTask(h, { expiresInMs: -1 });
      return h.call(`/v1/tasks/${t.taskId}/approvals/${t.approvalId}`, { body: { decision: 'approve' }, key: h.keys.approver });
    },
    'post /v1/tasks/{taskId}/approvals/{approvalId} 415': async () => {
      const t = await seedWaitingTask(h);
      return h.call(`/v1/tasks/${t.taskId}/approvals/${t.approvalId}`, { body: 'decision=approve', key: h.keys.approver, headers: { 'content-type': 'text/plain' } });
    },
    'post /v1/tasks/{taskId}/approvals/{approvalId} 429': async () => {
      await h.call('/v1/tasks/x/approvals/apr_000000000000000000000000', { key: h.keys.slow, body: { decision: 'approve' } });
      return h.call('/v1/tasks/x/approvals/apr_000000000000000000000000', { key: h.keys.slow, body: { decision: 'approve' } });
    },
    'get /health 200': () => fetch(`${h.url}/health`),
    'get /ready 200': () => fetch(`${h.url}/ready`),
    'get /ready 503': () => fetch(`${broken.url}/ready`),
    'get /openapi.json 200': () => fetch(`${h.url}/openapi.json`),
  };

  const documented = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).flatMap(([method, op]) => Object.keys(op.responses).map((status) => `${method} ${path} ${status}`)),
  );

  it('GIVEN the document THEN every documented response has a scenario and every scenario is documented', () => {
    expect(Object.keys(scenarios).sort()).toEqual([...documented].sort());
  });

  it.each(documented)('%s: the implementation answers with that status and a body matching the documented schema', async (key) => {
    const [method, path, status] = key.split(' ') as [string, string, string];
    clock += 60_000;
    const scenario = scenarios[key];
    if (scenario === undefined) throw new Error(`no scenario for ${key}`);
    const res = await scenario();
    expect(`${method} ${path} ${res.status}`).toBe(key);
    const ref = doc.paths[path]?.[method]?.responses[status]?.content?.['application/json']?.schema?.$ref;
    const body: unknown = await res.json();
    if (ref !== undefined) {
      const schema = BY_COMPONENT[ref.replace('#/components/schemas/', '')];
      if (schema === undefined) throw new Error(`no zod schema for ${ref}`);
      expect(schema.safeParse(body).error).toBeUndefined();
    }
  });
});
