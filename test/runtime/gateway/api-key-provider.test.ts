import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { SecretUnavailableError, secretsManagerKeyProvider } from '../../../runtime/src/gateway/api-key-provider';

// Secrets Manager has no emulator; aws-sdk-client-mock stands in for it (allowed by the project brief).
const ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:anthropic-key-AbCdEf';

describe('Secrets Manager key provider', () => {
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());

  it('GIVEN a cached key WHEN read again within the TTL THEN Secrets Manager is called once; after the TTL it is re-read (rotation)', async () => {
    let t = 0;
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'sk-ant-one' }).resolves({ SecretString: 'sk-ant-two' });
    const keys = secretsManagerKeyProvider({ client: new SecretsManagerClient({ region: 'us-east-1' }), secretArn: ARN, ttlMs: 1000, now: () => t });
    expect(await keys.get()).toBe('sk-ant-one');
    t = 999;
    expect(await keys.get()).toBe('sk-ant-one');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    t = 1000;
    expect(await keys.get()).toBe('sk-ant-two');
    expect(sm.commandCalls(GetSecretValueCommand)[0]?.args[0].input).toEqual({ SecretId: ARN });
  });

  it('GIVEN a 401 upstream WHEN refresh is called THEN the secret is re-read at once, and concurrent callers share one read', async () => {
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'sk-ant-old' }).resolves({ SecretString: JSON.stringify({ apiKey: 'sk-ant-new' }) });
    const keys = secretsManagerKeyProvider({ client: new SecretsManagerClient({ region: 'us-east-1' }), secretArn: ARN });
    expect(await keys.get()).toBe('sk-ant-old');
    const [a, b] = await Promise.all([keys.refresh(), keys.refresh()]);
    expect([a, b]).toEqual(['sk-ant-new', 'sk-ant-new']);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('GIVEN a secret without a usable key WHEN read THEN the error names the secret and the fix, never a value', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ key: 'sk-ant-wrong-field' }) });
    const keys = secretsManagerKeyProvider({ client: new SecretsManagerClient({ region: 'us-east-1' }), secretArn: ARN });
    const err = await keys.get().then(
      () => undefined,
      (e: unknown) => e as SecretUnavailableError,
    );
    expect(err).toBeInstanceOf(SecretUnavailableError);
    expect(err?.message).toContain('"apiKey"');
    expect(err?.message).not.toContain('sk-ant-wrong-field');
  });

  it('GIVEN a revoked key WHEN 50 calls get 401 within the cooldown THEN the secret is re-read at most once per cooldown', async () => {
    let t = 0;
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'sk-ant-revoked' });
    const keys = secretsManagerKeyProvider({ client: new SecretsManagerClient({ region: 'us-east-1' }), secretArn: ARN, refreshCooldownMs: 30_000, now: () => t });
    await keys.get();
    for (let i = 0; i < 50; i += 1) {
      t = i * 500; // 50 refreshes over 25 s
      expect(await keys.refresh()).toBe('sk-ant-revoked');
    }
    // One read at start, one refresh in the 30 s window.
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
    t = 30_000;
    await keys.refresh();
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(3);
  });
});
