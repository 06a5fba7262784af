import { MAX_TASK_BODY_BYTES } from '../../../runtime/src/shared/task-size';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { taskAcceptedSchema, taskViewSchema } from '../../../runtime/src/intake/task-view';
import { createLogger } from '../../../runtime/src/shared/logger';
import { drainTaskIds, failingSendMessage, startIntake, type IntakeHarness } from './harness';

const errorOf = async (res: Response) => ((await res.json()) as { error: { type: string; message: string } }).error;

describe('intake API against DynamoDB Local and fauxqs', () => {
  let h: IntakeHarness;
  const failures = { remaining: 0 };

  beforeAll(async () => {
    h = await startIntake({ wrapSqs: (sqs) => failingSendMessage(sqs, failures) });
  });
  afterAll(async () => h.close());
  beforeEach(() => {
    failures.remaining = 0;
  });

  describe('submit and status', () => {
    it('GIVEN a prompt WHEN submitted THEN 202 with a status URL, the row is QUEUED and the message is on the normal queue', async () => {
      const res = await h.call('/v1/tasks', { body: { prompt: 'hello', metadata: { team: 'a' } } });
      expect(res.status).toBe(202);
      const body = taskAcceptedSchema.parse(await res.json());
      expect(res.headers.get('location')).toBe(body.statusUrl);
      // Row and message were written side by side before the 202; without an Idempotency-Key no
      // retry can come back to this row, so no enqueue marker is written.
      const row = await h.store.get(body.taskId);
      expect(row).toMatchObject({ status: 'QUEUED', prompt: 'hello', submittedBy: 'standard', metadata: { team: 'a' } });
      expect(row?.enqueuedAt).toBeUndefined();
      expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).toEqual([body.taskId]);

      const status = await h.call(body.statusUrl);
      expect(status.status).toBe(200);
      const view = taskViewSchema.parse(await status.json());
      expect(view).toMatchObject({ taskId: body.taskId, status: 'QUEUED', priority: 'normal' });
      expect(view).not.toHaveProperty('submittedBy');
      expect(view).not.toHaveProperty('enqueuedAt');
    });

    it('GIVEN structured input WHEN submitted THEN the agent prompt renders instructions and data and the input is kept', async () => {
      const res = await h.call('/v1/tasks', { body: { input: { instructions: 'Sum these', data: { numbers: [1, 2] } } } });
      expect(res.status).toBe(202);
      const { taskId } = taskAcceptedSchema.parse(await res.json());
      const view = taskViewSchema.parse(await (await h.call(`/v1/tasks/${taskId}`)).json());
      expect(view.prompt).toBe('Sum these\n\nInput (JSON):\n{"numbers":[1,2]}');
      expect(view.input).toEqual({ instructions: 'Sum these', data: { numbers: [1, 2] } });
      await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal);
    });

    it('GIVEN a key entitled to high priority WHEN it submits high THEN the message goes to the high queue', async () => {
      const res = await h.call('/v1/tasks', { body: { prompt: 'urgent', priority: 'high' }, key: h.keys.vip });
      expect(res.status).toBe(202);
      const { taskId } = taskAcceptedSchema.parse(await res.json());
      expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.high)).toEqual([taskId]);
    });

    it("GIVEN another key's task WHEN read or cancelled THEN 404, as if it did not exist", async () => {
      const { taskId } = taskAcceptedSchema.parse(await (await h.call('/v1/tasks', { body: { prompt: 'mine' } })).json());
      expect((await h.call(`/v1/tasks/${taskId}`, { key: h.keys.other })).status).toBe(404);
      expect((await h.call(`/v1/tasks/${taskId}`, { key: h.keys.other, method: 'DELETE' })).status).toBe(404);
      expect((await h.call('/v1/tasks/does-not-exist')).status).toBe(404);
      await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal);
    });
  });

  describe('authentication and entitlement', () => {
    it.each([
      ['no header', {}],
      ['a wrong key', { authorization: 'Bearer ocl_wrong' }],
      ['a non-bearer scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ])('GIVEN %s WHEN submitting THEN 401 with www-authenticate', async (_what, headers) => {
      const res = await fetch(`${h.url}/v1/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"prompt":"x"}' });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect((await errorOf(res)).type).toBe('authentication_error');
    });

    it('GIVEN a normal-priority key WHEN it asks for high THEN 403 naming the key and the allowed priority', async () => {
      const res = await h.call('/v1/tasks', { body: { prompt: 'x', priority: 'high' } });
      expect(res.status).toBe(403);
      expect((await errorOf(res)).message).toMatch(/"standard" may not submit priority "high"; use "normal"/);
    });

    it('GIVEN a key limited to 6 requests a minute WHEN it sends two at once THEN the second gets 429 with retry-after', async () => {
      expect((await h.call('/v1/tasks/none', { key: h.keys.slow })).status).toBe(404);
      const limited = await h.call('/v1/tasks/none', { key: h.keys.slow });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(limited.headers.get('retry-after-ms'))).toBeGreaterThan(0);
      expect((await errorOf(limited)).type).toBe('rate_limit_error');
    });
  });

  describe('validation', () => {
    it.each([
      ['an empty prompt', { prompt: '' }, /prompt: must not be empty/],
      ['neither prompt nor input', { priority: 'normal' }, /exactly one of "prompt"/],
      ['both prompt and input', { prompt: 'a', input: { instructions: 'b' } }, /exactly one of "prompt"/],
      ['an unknown field', { prompt: 'a', colour: 'red' }, /colour/],
      ['a wrong priority', { prompt: 'a', priority: 'urgent' }, /priority: /],
      ['a number for metadata values', { prompt: 'a', metadata: { n: 1 } }, /metadata\.n: /],
      ['an http callback', { prompt: 'a', callbackUrl: 'http://example.com/hook' }, /callbackUrl: callbackUrl must use https/],
      ['a metadata-service callback', { prompt: 'a', callbackUrl: 'https://169.254.169.254/latest' }, /private, loopback or link-local/],
      ['a loopback callback in hex', { prompt: 'a', callbackUrl: 'https://0x7f.1/hook' }, /private, loopback or link-local/],
      ['a localhost callback', { prompt: 'a', callbackUrl: 'https://localhost/hook' }, /internal name/],
      ['a too-long prompt', { prompt: 'x'.repeat(100_001) }, /prompt: must be at most 100000 characters/],
    ])('GIVEN %s WHEN submitting THEN 400 naming the field and the problem', async (_what, body, message) => {
      const res = await h.call('/v1/tasks', { body });
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error.type).toBe('invalid_request_error');
      expect(error.message).toMatch(message);
    });

    it('GIVEN invalid JSON, bad UTF-8 or deep nesting WHEN submitting THEN 400', async () => {
      expect((await h.call('/v1/tasks', { body: '{"prompt":' })).status).toBe(400);
      const badUtf8 = await fetch(`${h.url}/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${h.keys.standard.token}`, 'content-type': 'application/json' },
        body: Buffer.concat([Buffer.from('{"prompt":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
      });
      expect(badUtf8.status).toBe(400);
      const deep = await h.call('/v1/tasks', { body: `{"prompt":"a","metadata":${'['.repeat(5000)}${']'.repeat(5000)}}` });
      expect(deep.status).toBe(400);
      expect((await errorOf(deep)).message).toMatch(/nests deeper than 32/);
    });

    it('GIVEN a body over the limit WHEN submitting THEN 413; GIVEN text/plain THEN 415', async () => {
      const big = await h.call('/v1/tasks', { body: { prompt: 'x'.repeat(MAX_TASK_BODY_BYTES) } });
      expect(big.status).toBe(413);
      const plain = await h.call('/v1/tasks', { body: '{"prompt":"a"}', headers: { 'content-type': 'text/plain' } });
      expect(plain.status).toBe(415);
      expect((await errorOf(plain)).message).toMatch(/Content-Type must be application\/json \(got "text\/plain"\)/);
    });

    it('GIVEN a known path with the wrong method THEN 405 with allow', async () => {
      const res = await h.call('/v1/tasks', { method: 'PUT' });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    });
  });

  describe('idempotency', () => {
    it('GIVEN the same key and body twice THEN the same task comes back and only one message is queued', async () => {
      const headers = { 'idempotency-key': `k-${Date.now()}` };
      const first = await h.call('/v1/tasks', { body: { prompt: 'once', metadata: { a: '1', b: '2' } }, headers });
      // Same body with keys in another order: equal after canonicalisation.
      const second = await h.call('/v1/tasks', { body: { metadata: { b: '2', a: '1' }, prompt: 'once' }, headers });
      expect(first.status).toBe(202);
      expect(second.status).toBe(202);
      expect(second.headers.get('idempotent-replayed')).toBe('true');
      const a = taskAcceptedSchema.parse(await first.json());
      const b = taskAcceptedSchema.parse(await second.json());
      expect(b.taskId).toBe(a.taskId);
      expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).toEqual([a.taskId]);
    });

    it('GIVEN the same key with a different body THEN 422 naming the key and the fix', async () => {
      const headers = { 'idempotency-key': `k2-${Date.now()}` };
      expect((await h.call('/v1/tasks', { body: { prompt: 'one' }, headers })).status).toBe(202);
      const res = await h.call('/v1/tasks', { body: { prompt: 'two' }, headers });
      expect(res.status).toBe(422);
      expect((await errorOf(res)).message).toMatch(/was already used with a different request body.*use a new key/);
      await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal);
    });

    it('GIVEN the same key used by two different API keys THEN they do not collide', async () => {
      const headers = { 'idempotency-key': `shared-${Date.now()}` };
      const a = taskAcceptedSchema.parse(await (await h.call('/v1/tasks', { body: { prompt: 'a' }, headers })).json());
      const b = taskAcceptedSchema.parse(await (await h.call('/v1/tasks', { body: { prompt: 'b' }, headers, key: h.keys.other })).json());
      expect(b.taskId).not.toBe(a.taskId);
      await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal);
    });

    it('GIVEN an invalid Idempotency-Key THEN 400', async () => {
      const res = await h.call('/v1/tasks', { body: { prompt: 'a' }, headers: { 'idempotency-key': 'has space' } });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).message).toMatch(/Idempotency-Key must be/);
    });

    it('GIVEN SendMessage fails after the row is written WHEN the client retries with the same key THEN the same task is enqueued exactly once', async () => {
      const headers = { 'idempotency-key': `fault-${Date.now()}` };
      failures.remaining = 1;
      const failed = await h.call('/v1/tasks', { body: { prompt: 'survive the fault' }, headers });
      expect(failed.status).toBe(503);
      expect(failed.headers.get('retry-after')).toBe('1');
      expect((await errorOf(failed)).type).toBe('queue_unavailable');
      expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).toEqual([]);

      const retried = await h.call('/v1/tasks', { body: { prompt: 'survive the fault' }, headers });
      expect(retried.status).toBe(202);
      const { taskId } = taskAcceptedSchema.parse(await retried.json());
      expect((await h.store.get(taskId))?.enqueuedAt).toEqual(expect.any(String));
      expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).toEqual([taskId]);

      const again = taskAcceptedSchema.parse(await (await h.call('/v1/tasks', { body: { prompt: 'survive the fault' }, headers })).json());
      expect(again.taskId).toBe(taskId);
      expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).toEqual([]);
    });

    it('GIVEN SendMessage fails without an Idempotency-Key THEN 503 and the row is a not_accepted tombstone no worker runs', async () => {
      let id = 0;
      const ids: string[] = [];
      const local = await startIntake({
        wrapSqs: (sqs) => failingSendMessage(sqs, { remaining: 1 }),
        newId: () => {
          const next = `orphan-${Date.now()}-${(id += 1)}`;
          ids.push(next);
          return next;
        },
      });
      try {
        const res = await local.call('/v1/tasks', { body: { prompt: 'lost?' } });
        expect(res.status).toBe(503);
        expect(ids).toHaveLength(1);
        const raw = await local.aws.dynamo.send(new GetCommand({ TableName: local.aws.resources.tasksTable, Key: { pk: `TASK#${ids[0]}`, sk: 'META' } }));
        expect(raw.Item).toMatchObject({ status: 'FAILED', prompt: '', error: { type: 'not_accepted' } });
        // Its retention still runs out: the tombstone carries the TTL attribute.
        expect(raw.Item?.['ttl']).toEqual(expect.any(Number));
      } finally {
        await local.close();
      }
    });

    it('GIVEN the row write fails while the message goes out (no Idempotency-Key) THEN 503, and the sent message finds a tombstone, not a task', async () => {
      const ids: string[] = [];
      const local = await startIntake({
        wrapDynamo: (dynamo) => failingTaskRowPut(dynamo),
        newId: () => {
          const next = `early-${Date.now()}-${ids.length + 1}`;
          ids.push(next);
          return next;
        },
      });
      try {
        const res = await local.call('/v1/tasks', { body: { prompt: 'row lost' } });
        expect(res.status).toBe(503);
        expect((await errorOf(res)).type).toBe('store_unavailable');
        // The message was sent beside the failed write; a worker finds the tombstone and drops it.
        expect(await drainTaskIds(local.aws.sqs, local.aws.resources.queues.normal)).toEqual(ids);
        expect(await local.store.get(ids[0] as string)).toMatchObject({ status: 'FAILED', error: { type: 'not_accepted' } });
      } finally {
        await local.close();
      }
    });
  });

  describe('cancel', () => {
    const submit = async () => taskAcceptedSchema.parse(await (await h.call('/v1/tasks', { body: { prompt: 'to cancel' } })).json()).taskId;

    it('GIVEN a QUEUED task WHEN cancelled THEN it is CANCELLED at once and a worker would skip it', async () => {
      const taskId = await submit();
      const res = await h.call(`/v1/tasks/${taskId}`, { method: 'DELETE' });
      expect(res.status).toBe(202);
      expect(taskViewSchema.parse(await res.json())).toMatchObject({ status: 'CANCELLED', cancelRequested: true, finishedAt: expect.any(String) });
      expect(await h.store.markRunning(taskId)).toBeUndefined();
      await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal);
    });

    it('GIVEN a RUNNING task WHEN cancelled THEN it stays RUNNING with cancelRequested for the worker to honour', async () => {
      const taskId = await submit();
      await h.store.markRunning(taskId);
      const res = await h.call(`/v1/tasks/${taskId}`, { method: 'DELETE' });
      expect(res.status).toBe(202);
      expect(taskViewSchema.parse(await res.json())).toMatchObject({ status: 'RUNNING', cancelRequested: true });
      await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal);
    });

    it('GIVEN a finished task WHEN cancelled THEN 409 naming its status', async () => {
      const taskId = await submit();
      await h.store.markRunning(taskId);
      await h.store.finishUnfenced(taskId, 'SUCCEEDED', { result: 'done' });
      const res = await h.call(`/v1/tasks/${taskId}`, { method: 'DELETE' });
      expect(res.status).toBe(409);
      expect((await errorOf(res)).message).toMatch(/already finished with status SUCCEEDED/);
      await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal);
    });
  });

  describe('secrets in logs', () => {
    it('GIVEN accepted, refused and failing requests WHEN the intake logs them THEN no API key appears in any line', async () => {
      const lines: string[] = [];
      const logged = await startIntake({ logger: createLogger({}, { level: 'debug', write: (line) => void lines.push(line) }), wrapSqs: (sqs) => failingSendMessage(sqs, { remaining: 1 }) });
      try {
        const wrong = 'ocl_this-is-a-wrong-key-0123456789';
        await logged.call('/v1/tasks', { body: { prompt: 'enqueue fails' } });
        await logged.call('/v1/tasks', { body: { prompt: 'accepted' } });
        await logged.call('/v1/tasks', { body: { prompt: 'x', priority: 'high' } });
        await logged.call('/v1/tasks/none', { key: logged.keys.slow });
        await logged.call('/v1/tasks/none', { key: logged.keys.slow });
        await fetch(`${logged.url}/v1/tasks`, { method: 'POST', headers: { authorization: `Bearer ${wrong}` } });
        expect(lines.length).toBeGreaterThan(2);
        const all = lines.join('');
        for (const token of [...Object.values(logged.keys).map((k) => k.token), wrong]) expect(all).not.toContain(token);
        expect(all).toContain('intake.enqueue_failed');
      } finally {
        await logged.close();
      }
    });
  });

  describe('storage failures', () => {
    it('GIVEN the table does not answer WHEN submitting THEN 503 with retry-after, not 500', async () => {
      const broken = await startIntake({ tableName: 'no-such-table' });
      try {
        const res = await broken.call('/v1/tasks', { body: { prompt: 'x' } });
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('1');
        expect((await errorOf(res)).type).toBe('store_unavailable');
      } finally {
        await broken.close();
      }
    });
  });

  describe('health and readiness', () => {
    it('GIVEN DynamoDB and SQS answer THEN /health and /ready are 200', async () => {
      expect((await fetch(`${h.url}/health`)).status).toBe(200);
      expect(await (await fetch(`${h.url}/ready`)).json()).toEqual({ status: 'ready' });
    });

    it('GIVEN the table does not answer THEN /ready is 503 while /health stays 200', async () => {
      const broken = await startIntake({ tableName: 'no-such-table' });
      try {
        expect((await fetch(`${broken.url}/health`)).status).toBe(200);
        const ready = await fetch(`${broken.url}/ready`);
        expect(ready.status).toBe(503);
        expect(await ready.json()).toEqual({ status: 'not_ready' });
      } finally {
        await broken.close();
      }
    });
  });
});

/** Fails every new task row's PutItem (the tombstone's too would be a Put, so only `attribute_not_exists(pk)` puts fail). */
function failingTaskRowPut(dynamo: DynamoDBDocumentClient): DynamoDBDocumentClient {
  return new Proxy(dynamo, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
      return (command: unknown, ...rest: unknown[]) => {
        if (command instanceof PutCommand && command.input.Item?.['sk'] === 'META' && command.input.ConditionExpression === 'attribute_not_exists(pk)') {
          return Promise.reject(Object.assign(new Error('injected: DynamoDB is unavailable'), { name: 'InternalServerError' }));
        }
        return (target.send as (...args: unknown[]) => Promise<unknown>)(command, ...rest);
      };
    },
  });
}
