import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { toView } from '../../../runtime/src/intake/task-view';
import { InMemoryMetrics } from '../../../runtime/src/shared/metrics';
import { METRICS } from '../../../runtime/src/shared/metrics-contract';
import type { TaskRecord } from '../../../runtime/src/shared/task-model';
import type { Consumer } from '../../../runtime/src/worker/consumer';
import { anthropicModelClient } from '../../../runtime/src/worker/model-client';
import { classifyModelError, retryAfterMs, weatherDelaySeconds, type WeatherKind } from '../../../runtime/src/worker/provider-weather';
import { stubFailures, type StubOverride } from '../../../tools/local/stub-model';
import { eventually } from '../../support/aws';
import { startReplica, testLimits, type Replica } from '../gateway/harness';
import { createWorkerHarness, type WorkerHarness } from './harness';

const apiError = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  APIError.generate(status, body as object, undefined, new Headers(headers));
const errorBody = (type: string, details?: unknown) => ({ type: 'error', error: { type, message: type, ...(details !== undefined ? { details } : {}) } });

describe('classifyModelError: what is weather and what is the task', () => {
  const cases: [string, unknown, WeatherKind | undefined][] = [
    ['429 rate_limit_error', apiError(429, errorBody('rate_limit_error')), 'rate_limited'],
    ['429 with an unknown error type', apiError(429, errorBody('something_new')), 'rate_limited'],
    ['429 spend limit (provider error_code)', apiError(429, errorBody('rate_limit_error', { error_code: 'enforced_spend_limit_reached' })), 'spend_limited'],
    ["429 the gateway's spend_limited", apiError(429, errorBody('spend_limited')), 'spend_limited'],
    ['529 overloaded', apiError(529, errorBody('overloaded_error')), 'overloaded'],
    ['500', apiError(500, errorBody('api_error')), 'server_error'],
    ['502 (gateway: upstream unreachable)', apiError(502, errorBody('api_error')), 'server_error'],
    ['503 without x-should-retry', apiError(503, errorBody('overloaded_error')), 'server_error'],
    ['504 (gateway: upstream timeout)', apiError(504, errorBody('api_error')), 'server_error'],
    ['408', apiError(408, errorBody('timeout_error')), 'timeout'],
    ['401 authentication_error', apiError(401, errorBody('authentication_error')), 'auth_rejected'],
    ['403 permission_error', apiError(403, errorBody('permission_error')), 'auth_rejected'],
    ['a client timeout', new APIConnectionTimeoutError(), 'timeout'],
    ['the gateway unreachable', new APIConnectionError({ message: 'ECONNREFUSED' }), 'unreachable'],
    ['400 invalid_request_error (the task)', apiError(400, errorBody('invalid_request_error')), undefined],
    ['404 not_found_error (the task)', apiError(404, errorBody('not_found_error')), undefined],
    ['413 request_too_large (the task)', apiError(413, errorBody('request_too_large')), undefined],
    ['an abort (lease lost, drain deadline)', new APIUserAbortError(), undefined],
    ['a tool bug', new TypeError('x is undefined'), undefined],
  ];
  it.each(cases.map(([what, err, kind]) => ({ what, err, kind })))('GIVEN $what THEN $kind', ({ err, kind }) => {
    expect(classifyModelError(err)).toBe(kind);
  });

  it('GIVEN retry headers THEN retry-after-ms wins, then retry-after seconds or date', () => {
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '1500', 'retry-after': '9' }))).toBe(1500);
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }))).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after': new Date(10_000).toUTCString() }), 4000)).toBe(6000);
    expect(retryAfterMs(new Headers({}))).toBeUndefined();
  });

  it('GIVEN repeated weather hand-backs THEN the delay ceiling grows, never undercuts retry-after and stays within SQS limits', () => {
    const top = (n: number) => weatherDelaySeconds(n, undefined, { baseMs: 1000, maxMs: 60_000 }, () => 1);
    expect([0, 1, 2, 3, 10].map(top)).toEqual([1, 2, 4, 8, 60]);
    expect(weatherDelaySeconds(0, 7_500, {}, () => 0)).toBe(8);
    expect(weatherDelaySeconds(30, 5_000_000, {}, () => 1)).toBe(900);
  });
});

/** Every task row's view, as GET /v1/tasks/{id} answers it. */
async function views(h: WorkerHarness, ids: readonly string[]): Promise<ReturnType<typeof toView>[]> {
  return Promise.all(ids.map(async (id) => toView((await h.status(id)) as TaskRecord)));
}

async function dlqDepth(h: WorkerHarness): Promise<number> {
  const out = await h.aws.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: h.aws.resources.dlqUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
}

