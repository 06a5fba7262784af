import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { ApiKeyAuthenticator } from '../../../runtime/src/intake/api-keys';
import { apiKeySource, hashApiKey, parseApiKeys } from '../../../runtime/src/shared/api-keys';
import { ConfigError, HttpError } from '../../../runtime/src/shared/errors';
import { KeyRateLimiter } from '../../../runtime/src/intake/rate-limiter';

const entry = (name: string, key: string, extra: Record<string, unknown> = {}) => ({ name, sha256: hashApiKey(key), ...extra });

describe('API keys', () => {
  it('GIVEN a key list WHEN parsed THEN defaults apply and a webhook secret (now its own secret) is not kept', () => {
    const keys = parseApiKeys(JSON.stringify([entry('a', 'ka', { webhookSecret: 's'.repeat(32) }), entry('b', 'kb', { maxPriority: 'high', ratePerMinute: 5 })]), 'test');
    expect(keys).toEqual([
      { name: 'a', sha256: hashApiKey('ka'), maxPriority: 'normal', ratePerMinute: 600 },
      { name: 'b', sha256: hashApiKey('kb'), maxPriority: 'high', ratePerMinute: 5 },
    ]);
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['a plain-text key instead of its hash', JSON.stringify([{ name: 'a', sha256: 'secret' }]), /0\.sha256: must be 64 lowercase hex/],
    ['a duplicate name', JSON.stringify([entry('a', 'k1'), entry('a', 'k2')]), /lists the key name "a" twice/],
    ['an empty list', '[]', /invalid/],
  ])('GIVEN %s THEN a ConfigError names the problem', (_what, json, message) => {
    expect(() => parseApiKeys(json, 'test')).toThrow(ConfigError);
    expect(() => parseApiKeys(json, 'test')).toThrow(message);
  });

  it('GIVEN the list in Secrets Manager WHEN read twice within the cache THEN it is fetched once by ARN and parsed', async () => {
    const secrets = mockClient(SecretsManagerClient);
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:intake-keys';
    secrets.on(GetSecretValueCommand, { SecretId: arn }).resolves({ SecretString: JSON.stringify([entry('svc', 'k')]) });
    const source = apiKeySource({ secretArn: arn, secrets: new SecretsManagerClient({ region: 'us-east-1' }) });
    const first = await source.state();
    await source.state();
    expect(first.ready && first.value.map((k) => k.name)).toEqual(['svc']);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    secrets.restore();
  });

  it('GIVEN neither a secret nor JSON THEN the error says what to set', () => {
    expect(() => apiKeySource({})).toThrow(/set API_KEYS_SECRET_ARN \(AWS\) or INTAKE_API_KEYS/);
  });

  it('GIVEN several keys WHEN authenticating THEN the matching entry is returned and anything else is a 401', () => {
    const auth = new ApiKeyAuthenticator(parseApiKeys(JSON.stringify([entry('a', 'key-a'), entry('b', 'key-b', { webhookSecret: 'w'.repeat(40) })]), 'test'));
    expect(auth.authenticate('Bearer key-b').name).toBe('b');
    expect(auth.authenticate('bearer   key-a').name).toBe('a');
    for (const header of [undefined, '', 'Bearer', 'Bearer key-c', 'Token key-a', 'Bearer key-a extra']) {
      const err = (() => {
        try {
          auth.authenticate(header);
          return undefined;
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(401);
    }
  });
});

describe('KeyRateLimiter', () => {
  it('GIVEN 60 requests a minute and a 10 s burst WHEN 11 arrive at once THEN 10 pass and the 11th waits one token (1 s)', async () => {
    let now = 0;
    const limiter = new KeyRateLimiter({ now: () => now, burstSeconds: 10 });
    const decisions = await Promise.all(Array.from({ length: 11 }, () => limiter.take('k', 60)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
    expect(decisions[10]).toEqual({ allowed: false, retryAfterMs: 1000 });
    now += 1000;
    expect(await limiter.take('k', 60)).toEqual({ allowed: true });
    // Keys have separate buckets.
    expect(await limiter.take('other', 60)).toEqual({ allowed: true });
  });
});
