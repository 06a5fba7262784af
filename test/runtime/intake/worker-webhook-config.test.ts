import { loadWorkerConfig } from '../../../runtime/src/shared/config';

const base = {
  TASKS_TABLE: 'openclaw-tasks',
  QUEUE_URL_HIGH: 'https://sqs.us-east-1.amazonaws.com/123456789012/high',
  QUEUE_URL_NORMAL: 'https://sqs.us-east-1.amazonaws.com/123456789012/normal',
  GATEWAY_URL: 'http://gateway:8090',
};

describe('worker configuration for completion webhooks', () => {
  it('GIVEN the API key secret ARN THEN the worker config carries it (the worker signs webhooks with its keys)', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:intake-keys';
    expect(loadWorkerConfig({ ...base, API_KEYS_SECRET_ARN: arn }).apiKeysSecretArn).toBe(arn);
    expect(loadWorkerConfig(base)).not.toHaveProperty('apiKeysSecretArn');
  });

  it('GIVEN a malformed key list variable THEN the error names it without echoing its value', () => {
    expect(() => loadWorkerConfig({ ...base, INTAKE_API_KEYS: 'x' })).toThrow(/INTAKE_API_KEYS=\(redacted\)/);
    expect(() => loadWorkerConfig({ ...base, API_KEYS_SECRET_ARN: 'intake-keys' })).toThrow(/API_KEYS_SECRET_ARN="intake-keys"/);
  });
});
