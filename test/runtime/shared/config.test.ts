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

describe('queue URLs from the SQS emulator', () => {
  const fauxqs = 'http://sqs.us-east-1.127.0.0.1:4566/000000000000/local-tasks-high';

  it('GIVEN a fauxqs queue URL (not a WHATWG-valid host) THEN both intake and worker accept it', () => {
    const env = { ...base, QUEUE_URL_HIGH: fauxqs, INTAKE_API_KEYS: '[]', GATEWAY_URL: 'http://g:8090' };
    expect(loadIntakeConfig(env).queues.high).toBe(fauxqs);
    expect(loadWorkerConfig(env).queues.high).toBe(fauxqs);
  });

  it('GIVEN something that is not a queue URL THEN the intake names the variable', () => {
    expect(() => loadIntakeConfig({ ...base, QUEUE_URL_HIGH: 'high-queue', INTAKE_API_KEYS: '[]' })).toThrow(/QUEUE_URL_HIGH="high-queue"/);
  });
});
