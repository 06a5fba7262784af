/**
 * Environment and secrets: the template and the runtime agree, read from the synthesized prod and
 * staging templates.
 * - every variable a task definition sets is read by that service's config schema (or by Node or
 *   the shared observability config, listed below with the reason);
 * - the service's own loader accepts the environment as the template sets it (every required
 *   variable is there, every value passes), with CloudFormation tokens stood in for by values of
 *   the shape AWS gives them;
 * - every secret a stack creates is read by exactly one service, through an *_SECRET_ARN variable,
 *   and its initial value (or the shape of a generated one) is accepted by that service's parser or
 *   leads to the documented not-ready state ("unset", with the command to set it).
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { secretsManagerKeyProvider, SecretUnavailableError } from '../../runtime/src/gateway/api-key-provider';
import { apiKeySource } from '../../runtime/src/shared/api-keys';
import { ENV, SERVICE_ENV_SCHEMAS, loadGatewayConfig, loadIntakeConfig, loadWorkerConfig } from '../../runtime/src/shared/config';
import { OBSERVABILITY_ENV } from '../../runtime/src/shared/observability-config';
import type { SecretState } from '../../runtime/src/shared/secret-source';
import { webhookSigningKeySource } from '../../runtime/src/shared/webhook-signing-keys';
import { resourcesOf, synthStage } from '../lib/support/synth-stage';
import { standInFor } from './support/env-stand-in';

type Service = keyof typeof SERVICE_ENV_SCHEMAS;
const SERVICES = Object.keys(SERVICE_ENV_SCHEMAS) as Service[];

/** Set by the task definition but read outside the service's schema, each with who reads it. */
const READ_ELSEWHERE: Readonly<Record<string, string>> = {
  NODE_OPTIONS: 'Node itself (heap cap)',
  [OBSERVABILITY_ENV.otlpEndpoint]: 'loadObservabilityConfig (every service main)',
  [OBSERVABILITY_ENV.promptsDir]: 'loadObservabilityConfig (worker prompts)',
  [OBSERVABILITY_ENV.modelPrices]: 'loadObservabilityConfig (cost metrics)',
};

/** The gateway's main refuses to start outside `local` without these (runtime/src/gateway/main.ts). */
const GATEWAY_DEPLOYED_REQUIRED = [ENV.anthropicSecretArn, ENV.gatewayTable];

type RawEnv = Record<string, unknown>;

// One mock for the file: a second mockClient on the same class would replace the first's stub.
const secretsMock = mockClient(SecretsManagerClient);
afterAll(() => secretsMock.restore());

function containerEnv(template: Record<string, unknown>, service: Service): RawEnv {
  // The stable pools; an agent canary's candidate pool (logical IDs under Canary) runs the same construct.
  const containers = resourcesOf(template, 'AWS::ECS::TaskDefinition')
    .filter(([id]) => !id.startsWith('Canary'))
    .flatMap(([, p]) => p['ContainerDefinitions'] as Array<Record<string, unknown>>);
  const found = containers.filter((c) => c['Name'] === service);
  expect(found).toHaveLength(1);
  return Object.fromEntries((found[0]?.['Environment'] as Array<{ Name: string; Value: unknown }>).map((e) => [e.Name, e.Value]));
}

const LOADERS: Readonly<Record<Service, (env: Record<string, string>) => unknown>> = {
  intake: loadIntakeConfig,
  worker: loadWorkerConfig,
  gateway: loadGatewayConfig,
};

