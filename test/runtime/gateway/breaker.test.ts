import { startStubModel, stubFailures, type StubModel } from '../../../tools/local/stub-model';
import { createTestAws, eventually, type TestAws } from '../../support/aws';
import { CountingMetrics, postMessage, startReplica, testLimits, type Replica } from './harness';

const WINDOW_MS = 1000;
const OPEN_MS = 3000;
const REFRESH_MS = 100;

describe('circuit breaker shared by two replicas through DynamoDB Local', () => {
  let aws: TestAws;
  let stub: StubModel;
  let a: Replica;
  let b: Replica;
  let metricsA: CountingMetrics;
  let failing = true;

  beforeAll(async () => {
    aws = await createTestAws();
    stub = await startStubModel({ intercept: () => (failing ? stubFailures.overloaded() : undefined) });
    const limits = testLimits({ breaker: { windowMs: WINDOW_MS, minFailures: 5, openMs: OPEN_MS, refreshMs: REFRESH_MS } });
    metricsA = new CountingMetrics();
    a = await startReplica({ aws, upstreamUrl: stub.url, limits, metrics: metricsA });
    b = await startReplica({ aws, upstreamUrl: stub.url, limits });
  });
  afterAll(async () => {
    await Promise.all([a.close(), b.close()]);
    await stub.close();
    aws.destroy();
  });

  it('GIVEN errors persisting past the window WHEN more calls come THEN both replicas reject fast with 503, half-open with one probe, and close on success', async () => {
    // Fewer errors than the minimum leave the circuit closed.
    const started = Date.now();
    for (let i = 0; i < 3; i += 1) expect((await postMessage(a.url)).status).toBe(529);
    expect(await a.gateway.breaker.state('claude-sonnet-5')).toBe('closed');

    // Errors on both replicas that persist beyond the window open it.
    let opened = false;
    while (!opened && Date.now() - started < 15_000) {
      const answers = await Promise.all([postMessage(a.url), postMessage(b.url)]);
      opened = answers.some((res) => res.status === 503);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(opened).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(WINDOW_MS);

    // Open: both replicas refuse without calling upstream, in the provider's error shape.
    await new Promise((r) => setTimeout(r, REFRESH_MS * 2));
    const upstreamBefore = stub.calls.length;
    for (const replica of [a, b]) {
      const res = await postMessage(replica.url);
      expect(res.status).toBe(503);
      expect(res.headers.get('x-should-retry')).toBe('false');
      expect(Number(res.headers.get('retry-after-ms'))).toBeGreaterThan(0);
      expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error', message: expect.stringContaining('Circuit open') } });
    }
    expect(stub.calls.length).toBe(upstreamBefore);
    expect(metricsA.count('rejected:circuit_open')).toBeGreaterThanOrEqual(1);

    // Half-open with the upstream still failing: exactly one probe goes, fails, and the circuit opens again.
    await new Promise((r) => setTimeout(r, OPEN_MS + 50));
    const burst = await Promise.all([a, b, a, b, a, b].map((r) => postMessage(r.url)));
    expect(stub.calls.length - upstreamBefore).toBe(1);
    expect(burst.filter((r) => r.status === 529)).toHaveLength(1);
    expect(burst.filter((r) => r.status === 503)).toHaveLength(5);

    // Upstream recovers: the next probe succeeds and closes the circuit for both replicas.
    failing = false;
    await new Promise((r) => setTimeout(r, OPEN_MS + 50));
    const probe = await eventually(async () => {
      const res = await postMessage(b.url);
      return res.status === 200 ? res : undefined;
    }, 'a successful probe', 3000, 50);
    expect(probe.headers.get('x-openclaw-model')).toBe('claude-sonnet-5');
    await new Promise((r) => setTimeout(r, REFRESH_MS * 3));
    await postMessage(a.url); // let replica a's background refresh land
    await new Promise((r) => setTimeout(r, REFRESH_MS));
    expect((await postMessage(a.url)).status).toBe(200);
    expect(await a.gateway.breaker.state('claude-sonnet-5')).toBe('closed');
    expect(metricsA.circuitStates).toEqual(expect.arrayContaining(['open', 'closed']));
  });

  it('GIVEN one model failing WHEN another model is called THEN its circuit is unaffected', async () => {
    failing = false;
    const res = await postMessage(a.url, { model: 'claude-haiku-5-5' });
    expect(res.status).toBe(200);
  });
});
