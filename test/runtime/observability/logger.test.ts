import { trace } from '@opentelemetry/api';
import { createLogger, redact } from '../../../runtime/src/shared/logger';
import { TRACER, inSpan } from '../../../runtime/src/shared/spans';
import { startTestTracing, type TestTracing } from './tracing-harness';

function captured(): { lines: Record<string, unknown>[]; write: (line: string) => void } {
  const lines: Record<string, unknown>[] = [];
  return { lines, write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) };
}

describe('logger redaction (by construction)', () => {
  it.each([
    ['an Anthropic key', 'upstream said sk-ant-api03-AbC_def-123 is invalid', 'upstream said [redacted] is invalid'],
    ['a bearer token', 'got Bearer eyJhbGciOi.abc-def_ghi=', 'got [redacted]'],
    ['an authorization header quoted in text', 'headers: authorization: Bearer abc.def ok', 'headers: [redacted] ok'],
    ['an intake API key', 'key ocl_Zm9vYmFyYmF6cXV4cXV1eA in use', 'key [redacted] in use'],
    ['an AWS access key id', 'creds AKIAIOSFODNN7EXAMPLE and ASIAIOSFODNN7EXAMPLE', 'creds [redacted] and [redacted]'],
    ['a key=value pair', 'url?api_key=12345&x=1', 'url?[redacted]&x=1'],
    ['a JSON-ish secret pair', '{"password": "hunter2", "user": "bob"}', '{"[redacted]", "user": "bob"}'],
    ['an AWS secret in env style', 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG', 'AWS_[redacted]'],
  ])('GIVEN %s in a string THEN the secret is replaced', (_what, input, expected) => {
    expect(redact(input)).toBe(expected);
  });

  it('GIVEN secret-named keys at any depth THEN their values are replaced whatever they hold, and token counts are kept', () => {
    const out = redact({
      headers: { Authorization: 'x', 'x-api-key': 'y', cookie: 'ok' },
      nested: [{ clientSecret: { deep: 1 } }, { apiKey: 42 }],
      inputTokens: 10,
      estimatedTokens: 5,
      error: new Error('failed with sk-ant-xyz'),
    });
    expect(out).toEqual({
      headers: { Authorization: '[redacted]', 'x-api-key': '[redacted]', cookie: 'ok' },
      nested: [{ clientSecret: '[redacted]' }, { apiKey: '[redacted]' }],
      inputTokens: 10,
      estimatedTokens: 5,
      error: { name: 'Error', message: 'failed with [redacted]' },
    });
  });

  it('GIVEN a secret in the bound context or the event fields THEN no written line contains it', () => {
    const out = captured();
    const logger = createLogger({ service: 'gateway', upstreamKey: 'sk-ant-bound' }, { write: out.write }).child({ note: 'Bearer abc' });
    logger.error('upstream.failed', { error: 'x-api-key: sk-ant-live-123 rejected', workerId: 'w1' });
    const text = JSON.stringify(out.lines);
    expect(text).not.toContain('sk-ant');
    expect(text).not.toContain('abc');
    expect(out.lines[0]).toMatchObject({ level: 'error', event: 'upstream.failed', service: 'gateway', workerId: 'w1' });
  });
});

describe('logger trace correlation', () => {
  let tracing: TestTracing;
  beforeAll(() => {
    tracing = startTestTracing();
  });
  afterAll(async () => {
    await tracing.handle.shutdown();
  });

  it('GIVEN an active span THEN each line carries its traceId and spanId; outside a span it carries neither', async () => {
    const out = captured();
    const logger = createLogger({ service: 'worker' }, { write: out.write, now: () => 0 });
    let ids = { traceId: '', spanId: '' };
    await inSpan(trace.getTracer(TRACER.worker), 'work', {}, async (span) => {
      ids = { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
      logger.info('inside', { taskId: 't1', step: 3 });
    });
    logger.info('outside');
    expect(out.lines[0]).toEqual({ ts: '1970-01-01T00:00:00.000Z', level: 'info', event: 'inside', service: 'worker', ...ids, taskId: 't1', step: 3 });
    expect(out.lines[1]).not.toHaveProperty('traceId');
  });
});
