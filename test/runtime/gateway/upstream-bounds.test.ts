import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { secretsManagerKeyProvider } from '../../../runtime/src/gateway/api-key-provider';
import { startStubModel, type StubModel } from '../../../tools/local/stub-model';
import { createTestAws, type TestAws } from '../../support/aws';
import { CountingMetrics, postMessage, startReplica, testLimits, type Replica } from './harness';
import { readText, startSlowUpstream, type SlowUpstream } from './slow-upstream';

describe('gateway bounds on the upstream: idle bodies and streams, key re-reads after 401', () => {
  let aws: TestAws;
  let slow: SlowUpstream;
  let gateway: Replica;
  let metrics: CountingMetrics;

  beforeAll(async () => {
    aws = await createTestAws();
    slow = await startSlowUpstream();
    metrics = new CountingMetrics();
    gateway = await startReplica({ aws, upstreamUrl: slow.url, limits: testLimits({ upstreamIdleTimeoutMs: 400 }), metrics });
  });
  afterAll(async () => {
    await gateway.close();
    await slow.close();
    aws.destroy();
  });

  it('GIVEN a stream that falls silent after its headers WHEN the idle timeout passes THEN the caller sees the stream cut and the breaker counts it', async () => {
    slow.next = { kind: 'stall-stream' };
    const started = Date.now();
    const res = await postMessage(gateway.url, { stream: true });
    expect(res.status).toBe(200);
    await expect(readText(res)).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
    expect(metrics.count('upstream:idle_timeout')).toBe(1);
  });

  it('GIVEN a body that stalls halfway WHEN the idle timeout passes THEN 504 in the provider shape names the silence', async () => {
    slow.next = { kind: 'stall-body' };
    const res = await postMessage(gateway.url);
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringContaining('400 ms') } });
    expect(metrics.count('upstream:idle_timeout')).toBe(2);
  });

  it('GIVEN a stream slower in total than the idle timeout but never silent that long WHEN relayed THEN it arrives whole', async () => {
    slow.next = { kind: 'stream', events: 8, everyMs: 150 };
    const res = await postMessage(gateway.url, { stream: true });
    const text = await readText(res);
    expect(text).toContain('part8');
    expect(text).toContain('message_stop');
  });
});

describe('gateway with a revoked key (Secrets Manager mocked: it has no emulator)', () => {
  const sm = mockClient(SecretsManagerClient);
  let aws: TestAws;
  let stub: StubModel;
  let gateway: Replica;

  beforeAll(async () => {
    aws = await createTestAws();
    stub = await startStubModel({ intercept: () => ({ status: 401, body: { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } } }) });
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'sk-ant-revoked' });
    const keys = secretsManagerKeyProvider({ client: new SecretsManagerClient({ region: 'us-east-1' }), secretArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:k', refreshCooldownMs: 60_000 });
    gateway = await startReplica({ aws, upstreamUrl: stub.url, limits: testLimits(), keys });
  });
  afterAll(async () => {
    await gateway.close();
    await stub.close();
    sm.restore();
    aws.destroy();
  });

  it('GIVEN every call answered 401 WHEN 30 calls pass through THEN each caller gets the 401 and Secrets Manager is read at most once more within the cooldown', async () => {
    const statuses = [];
    for (let i = 0; i < 30; i += 1) statuses.push((await postMessage(gateway.url)).status);
    expect(statuses.every((s) => s === 401)).toBe(true);
    // The first read, then one re-read after the first 401; none for the other 29.
    expect(sm.commandCalls(GetSecretValueCommand).length).toBeLessThanOrEqual(2);
    // And no second upstream call with the same revoked key.
    expect(stub.calls.length).toBe(30);
  });
});
