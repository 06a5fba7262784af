import { trace } from '@opentelemetry/api';
import { SECRET_FIELDS, USER_CONTENT_PATHS, createLogger, scrubSecrets } from '../../../runtime/src/shared/logger';
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
  ])('GIVEN %s in a logged string THEN the written line has the secret replaced', (_what, input, expected) => {
    const out = captured();
    createLogger({}, { write: out.write }).warn('x', { error: input });
    expect(out.lines[0]?.['error']).toBe(expected);
    expect(scrubSecrets(input)).toBe(expected);
  });

  it('GIVEN secret-named fields at the top level and two levels down THEN pino redacts them by path, and token counts are kept', () => {
    const out = captured();
    createLogger({}, { write: out.write }).info('request', {
      headers: { Authorization: 'x', 'x-api-key': 'y', cookie: 'c', accept: 'ok' },
      nested: [{ clientSecret: { deep: 1 } }, { apiKey: 42 }],
      webhookSecret: 'whsec',
      inputTokens: 10,
      estimatedTokens: 5,
      error: new Error('failed with sk-ant-xyz'),
    });
    expect(out.lines[0]).toMatchObject({
      event: 'request',
      headers: { Authorization: '[redacted]', 'x-api-key': '[redacted]', cookie: '[redacted]', accept: 'ok' },
      nested: [{ clientSecret: '[redacted]' }, { apiKey: '[redacted]' }],
      webhookSecret: '[redacted]',
      inputTokens: 10,
      estimatedTokens: 5,
      error: { name: 'Error', message: 'failed with [redacted]' },
    });
  });

  it('GIVEN every secret field name THEN each is a redact path at depths 0 to 2', () => {
    for (const field of SECRET_FIELDS) {
      const out = captured();
      createLogger({}, { write: out.write }).info('e', { [field]: 's1', a: { [field]: 's2', b: { [field]: 's3' } } });
      expect(JSON.stringify(out.lines[0])).not.toMatch(/s[123]/);
    }
  });

  it('GIVEN a secret in the bound context or the event fields THEN no written line contains it', () => {
    const out = captured();
    const logger = createLogger({ service: 'gateway', upstreamKey: 'sk-ant-bound', note: 'x-api-key=live' }, { write: out.write }).child({ note: 'Bearer abc' });
    logger.error('upstream.failed', { error: 'x-api-key: sk-ant-live-123 rejected', workerId: 'w1' });
    const text = JSON.stringify(out.lines);
    expect(text).not.toContain('sk-ant');
    expect(text).not.toContain('abc');
    expect(text).not.toContain('live');
    expect(out.lines[0]).toMatchObject({ level: 'error', event: 'upstream.failed', service: 'gateway', workerId: 'w1' });
  });

  it('GIVEN an `event` field in the context or the fields THEN the event name still identifies the line, once', () => {
    const raw: string[] = [];
    createLogger({ event: 'bound' }, { write: (l) => raw.push(l) }).child({ event: 'child' }).info('webhook.delivered', { event: 'field' });
    expect(raw[0]?.match(/"event":/g)).toHaveLength(1);
    expect(JSON.parse(raw[0] ?? '{}')).toMatchObject({ event: 'webhook.delivered', context: 'field' });
  });

  it('GIVEN levels THEN lines below the threshold are dropped and the level is written as its name', () => {
    const out = captured();
    const logger = createLogger({}, { write: out.write, level: 'warn' });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(out.lines.map((l) => [l['level'], l['event']])).toEqual([
      ['warn', 'w'],
      ['error', 'e'],
    ]);
  });
});

describe('user content in logs (it must not outlive the task data)', () => {
  const decision = { decision: 'call_tools', tools: ['calculator'], why: 'The user asked for 2*3', shown: { messages: 3, estimatedTokens: 40, lastMessage: 'user: my address is 1 Main St' } };

  it('GIVEN the default logger THEN prompt and tool-output excerpts are replaced by their length, the rest of the decision kept', () => {
    const out = captured();
    createLogger({ service: 'worker' }, { write: out.write }).child({ taskId: 't1', step: 1 }).info('llm.reply', decision);
    expect(JSON.stringify(out.lines)).not.toContain('Main St');
    expect(JSON.stringify(out.lines)).not.toContain('2*3');
    expect(out.lines[0]).toMatchObject({
      event: 'llm.reply',
      taskId: 't1',
      step: 1,
      decision: 'call_tools',
      tools: ['calculator'],
      why: '[user content redacted: 22 chars]',
      shown: { messages: 3, estimatedTokens: 40, lastMessage: '[user content redacted: 29 chars]' },
    });
    expect(USER_CONTENT_PATHS).toEqual(['why', 'shown.lastMessage']);
  });

  it("GIVEN userContent 'keep' (a development system) THEN the excerpts are written, secrets still scrubbed", () => {
    const out = captured();
    createLogger({}, { write: out.write, userContent: 'keep' }).info('llm.reply', { ...decision, why: 'use sk-ant-abc to call' });
    expect(out.lines[0]).toMatchObject({ why: 'use [redacted] to call', shown: { lastMessage: 'user: my address is 1 Main St' } });
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
