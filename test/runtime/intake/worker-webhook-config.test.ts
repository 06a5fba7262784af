import { loadWorkerConfig } from '../../../runtime/src/shared/config';

const base = {
  TASKS_TABLE: 'openclaw-tasks',
  QUEUE_URL_HIGH: 'https://sqs.us-east-1.amazonaws.com/123456789012/high',
  QUEUE_URL_NORMAL: 'https://sqs.us-east-1.amazonaws.com/123456789012/normal',
  GATEWAY_URL: 'http://gateway:8090',
};

describe('worker configuration for completion webhooks', () => {
  it('GIVEN the webhook-signing secret ARN THEN the worker config carries it, and nothing of the intake key list', () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-signing';
    expect(loadWorkerConfig({ ...base, WEBHOOK_SIGNING_SECRET_ARN: arn }).webhookSigningSecretArn).toBe(arn);
    expect(loadWorkerConfig(base)).not.toHaveProperty('webhookSigningSecretArn');
    // The intake's key list is no longer the worker's business: set or not, the worker ignores it.
    expect(JSON.stringify(loadWorkerConfig({ ...base, API_KEYS_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:1:secret:k' }))).not.toContain('secret:k');
  });

  it('GIVEN a malformed signing-key variable THEN the error names it without echoing its value', () => {
    expect(() => loadWorkerConfig({ ...base, WEBHOOK_SIGNING_KEYS: 'x' })).toThrow(/WEBHOOK_SIGNING_KEYS=\(redacted\)/);
    expect(() => loadWorkerConfig({ ...base, WEBHOOK_SIGNING_SECRET_ARN: 'signing' })).toThrow(/WEBHOOK_SIGNING_SECRET_ARN="signing"/);
  });
});
