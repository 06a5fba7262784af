import { ConfigError } from '../../../runtime/src/shared/errors';
import { loadGatewayConfig, loadIntakeConfig, loadWorkerConfig, PORTS } from '../../../runtime/src/shared/config';

const base = {
  TASKS_TABLE: 'openclaw-dev-tasks',
  QUEUE_URL_HIGH: 'https://sqs.eu-west-1.amazonaws.com/123456789012/high',
  QUEUE_URL_NORMAL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/normal',
};

describe('runtime configuration', () => {
  it('GIVEN a complete worker environment THEN it parses into typed values with defaults', () => {
    const config = loadWorkerConfig({ ...base, GATEWAY_URL: 'http://gateway:8090', STAGE: 'prod', AWS_REGION: 'eu-west-1' });
    expect(config).toMatchObject({
      stage: 'prod',
      port: PORTS.worker,
      gatewayUrl: 'http://gateway:8090',
      queues: { high: base.QUEUE_URL_HIGH, normal: base.QUEUE_URL_NORMAL },
      aws: { region: 'eu-west-1' },
    });
    expect(config.aws).not.toHaveProperty('dynamoEndpoint');
  });

  it('GIVEN a malformed value THEN the error names the variable, the value received and the problem', () => {
    let caught: unknown;
    try {
      loadWorkerConfig({ ...base, GATEWAY_URL: 'not a url', PORT: '99999' });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const message = (caught as Error).message;
    expect(message).toContain('GATEWAY_URL="not a url"');
    expect(message).toContain('PORT="99999"');
    expect((caught as ConfigError).context['keys']).toEqual(expect.arrayContaining(['GATEWAY_URL', 'PORT']));
  });

  it('GIVEN a missing variable THEN the error says it is unset', () => {
    expect(() => loadWorkerConfig({ GATEWAY_URL: 'http://g' })).toThrow(/TASKS_TABLE=unset/);
  });

  it('GIVEN a secret-bearing variable that is invalid THEN its value is redacted in the error', () => {
    expect(() => loadGatewayConfig({ TASKS_TABLE: 't-x', ANTHROPIC_API_KEY: '', UPSTREAM_URL: 'http://u' })).toThrow(
      /ANTHROPIC_API_KEY=\(redacted\)/,
    );
  });

  it('GIVEN an intake without any key source THEN it refuses to start and says what to set', () => {
    expect(() => loadIntakeConfig(base)).toThrow(/API_KEYS_SECRET_ARN.*INTAKE_API_KEYS/);
  });
});
