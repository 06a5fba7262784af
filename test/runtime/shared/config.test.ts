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

describe('task retention (TASK_RETENTION_DAYS)', () => {
  const intakeEnv = { ...base, INTAKE_API_KEYS: '[]' };
  const workerEnv = { ...base, GATEWAY_URL: 'http://g:8090' };

  it('GIVEN it unset THEN intake and worker keep task data 30 days', () => {
    expect(loadIntakeConfig(intakeEnv).taskRetentionDays).toBe(30);
    expect(loadWorkerConfig(workerEnv).taskRetentionDays).toBe(30);
  });

  it('GIVEN a whole number of days THEN both services use it', () => {
    expect(loadIntakeConfig({ ...intakeEnv, TASK_RETENTION_DAYS: '90' }).taskRetentionDays).toBe(90);
    expect(loadWorkerConfig({ ...workerEnv, TASK_RETENTION_DAYS: '7' }).taskRetentionDays).toBe(7);
  });

  it.each(['0', 'abc', '1.5', '3651'])('GIVEN TASK_RETENTION_DAYS=%s THEN both services refuse to start, naming the variable, the value and the fix', (value) => {
    const expected = `TASK_RETENTION_DAYS=${JSON.stringify(value)}: must be a whole number of days from 1 to 3650`;
    expect(() => loadIntakeConfig({ ...intakeEnv, TASK_RETENTION_DAYS: value })).toThrow(ConfigError);
    expect(() => loadIntakeConfig({ ...intakeEnv, TASK_RETENTION_DAYS: value })).toThrow(expected);
    expect(() => loadWorkerConfig({ ...workerEnv, TASK_RETENTION_DAYS: value })).toThrow(expected);
  });
});

describe('group commit on the accept path (INTAKE_BATCH_WRITES)', () => {
  const intakeEnv = { ...base, INTAKE_API_KEYS: '[]' };

  it('GIVEN it unset THEN the intake batches; "off" turns it off', () => {
    expect(loadIntakeConfig(intakeEnv).batchWrites).toBe(true);
    expect(loadIntakeConfig({ ...intakeEnv, INTAKE_BATCH_WRITES: 'off' }).batchWrites).toBe(false);
    expect(loadIntakeConfig({ ...intakeEnv, INTAKE_BATCH_WRITES: 'on' }).batchWrites).toBe(true);
  });

  it('GIVEN another value THEN the intake refuses to start, naming the variable, the value and both choices', () => {
    expect(() => loadIntakeConfig({ ...intakeEnv, INTAKE_BATCH_WRITES: 'yes' })).toThrow(ConfigError);
    expect(() => loadIntakeConfig({ ...intakeEnv, INTAKE_BATCH_WRITES: 'yes' })).toThrow(/INTAKE_BATCH_WRITES="yes": must be "on" .* or "off"/);
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

describe('local-only and test-only variables', () => {
  it('GIVEN CALLBACK_HTTP_HOSTS WHEN the stage is local THEN both services take the list; on a deployed stage they refuse it naming the fix', () => {
    const worker = { ...base, GATEWAY_URL: 'http://gateway:8090', CALLBACK_HTTP_HOSTS: '127.0.0.1,localhost' };
    expect(loadWorkerConfig(worker).callbackHttpHosts).toEqual(['127.0.0.1', 'localhost']);
    expect(loadIntakeConfig({ ...base, INTAKE_API_KEYS: '[]', CALLBACK_HTTP_HOSTS: '127.0.0.1' }).callbackHttpHosts).toEqual(['127.0.0.1']);
    expect(() => loadWorkerConfig({ ...worker, STAGE: 'prod' })).toThrow(/CALLBACK_HTTP_HOSTS="127.0.0.1,localhost" is for local runs only \(STAGE=local\); unset it/);
    expect(() => loadIntakeConfig({ ...base, INTAKE_API_KEYS: '[]', CALLBACK_HTTP_HOSTS: '127.0.0.1', STAGE: 'staging' })).toThrow(/local runs only/);
    expect(loadWorkerConfig({ ...base, GATEWAY_URL: 'http://gateway:8090' }).callbackHttpHosts).toEqual([]);
  });

  it('GIVEN CALL_RECORD_FILE THEN it is carried as the recording target; unset, recording is off', () => {
    expect(loadGatewayConfig({ TASKS_TABLE: 'tasks', CALL_RECORD_FILE: '/tmp/calls.jsonl' }).callRecordFile).toBe('/tmp/calls.jsonl');
    expect(loadGatewayConfig({ TASKS_TABLE: 'tasks' })).not.toHaveProperty('callRecordFile');
  });
});
