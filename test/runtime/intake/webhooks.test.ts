import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CallbackUrlPolicy } from '../../../runtime/src/shared/callback-url-policy';
import { silentLogger } from '../../../runtime/src/shared/logger';
import type { TaskRecord } from '../../../runtime/src/shared/task-model';
import { TaskStore } from '../../../runtime/src/shared/task-store';
import {
  DELIVERY_HEADER,
  SIGNATURE_HEADER,
  WebhookNotifier,
  pinnedTransport,
  signWebhook,
  verifyWebhookSignature,
  type WebhookNotifierOptions,
} from '../../../runtime/src/shared/webhooks';
import { createTestAws, type TestAws } from '../../support/aws';

const SECRET = 'whsec_0123456789abcdef0123456789abcdef';

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A receiver on loopback that answers each request with the next scripted status. */
async function startReceiver(statuses: number[]) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/hook`, port, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('WebhookNotifier against a loopback receiver and DynamoDB Local', () => {
  let aws: TestAws;
  let store: TaskStore;
  let n = 0;

  beforeAll(async () => {
    aws = await createTestAws();
    store = new TaskStore({ client: aws.dynamo, tableName: aws.resources.tasksTable });
  });
  afterAll(() => aws.destroy());

  async function finishedTask(callbackUrl: string, submittedBy = 'client', status: 'SUCCEEDED' | 'RUNNING' = 'SUCCEEDED'): Promise<string> {
    const taskId = `wh-${Date.now()}-${(n += 1)}`;
    const at = new Date().toISOString();
    const task: TaskRecord = { taskId, status: 'QUEUED', priority: 'normal', prompt: 'p', callbackUrl, submittedBy, createdAt: at, updatedAt: at, metadata: { ref: '42' } };
    await store.create(task);
    await store.markRunning(taskId);
    if (status === 'SUCCEEDED') await store.finishUnfenced(taskId, 'SUCCEEDED', { result: 'the answer', steps: 3 });
    return taskId;
  }

  function notifier(overrides: Partial<WebhookNotifierOptions> = {}) {
    const delays: number[] = [];
    const n = new WebhookNotifier({
      store,
      secretFor: (name) => (name === 'client' ? SECRET : undefined),
      logger: silentLogger,
      policy: new CallbackUrlPolicy({ allowHttpHosts: ['127.0.0.1'] }),
      random: () => 0.5,
      sleep: async (ms) => {
        delays.push(ms);
      },
      ...overrides,
    });
    return { n, delays };
  }

  it('GIVEN a receiver failing twice WHEN notified THEN it retries with jittered backoff, signs every attempt and records DELIVERED', async () => {
    const receiver = await startReceiver([503, 500, 204]);
    try {
      const taskId = await finishedTask(receiver.url);
      const { n, delays } = notifier();
      const outcome = await n.notify(taskId);
      expect(outcome).toMatchObject({ status: 'DELIVERED', attempts: 3, lastStatusCode: 204 });
      expect(delays).toEqual([250, 500]); // random 0.5 under ceilings 500 and 1000 ms
      expect(receiver.received).toHaveLength(3);
      const now = Math.floor(Date.now() / 1000);
      for (const r of receiver.received) {
        expect(verifyWebhookSignature(SECRET, String(r.headers[SIGNATURE_HEADER]), r.body, now)).toBe(true);
        expect(verifyWebhookSignature('another-secret-another-secret-xx', String(r.headers[SIGNATURE_HEADER]), r.body, now)).toBe(false);
        expect(verifyWebhookSignature(SECRET, String(r.headers[SIGNATURE_HEADER]), `${r.body} `, now)).toBe(false);
        expect(r.headers[DELIVERY_HEADER]).toBe(taskId);
      }
      expect(JSON.parse(receiver.received[0]?.body ?? '{}')).toMatchObject({ event: 'task.finished', taskId, status: 'SUCCEEDED', result: 'the answer', steps: 3, metadata: { ref: '42' } });
      expect((await store.get(taskId))?.webhook).toMatchObject({ status: 'DELIVERED', attempts: 3, lastStatusCode: 204 });

      // Recorded once: a second notify (a redelivered message) sends nothing.
      expect(await n.notify(taskId)).toBeUndefined();
      expect(receiver.received).toHaveLength(3);
    } finally {
      await receiver.close();
    }
  });

  it('GIVEN a signature older than the tolerance THEN verification fails', () => {
    const header = signWebhook(SECRET, '{}', 1000);
    expect(verifyWebhookSignature(SECRET, header, '{}', 1000 + 299)).toBe(true);
    expect(verifyWebhookSignature(SECRET, header, '{}', 1000 + 301)).toBe(false);
  });

  it('GIVEN a receiver answering 400 THEN it is not retried and FAILED is recorded with the status', async () => {
    const receiver = await startReceiver([400]);
    try {
      const taskId = await finishedTask(receiver.url);
      expect(await notifier().n.notify(taskId)).toMatchObject({ status: 'FAILED', attempts: 1, lastStatusCode: 400 });
      expect(receiver.received).toHaveLength(1);
    } finally {
      await receiver.close();
    }
  });

  it('GIVEN a receiver that is down THEN it gives up after maxAttempts with the network error recorded', async () => {
    const receiver = await startReceiver([]);
    await receiver.close();
    const taskId = await finishedTask(receiver.url);
    const outcome = await notifier({ maxAttempts: 3 }).n.notify(taskId);
    expect(outcome).toMatchObject({ status: 'FAILED', attempts: 3, lastError: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('GIVEN a host that resolved publicly at submission but privately at delivery THEN nothing is sent and FAILED is recorded', async () => {
    const taskId = await finishedTask('https://hooks.example.com/hook');
    const transport = jest.fn(async () => 200);
    const { n } = notifier({ policy: new CallbackUrlPolicy({ resolver: async () => ['10.0.0.7'] }), transport });
    expect(await n.notify(taskId)).toMatchObject({ status: 'FAILED', attempts: 1, lastError: expect.stringMatching(/resolves to a private/) });
    expect(transport).not.toHaveBeenCalled();
  });

  it('GIVEN a key without a webhook secret THEN nothing unsigned is sent', async () => {
    const transport = jest.fn(async () => 200);
    const taskId = await finishedTask('http://127.0.0.1:9/hook', 'no-secret');
    expect(await notifier({ transport }).n.notify(taskId)).toMatchObject({ status: 'FAILED', attempts: 0, lastError: expect.stringMatching(/no webhook-signing key/) });
    expect(transport).not.toHaveBeenCalled();
  });

  it('GIVEN a task that is still running THEN notify does nothing', async () => {
    const transport = jest.fn(async () => 200);
    const taskId = await finishedTask('http://127.0.0.1:9/hook', 'client', 'RUNNING');
    expect(await notifier({ transport }).n.notify(taskId)).toBeUndefined();
    expect(transport).not.toHaveBeenCalled();
  });

  it('GIVEN a hostname WHEN the pinned transport sends THEN it connects to the checked address, not to what DNS says now', async () => {
    const receiver = await startReceiver([200]);
    try {
      // ".invalid" never resolves (RFC 6761): the request can only arrive through the pinned address.
      const url = new URL(`http://hooks.invalid:${receiver.port}/hook`);
      const status = await pinnedTransport({ target: { url, address: '127.0.0.1', family: 4 }, headers: { 'content-type': 'application/json' }, body: '{}', timeoutMs: 2000 });
      expect(status).toBe(200);
      expect(receiver.received[0]?.headers.host).toBe(`hooks.invalid:${receiver.port}`);
    } finally {
      await receiver.close();
    }
  });
});
