import Anthropic from '@anthropic-ai/sdk';
import { startStubModel, stubFailures, type StubModel, type StubOverride } from '../../../tools/local/stub-model';
import type { ApiKeyProvider } from '../../../runtime/src/gateway/api-key-provider';
import { createTestAws, type TestAws } from '../../support/aws';
import { CountingMetrics, postMessage, startReplica, testLimits, type Replica } from './harness';

describe('gateway proxy: Anthropic-compatible pass-through with the SDK', () => {
  let aws: TestAws;
  let stub: StubModel;
  let gateway: Replica;
  let metrics: CountingMetrics;
  let next: StubOverride | undefined;
  const keysSeen: string[] = [];
  let currentKey = 'sk-ant-first';
  const keys: ApiKeyProvider = { get: async () => currentKey, refresh: async () => (currentKey = 'sk-ant-rotated') };

  beforeAll(async () => {
    aws = await createTestAws();
    stub = await startStubModel({
      intercept: (call) => {
        const key = call.headers['x-api-key'];
        keysSeen.push(String(key));
        if (key === 'sk-ant-stale') return { status: 401, body: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } } };
        const o = next;
        next = undefined;
        return o;
      },
    });
    metrics = new CountingMetrics();
    const limits = testLimits({
      tiers: {
        sonnet: { models: ['claude-sonnet-5'], rpm: 100_000, itpm: 100_000_000, otpm: 100_000_000 },
        haiku: { models: ['claude-haiku-5-5'], rpm: 100_000, itpm: 100_000_000, otpm: 100_000_000 },
        opus: { models: ['claude-opus-5'], rpm: 100_000, itpm: 100_000_000, otpm: 100_000_000 },
      },
    });
    gateway = await startReplica({ aws, upstreamUrl: stub.url, limits, metrics, keys });
  });
  afterAll(async () => {
    await gateway.close();
    await stub.close();
    aws.destroy();
  });

  const sdk = () => new Anthropic({ baseURL: gateway.url, apiKey: 'not-a-real-key', maxRetries: 0 });

  it('GIVEN the SDK with only baseURL changed WHEN it calls messages.create THEN the reply and the routing headers come back and the upstream saw the gateway key', async () => {
    const { data, response } = await sdk()
      .messages.create({ model: 'claude-sonnet-5', max_tokens: 200, messages: [{ role: 'user', content: 'hi [tools:0]' }] }, { headers: { 'x-openclaw-priority': 'high' } })
      .withResponse();
    expect(data.content[0]).toMatchObject({ type: 'text' });
    expect(data.usage.input_tokens).toBeGreaterThan(0);
    expect(response.headers.get('x-openclaw-model')).toBe('claude-sonnet-5');
    expect(response.headers.get('x-openclaw-tier')).toBe('sonnet');
    expect(response.headers.get('x-openclaw-lane')).toBe('high');
    expect(stub.calls.at(-1)?.headers['x-api-key']).toBe('sk-ant-first');
    expect(metrics.count('admitted:high')).toBeGreaterThanOrEqual(1);
  });

  it('GIVEN a streaming call WHEN the SDK reads it THEN events arrive through the gateway and the final message is whole', async () => {
    const stream = sdk().messages.stream({ model: 'claude-sonnet-5', max_tokens: 200, messages: [{ role: 'user', content: 'stream please [tools:0]' }] });
    const events: string[] = [];
    stream.on('streamEvent', (e) => events.push(e.type));
    const message = await stream.finalMessage();
    expect(events[0]).toBe('message_start');
    expect(events).toContain('content_block_delta');
    expect(events.at(-1)).toBe('message_stop');
    expect(message.content[0]).toMatchObject({ type: 'text', text: expect.stringContaining('Done after 0 tool calls') });
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it('GIVEN count_tokens WHEN called through the gateway THEN it passes through', async () => {
    const out = await sdk().messages.countTokens({ model: 'claude-sonnet-5', messages: [{ role: 'user', content: 'count me' }] });
    expect(out.input_tokens).toBeGreaterThan(0);
  });

  it('GIVEN a classification intent WHEN routed THEN the cheaper model answers and the headers say so', async () => {
    const { data, response } = await sdk()
      .messages.create({ model: 'claude-sonnet-5', max_tokens: 20, messages: [{ role: 'user', content: 'spam or not? [tools:0]' }] }, { headers: { 'x-openclaw-intent': 'classification' } })
      .withResponse();
    expect(data.model).toBe('claude-haiku-5-5');
    expect(stub.calls.at(-1)?.model).toBe('claude-haiku-5-5');
    expect(response.headers.get('x-openclaw-tier')).toBe('haiku');
  });

  it('GIVEN a rotated key WHEN the upstream answers 401 THEN the gateway refreshes the key once and succeeds', async () => {
    currentKey = 'sk-ant-stale';
    keysSeen.length = 0;
    const res = await postMessage(gateway.url);
    expect(res.status).toBe(200);
    expect(keysSeen).toEqual(['sk-ant-stale', 'sk-ant-rotated']);
  });

  it('GIVEN a spend-limit 429 WHEN it passes through THEN x-should-retry is false and the SDK does not retry', async () => {
    const before = stub.calls.length;
    next = stubFailures.spendLimit();
    const client = new Anthropic({ baseURL: gateway.url, apiKey: 'x', maxRetries: 2 });
    await expect(client.messages.create({ model: 'claude-sonnet-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({
      status: 429,
      error: { error: { details: { error_code: 'enforced_spend_limit_reached' } } },
    });
    expect(stub.calls.length - before).toBe(1);
    expect(metrics.count('upstream:spend_limit')).toBe(1);
  });

  it('GIVEN a stream that fails with an error event after 200 WHEN the SDK reads it THEN it raises the overloaded error and the gateway counts an upstream error', async () => {
    next = stubFailures.streamError();
    const stream = sdk().messages.stream({ model: 'claude-sonnet-5', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
    await expect(stream.finalMessage()).rejects.toThrow(/Overloaded/);
    expect(metrics.count('upstream:stream_error')).toBe(1);
  });

  it('GIVEN a stream whose connection breaks WHEN the SDK reads it THEN the caller sees an error, not a truncated success', async () => {
    next = stubFailures.brokenStream();
    const stream = sdk().messages.stream({ model: 'claude-sonnet-5', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
    await expect(stream.finalMessage()).rejects.toThrow();
    expect(metrics.count('upstream:broken_stream')).toBe(1);
  });

  it('GIVEN a 529 WHEN it passes through THEN the caller gets the overloaded error and the breaker counts it', async () => {
    next = stubFailures.overloaded();
    const res = await postMessage(gateway.url);
    expect(res.status).toBe(529);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(metrics.count('upstream:status')).toBe(1);
  });

  it('GIVEN the provider answers 429 WHEN the next call comes THEN the gateway treats the shared bucket as empty and answers 429 itself without calling upstream', async () => {
    next = stubFailures.rateLimited(2);
    const first = await postMessage(gateway.url, { model: 'claude-opus-5' });
    expect(first.status).toBe(429);
    expect(first.headers.get('retry-after')).toBe('2');
    const before = stub.calls.length;
    const second = await postMessage(gateway.url, { model: 'claude-opus-5', headers: { 'x-stainless-timeout': '0.2' } });
    expect(second.status).toBe(429);
    expect(await second.json()).toMatchObject({ type: 'error', error: { type: 'rate_limit_error' } });
    expect(Number(second.headers.get('retry-after-ms'))).toBeGreaterThan(0);
    expect(stub.calls.length).toBe(before);
  });

  it('GIVEN an upstream that does not answer in time WHEN called THEN 504 in the provider shape, counted as an upstream timeout', async () => {
    const slow = await startReplica({ aws, upstreamUrl: stub.url, limits: testLimits({ upstreamTimeoutMs: 200 }), metrics });
    try {
      next = stubFailures.slow(600);
      const res = await postMessage(slow.url);
      expect(res.status).toBe(504);
      expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('200 ms') } });
      expect(metrics.count('upstream:timeout')).toBe(1);
    } finally {
      await slow.close();
    }
  });

  it('GIVEN bad input WHEN posted THEN 400 in the provider error shape names the fix', async () => {
    const lane = await postMessage(gateway.url, { priority: 'urgent' });
    expect(lane.status).toBe(400);
    expect(await lane.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('high, normal, batch') } });
    const json = await fetch(`${gateway.url}/v1/messages`, { method: 'POST', body: '{nope' });
    expect(json.status).toBe(400);
  });
});