describe('provider weather against the emulators, the gateway and the stub provider', () => {
  /** What the stub provider does to a call now; undefined answers normally. */
  let weather: () => StubOverride | undefined = () => undefined;
  let h: WorkerHarness;
  let gateway: Replica;
  beforeAll(async () => {
    // As deployed: the DLQ after 5 receives; calls go through a gateway replica (SDK retries as deployed).
    h = await createWorkerHarness({ maxReceiveCount: 5, stub: { latencyMs: 1000, intercept: () => weather() } });
    gateway = await startReplica({ aws: h.aws, upstreamUrl: h.stub.url, limits: testLimits() });
  });
  afterAll(async () => {
    await h.close();
    await gateway.close();
  });

  const fleet = (n: number, metrics?: InMemoryMetrics): Consumer[] =>
    Array.from({ length: n }, () =>
      h.worker({
        model: anthropicModelClient({ baseURL: gateway.url }),
        weatherBackoff: { baseMs: 1000, maxMs: 20_000 },
        ...(metrics !== undefined ? { metrics } : {}),
      }),
    );

  it(
    'GIVEN a provider limit a tenth of demand for two minutes WHEN 60 tasks run on 8 workers THEN every task SUCCEEDED, the DLQ is empty and every attempts is 1',
    async () => {
      const workers = 8;
      const latencyMs = 1000;
      // Demand: 8 workers, each waiting 1 s per call = 8 calls/s. The provider allows a tenth: 4 per 5 s.
      const windowMs = 5000;
      const allowed = (workers * (1000 / latencyMs) * (windowMs / 1000)) / 10;
      const limitedMs = 120_000;
      const admitted: number[] = [];
      const rejected: number[] = [];
      let limitStart: number | undefined;
      weather = () => {
        const now = Date.now();
        limitStart ??= now;
        if (now - limitStart >= limitedMs) return undefined;
        while (admitted.length > 0 && (admitted[0] as number) <= now - windowMs) admitted.shift();
        if (admitted.length >= allowed) {
          rejected.push(now);
          return stubFailures.rateLimited(1);
        }
        admitted.push(now);
        return undefined;
      };
      const consumers = fleet(workers);
      const handBacks: string[] = [];
      const failures: string[] = [];
      for (const c of consumers) {
        c.events.on('provider_weather', (e) => handBacks.push(e.kind));
        c.events.on('task_failed', (e) => failures.push(e.error.message));
      }
      const ids: string[] = [];
      for (let i = 0; i < 60; i += 1) ids.push(await h.submit(`weather ${i} ${randomUUID()} [tools:1]`));
      await Promise.all(consumers.map((c) => c.start()));

      await eventually(
        async () => ((await views(h, ids)).every((v) => v.status === 'SUCCEEDED' || v.status === 'FAILED') ? true : undefined),
        'every task to finish',
        330_000,
        1000,
      );
      await Promise.all(consumers.map((c) => c.stop(5000)));
      weather = () => undefined;

      const final = await views(h, ids);
      expect(final.filter((v) => v.status !== 'SUCCEEDED')).toEqual([]);
      expect(final.map((v) => v.attempts)).toEqual(ids.map(() => 1));
      expect(await dlqDepth(h)).toBe(0);
      expect(failures).toEqual([]);
      // The limit bound for the whole two minutes: the provider was still refusing calls in its last 15 s.
      const start = limitStart as number;
      expect(rejected.some((t) => t >= start + limitedMs - 15_000)).toBe(true);
      expect(handBacks.length).toBeGreaterThan(0);
      expect(new Set(handBacks)).toEqual(new Set(['rate_limited']));
    },
    360_000,
  );

  it('GIVEN the provider rejects the key (401) WHEN tasks arrive THEN an operator metric fires, polling pauses, nothing fails, and once the key is fixed every task completes with attempts 1', async () => {
    let keyValid = false;
    weather = () => (keyValid ? undefined : { status: 401, body: errorBody('authentication_error'), headers: {} });
    const metrics = new InMemoryMetrics();
    const consumers = fleet(2, metrics);
    const pausedBy: string[] = [];
    const received: number[] = [];
    for (const c of consumers) {
      c.events.on('paused', (e) => pausedBy.push(e.reason));
      c.events.on('message_received', (e) => received.push(e.receiveCount));
    }
    const ids: string[] = [];
    for (let i = 0; i < 4; i += 1) ids.push(await h.submit(`bad key ${i} ${randomUUID()} [tools:1]`));
    await Promise.all(consumers.map((c) => c.start()));

    await eventually(async () => (metrics.find(METRICS.providerAuthRejected).length >= 1 ? true : undefined), 'the ProviderAuthRejected metric');
    await eventually(async () => (consumers.every((c) => c.gate.pausedBy.includes('provider_auth')) ? true : undefined), 'both workers to pause');
    // While paused, the workers only probe; the key stays bad for a while and nothing fails.
    const receivedWhilePaused = received.length;
    await new Promise((r) => setTimeout(r, 3000));
    expect(received.length).toBe(receivedWhilePaused);
    expect((await views(h, ids)).filter((v) => v.status === 'FAILED')).toEqual([]);

    // The operator sets the key (the gateway reads it; no redeploy): probes get through and work resumes.
    keyValid = true;
    await eventually(async () => ((await views(h, ids)).every((v) => v.status === 'SUCCEEDED') ? true : undefined), 'every task after the key was fixed', 60_000, 500);
    await Promise.all(consumers.map((c) => c.stop(5000)));
    expect((await views(h, ids)).map((v) => v.attempts)).toEqual([1, 1, 1, 1]);
    expect(await dlqDepth(h)).toBe(0);
    expect(pausedBy).toContain('provider_auth');
    // No receive moved toward the DLQ (attempts 1, DLQ empty above). Under a loaded machine a hand-back can
    // outlast the 10 s visibility once, so SQS's own count may show 2, never the harness's limit of 5.
    expect(received.filter((n) => n > 2)).toEqual([]);
  }, 120_000);
});