describe.each(['prod', 'staging'] as const)('%s template vs the runtime', (stage) => {
  const synthesized = synthStage(stage);
  const account = synthesized.stage.account ?? '';

  describe.each(SERVICES)('%s environment', (service) => {
    const raw = containerEnv(synthesized.json.services, service);
    const schemaKeys = Object.keys(SERVICE_ENV_SCHEMAS[service].shape);

    test('GIVEN every variable the task definition sets WHEN looked up THEN the service reads it', () => {
      const unread = Object.keys(raw).filter((k) => !schemaKeys.includes(k) && READ_ELSEWHERE[k] === undefined);
      expect(unread).toEqual([]);
    });

    test('GIVEN the schema\'s required variables WHEN the template is read THEN each is set', () => {
      const shape = SERVICE_ENV_SCHEMAS[service].shape as Record<string, { safeParse(v: unknown): { success: boolean } }>;
      const required = schemaKeys.filter((k) => !shape[k]?.safeParse(undefined).success);
      expect(required.length).toBeGreaterThan(0);
      expect(required.filter((k) => raw[k] === undefined)).toEqual([]);
      if (service === 'gateway') expect(GATEWAY_DEPLOYED_REQUIRED.filter((k) => raw[k] === undefined)).toEqual([]);
    });

    test('GIVEN the environment as deployed WHEN the service loads it THEN it starts (no local-only variable, no bad value)', () => {
      const env = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, standInFor(k, v, account)]));
      expect(() => LOADERS[service](env)).not.toThrow();
      // Local stand-ins never reach a deployed task.
      for (const localOnly of [ENV.apiKeys, ENV.anthropicApiKey, ENV.webhookSigningKeys, ENV.dynamoEndpoint, ENV.sqsEndpoint]) expect(raw[localOnly]).toBeUndefined();
    });
  });

  describe('secrets', () => {
    const created = resourcesOf(synthesized.json.data, 'AWS::SecretsManager::Secret');

    /** Which service reads each created secret, through which variable (by the export the variable imports). */
    function readers(logicalId: string): Array<{ service: Service; variable: string }> {
      return SERVICES.flatMap((service) =>
        Object.entries(containerEnv(synthesized.json.services, service))
          .filter(([k, v]) => k.endsWith('_SECRET_ARN') && JSON.stringify(v).includes(`ExportsOutputRef${logicalId}`))
          .map(([variable]) => ({ service, variable })),
      );
    }

    /** The stack's initial value, or a sample of what a GenerateSecretString shape would produce. */
    function initialValue(props: Record<string, unknown>): string {
      if (typeof props['SecretString'] === 'string') return props['SecretString'];
      const generate = props['GenerateSecretString'] as { SecretStringTemplate?: string; GenerateStringKey?: string } | undefined;
      const random = 'x7Gq2LpZr9Tb4VnKs1WdYh6Jm3Fc8Ae0';
      if (generate?.SecretStringTemplate !== undefined) {
        return JSON.stringify({ ...(JSON.parse(generate.SecretStringTemplate) as object), [generate.GenerateStringKey ?? 'password']: random });
      }
      return random;
    }

    /** What the reading service makes of a value: ready, or its not-ready state. */
    async function readAs(variable: string, secretArn: string): Promise<Pick<SecretState<unknown>, 'ready'> & { problem?: string; fix?: string }> {
      const client = new SecretsManagerClient({ region: 'us-east-1' });
      if (variable === ENV.apiKeysSecretArn) return apiKeySource({ secretArn, secrets: client }).state();
      if (variable === ENV.webhookSigningSecretArn) {
        const source = webhookSigningKeySource({ secretArn, secrets: client });
        if (source === undefined) throw new Error('no source');
        return source.state();
      }
      if (variable === ENV.anthropicSecretArn) {
        try {
          await secretsManagerKeyProvider({ client, secretArn }).get();
          return { ready: true };
        } catch (err) {
          if (!(err instanceof SecretUnavailableError)) throw err;
          return { ready: false, problem: /is not set yet/.test(err.message) ? 'unset' : 'invalid', fix: err.message.split('fix: ')[1] ?? '' };
        }
      }
      throw new Error(`no runtime reader is known for ${variable}: add it here`);
    }

    test('GIVEN the created secrets WHEN matched to task environments THEN each is read by exactly one service', () => {
      expect(created.length).toBeGreaterThan(0);
      for (const [id] of created) expect({ id, readers: readers(id).length }).toEqual({ id, readers: 1 });
    });

    test.each(created.map(([id, props]) => [id, props] as const))(
      'GIVEN secret %s WHEN its reader gets the initial value THEN it is accepted or the documented not-ready state with the command to set it',
      async (id, props) => {
        const [reader] = readers(id);
        if (reader === undefined) throw new Error(`${id} has no reader`);
        const arn = `arn:aws:secretsmanager:us-east-1:${account}:secret:${id}-AbCdEf`;
        secretsMock.on(GetSecretValueCommand, { SecretId: arn }).resolves({ SecretString: initialValue(props) });
        const state = await readAs(reader.variable, arn);
        if (!state.ready) {
          expect(state.problem).toBe('unset');
          expect(state.fix).toMatch(new RegExp(`^aws secretsmanager put-secret-value --secret-id ${arn} --secret-string \\S+$`));
        }
      },
    );

    test('GIVEN a CloudFormation-generated random value (the old template) WHEN read THEN the contract catches it: not accepted, not the documented state', async () => {
      const arn = `arn:aws:secretsmanager:us-east-1:${account}:secret:Generated-AbCdEf`;
      secretsMock.on(GetSecretValueCommand, { SecretId: arn }).resolves({ SecretString: initialValue({ GenerateSecretString: {} }) });
      const state = await readAs(ENV.apiKeysSecretArn, arn);
      expect(state).toMatchObject({ ready: false, problem: 'invalid' });
    });
  });
});
