/**
 * The first deploy into an empty account comes up, in the order the README documents:
 *   1. deploy the stacks: every secret holds the value the template gives it;
 *   2. the services start: intake and gateway answer not-ready (/health stays 200, so ECS keeps
 *      them) naming the secret and the exact command; the worker accepts its signing-key secret;
 *   3. the operator puts the values: the services become ready without a restart or redeploy.
 * The initial values are read from the synthesized prod template, and the runtime's own code reads
 * them through a Secrets Manager client (aws-sdk-client-mock: Secrets Manager has no emulator).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { ANTHROPIC_KEY_VALUE_ARGUMENT, SecretUnavailableError, secretsManagerKeyProvider } from '../../runtime/src/gateway/api-key-provider';
import { SecretBackedAuthenticator } from '../../runtime/src/intake/api-keys';
import { createIntakeHandler } from '../../runtime/src/intake/app';
import { API_KEYS_VALUE_ARGUMENT, apiKeySource } from '../../runtime/src/shared/api-keys';
import { CallbackUrlPolicy } from '../../runtime/src/shared/callback-url-policy';
import { listen, type RunningServer } from '../../runtime/src/shared/http';
import { createLogger } from '../../runtime/src/shared/logger';
import { putSecretCommand } from '../../runtime/src/shared/secret-source';
import { signingKeyLookup, webhookSigningKeySource } from '../../runtime/src/shared/webhook-signing-keys';
import { createTestAws, type TestAws } from '../support/aws';
import { makeKey } from '../runtime/intake/harness';
import { resourcesOf, synthStage } from '../lib/support/synth-stage';

const prod = synthStage('prod');

/** The initial SecretString of each secret the Data stack creates, by logical-ID prefix. */
function initialValues(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, props] of resourcesOf(prod.json.data, 'AWS::SecretsManager::Secret')) {
    // A generated random string is what crashed the first deploy: no reader can tell it from a real value.
    expect(props['GenerateSecretString']).toBeUndefined();
    expect(typeof props['SecretString']).toBe('string');
    out[id.replace(/[0-9A-F]{8}$/, '')] = props['SecretString'] as string;
  }
  return out;
}

const ARN = {
  apiKeys: 'arn:aws:secretsmanager:us-east-1:333333333333:secret:IntakeApiKeys-AbCdEf',
  anthropic: 'arn:aws:secretsmanager:us-east-1:333333333333:secret:AnthropicApiKey-AbCdEf',
  signing: 'arn:aws:secretsmanager:us-east-1:333333333333:secret:WebhookSigningKeys-AbCdEf',
};

