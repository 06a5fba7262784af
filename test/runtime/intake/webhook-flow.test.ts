import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalSystem } from '../../../tools/local/system';
import { DELIVERY_HEADER, SIGNATURE_HEADER, verifyWebhookSignature } from '../../../runtime/src/shared/webhooks';
import { eventually } from '../../support/aws';
import { startTestSystem } from '../../support/system';

describe('completion webhook through the local system: intake -> worker -> notifier -> receiver', () => {
  let system: LocalSystem;
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      // The first delivery fails, so the recorded outcome shows the retry.
      res.writeHead(received.length === 1 ? 503 : 200).end();
    });
  });
  let hookUrl: string;

  beforeAll(async () => {
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    system = await startTestSystem('wh', { allowHttpCallbackHosts: ['127.0.0.1'] });
  });

  afterAll(async () => {
    await system.stop();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('GIVEN a task with a callbackUrl WHEN it succeeds THEN the receiver gets a signed webhook and the delivery is recorded on the task', async () => {
    const submit = await fetch(`${system.intakeUrl}/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'Multiply and note [tools:1]', callbackUrl: hookUrl }),
    });
    expect(submit.status).toBe(202);
    const { taskId } = (await submit.json()) as { taskId: string };

    const task = await eventually(async () => {
      const res = await fetch(`${system.intakeUrl}/v1/tasks/${taskId}`, { headers: { authorization: `Bearer ${system.apiKey}` } });
      const body = (await res.json()) as { status: string; webhook?: { status: string; attempts: number } };
      return body.webhook !== undefined ? body : undefined;
    }, 'the webhook outcome on the task', 45_000, 100);

    expect(task.status).toBe('SUCCEEDED');
    expect(task.webhook).toMatchObject({ status: 'DELIVERED', attempts: 2, lastStatusCode: 200 });
    expect(received).toHaveLength(2);
    const last = received[1] as { headers: IncomingHttpHeaders; body: string };
    expect(last.headers[DELIVERY_HEADER]).toBe(taskId);
    expect(verifyWebhookSignature(system.webhookSecret, String(last.headers[SIGNATURE_HEADER]), last.body, Math.floor(Date.now() / 1000))).toBe(true);
    expect(JSON.parse(last.body)).toMatchObject({ event: 'task.finished', taskId, status: 'SUCCEEDED', result: expect.any(String) });
  });
});
