import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { listen, type RunningServer } from '../../../runtime/src/shared/http';
import { intakeResponseMetrics, tracedHandler, routeOf, type ResponseInfo } from '../../../runtime/src/shared/http-tracing';
import { silentLogger } from '../../../runtime/src/shared/logger';
import { InMemoryMetrics } from '../../../runtime/src/shared/metrics';
import { METRICS } from '../../../runtime/src/shared/metrics-contract';
import { TRACER, currentTraceparent, inSpan, taskTraceContext } from '../../../runtime/src/shared/spans';
import { startTestTracing, type TestTracing } from './tracing-harness';

describe('tracedHandler', () => {
  let tracing: TestTracing;
  let server: RunningServer;
  const metrics = new InMemoryMetrics();
  const seenInside: (string | undefined)[] = [];
  const responses: ResponseInfo[] = [];

  beforeAll(async () => {
    tracing = startTestTracing();
    const handler = tracedHandler(
      async (req, res) => {
        seenInside.push(currentTraceparent());
        if (req.url === '/boom') throw new Error('handler failed');
        // A streamed body: the span must last until the last chunk.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('a');
        await new Promise((r) => setTimeout(r, 60));
        res.end('b');
      },
      { tracer: trace.getTracer(TRACER.gateway), metrics, onResponse: (r) => responses.push(r) },
    );
    server = await listen(handler, 0, silentLogger, '127.0.0.1');
  });
  afterAll(async () => {
    await server.close();
    await tracing.handle.shutdown();
  });
  beforeEach(() => tracing.exporter.reset());

  it('GIVEN a caller traceparent WHEN a request is served THEN the SERVER span continues it, is active in the handler and lasts until the stream ends', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await fetch(`${server.url}/v1/messages`, {
      method: 'POST',
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01`, 'x-openclaw-task-id': 'task-7', 'x-openclaw-priority': 'high', 'x-openclaw-fence': '3', 'x-stainless-retry-count': '2' },
      body: '{}',
    });
    expect(await res.text()).toBe('ab');
    await new Promise((r) => setTimeout(r, 20));
    const span = tracing.one('POST /v1/messages');
    expect(span.kind).toBe(SpanKind.SERVER);
    expect(span.spanContext().traceId).toBe(traceId);
    expect(span.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(span.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/messages',
      'http.response.status_code': 200,
      'http.request.resend_count': 2,
      'openclaw.task.id': 'task-7',
      'openclaw.lane': 'high',
      'openclaw.lease.fence': 3,
    });
    expect(span.duration[0] * 1000 + span.duration[1] / 1e6).toBeGreaterThanOrEqual(50);
    expect(seenInside[seenInside.length - 1]).toBe(`00-${traceId}-${span.spanContext().spanId}-01`);
    expect(metrics.find(METRICS.llmRetries, { Lane: 'high' })).toHaveLength(1);
    expect(responses[responses.length - 1]).toEqual({ method: 'POST', route: '/v1/messages', status: 200, durationMs: expect.any(Number) });
  });

  it('GIVEN a handler that throws WHEN the server answers 500 THEN the span has error status; health checks are not traced', async () => {
    expect((await fetch(`${server.url}/boom`)).status).toBe(500);
    await fetch(`${server.url}/health`);
    await new Promise((r) => setTimeout(r, 20));
    const span = tracing.one('GET /boom');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['http.response.status_code']).toBe(500);
    expect(tracing.byName('GET /health')).toEqual([]);
  });

  it('intakeResponseMetrics counts POST /v1/tasks answers as accepted or rejected, and nothing else', () => {
    const counted = new InMemoryMetrics();
    const onResponse = intakeResponseMetrics(counted);
    onResponse({ method: 'POST', route: '/v1/tasks', status: 202, durationMs: 3 });
    onResponse({ method: 'POST', route: '/v1/tasks', status: 400, durationMs: 1 });
    onResponse({ method: 'POST', route: '/v1/tasks', status: 429, durationMs: 1 });
    onResponse({ method: 'GET', route: '/v1/tasks/{id}', status: 404, durationMs: 1 });
    expect(counted.sum(METRICS.intakeAccepted)).toBe(1);
    expect(counted.sum(METRICS.intakeRejected)).toBe(2);
    expect(counted.find(METRICS.intakeRejected).map((r) => r.properties['status'])).toEqual([400, 429]);
  });

  it('routeOf replaces IDs so span names stay few', () => {
    expect(routeOf('/v1/tasks/7f1c2a9e-1b2c-4d5e-8f90-123456789abc')).toBe('/v1/tasks/{id}');
    expect(routeOf('/v1/messages/count_tokens')).toBe('/v1/messages/count_tokens');
  });
});


describe('taskTraceContext', () => {
  let tracing: TestTracing;
  beforeAll(() => {
    tracing = startTestTracing();
  });
  afterAll(async () => {
    await tracing.handle.shutdown();
  });

  it('GIVEN an active request span THEN the span is tagged with the task and the message gets its traceparent', async () => {
    let field: { traceparent?: string } = {};
    await inSpan(trace.getTracer(TRACER.intake), 'POST /v1/tasks', {}, async () => {
      field = taskTraceContext('task-42');
    });
    const span = tracing.one('POST /v1/tasks');
    expect(span.attributes['openclaw.task.id']).toBe('task-42');
    expect(field).toEqual({ traceparent: `00-${span.spanContext().traceId}-${span.spanContext().spanId}-01` });
  });

  it('GIVEN no active span THEN the message gets no traceparent', () => {
    expect(taskTraceContext('task-43')).toEqual({});
  });
});