describe('first deploy: the secrets the stacks create vs the services that read them', () => {
  const secrets = mockClient(SecretsManagerClient);
  afterAll(() => secrets.restore());

  test('GIVEN the prod template WHEN read THEN it creates exactly the three secrets the services read, each with a fixed initial value', () => {
    expect(Object.keys(initialValues()).sort()).toEqual(['AnthropicApiKey', 'IntakeApiKeys', 'WebhookSigningKeys']);
  });

  describe('intake against its API-key secret', () => {
    let aws: TestAws;
    let server: RunningServer;
    let now = 0;
    const lines: string[] = [];
    const key = makeKey('first-client', { maxPriority: 'high' });

    beforeAll(async () => {
      aws = await createTestAws();
      secrets.on(GetSecretValueCommand, { SecretId: ARN.apiKeys }).resolves({ SecretString: initialValues()['IntakeApiKeys'] as string });
      const logger = createLogger({ service: 'intake' }, { write: (line) => lines.push(line) });
      const auth = new SecretBackedAuthenticator(
        apiKeySource({ secretArn: ARN.apiKeys, secrets: new SecretsManagerClient({ region: 'us-east-1' }), logger, now: () => now }),
      );
      server = await listen(
        createIntakeHandler({
          dynamo: aws.dynamo,
          sqs: aws.sqs,
          tableName: aws.resources.tasksTable,
          queues: aws.resources.queues,
          auth,
          readyChecks: [() => auth.notReadyReason()],
          logger,
          callbackPolicy: new CallbackUrlPolicy({ resolver: async () => ['93.184.216.34'] }),
          taskRetentionDays: 30,
        }),
        0,
        logger,
        '127.0.0.1',
      );
    });
    afterAll(async () => {
      await server.close();
      aws.destroy();
    });

    const submit = () =>
      fetch(`${server.url}/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ prompt: 'hello' }),
      });

    test('GIVEN the stack\'s initial value WHEN the intake runs THEN /health is 200, /ready and the API are 503, and the log names the secret and the exact command', async () => {
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      const ready = await fetch(`${server.url}/ready`);
      expect(ready.status).toBe(503);
      const command = putSecretCommand(ARN.apiKeys, API_KEYS_VALUE_ARGUMENT);
      expect(command).toBe(`aws secretsmanager put-secret-value --secret-id ${ARN.apiKeys} --secret-string file://api-keys.json`);
      expect(JSON.stringify(await ready.json())).toContain(command);
      expect((await submit()).status).toBe(503);
      const notReady = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['event'] === 'secret.not_ready');
      expect(notReady).toHaveLength(1); // once per state, not once per request
      expect(notReady[0]).toMatchObject({ secretId: ARN.apiKeys, problem: 'unset', fix: command });
    });

    test('GIVEN the operator puts the key list WHEN the cache expires (no restart) THEN the intake is ready and accepts the client', async () => {
      secrets.on(GetSecretValueCommand, { SecretId: ARN.apiKeys }).resolves({ SecretString: JSON.stringify([key.entry]) });
      expect((await fetch(`${server.url}/ready`)).status).toBe(503); // still cached
      now += 10_001;
      expect((await fetch(`${server.url}/ready`)).status).toBe(200);
      expect((await submit()).status).toBe(202);
      expect(lines.some((l) => (JSON.parse(l) as Record<string, unknown>)['event'] === 'secret.ready')).toBe(true);
    });

    test('GIVEN a malformed value put later WHEN re-read THEN the intake goes not-ready naming the problem instead of crashing', async () => {
      secrets.on(GetSecretValueCommand, { SecretId: ARN.apiKeys }).resolves({ SecretString: '[{"name":"x","sha256":"not-a-hash"}]' });
      now += 60_001;
      const ready = await fetch(`${server.url}/ready`);
      expect(ready.status).toBe(503);
      expect(JSON.stringify(await ready.json())).toMatch(/sha256: must be 64 lowercase hex/);
    });
  });

  test('GIVEN the stack\'s initial Anthropic value WHEN the gateway needs the key THEN it answers 503 naming the secret and the command; once put, the same provider returns it', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: ARN.anthropic }).resolves({ SecretString: initialValues()['AnthropicApiKey'] as string });
    const keys = secretsManagerKeyProvider({ client: new SecretsManagerClient({ region: 'us-east-1' }), secretArn: ARN.anthropic });
    const err = await keys.get().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SecretUnavailableError);
    expect((err as SecretUnavailableError).status).toBe(503);
    expect((err as Error).message).toContain(putSecretCommand(ARN.anthropic, ANTHROPIC_KEY_VALUE_ARGUMENT));
    secrets.on(GetSecretValueCommand, { SecretId: ARN.anthropic }).resolves({ SecretString: 'sk-ant-test-key' });
    await expect(keys.get()).resolves.toBe('sk-ant-test-key');
  });

  test('GIVEN the stack\'s initial signing-key value WHEN the worker reads it THEN it is accepted and signs for nobody (no unsigned webhooks); a key put later is used', async () => {
    secrets.on(GetSecretValueCommand, { SecretId: ARN.signing }).resolves({ SecretString: initialValues()['WebhookSigningKeys'] as string });
    let now = 0;
    const source = webhookSigningKeySource({ secretArn: ARN.signing, secrets: new SecretsManagerClient({ region: 'us-east-1' }), now: () => now });
    if (source === undefined) throw new Error('a secret ARN must give a source');
    expect((await source.state()).ready).toBe(true);
    const lookup = signingKeyLookup(source);
    await expect(lookup('first-client')).resolves.toBeUndefined();
    secrets.on(GetSecretValueCommand, { SecretId: ARN.signing }).resolves({ SecretString: JSON.stringify({ 'first-client': 'k'.repeat(32) }) });
    now += 60_001;
    await expect(lookup('first-client')).resolves.toBe('k'.repeat(32));
  });

  test('GIVEN the README deploy section WHEN read THEN it tells operators the same commands the services log', () => {
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    for (const argument of [API_KEYS_VALUE_ARGUMENT, ANTHROPIC_KEY_VALUE_ARGUMENT, 'file://webhook-signing-keys.json']) {
      expect(readme).toContain(`--secret-string ${argument}`);
    }
  });
});
