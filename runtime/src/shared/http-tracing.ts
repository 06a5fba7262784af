import { SpanKind, SpanStatusCode, context, propagation, trace, type Attributes, type Tracer } from '@opentelemetry/api';
import type { IncomingMessage } from 'node:http';
import type { Handler } from './http';
import { DIMENSIONS, METRICS } from './metrics-contract';
import { noopMetrics, type Metrics } from './metrics';
import { OPENCLAW } from './spans';

export interface TracedHandlerOptions {
  /** The service's tracer, e.g. trace.getTracer(TRACER.gateway). */
  readonly tracer: Tracer;
  /**
   * Bound to Stage and Service. The gateway counts the SDK's retries here (LlmRetries): each
   * retried request carries `x-stainless-retry-count`. @default noopMetrics
   */
  readonly metrics?: Metrics;
  /** Called once per traced request when its response ends (e.g. intakeResponseMetrics). @default none */
  readonly onResponse?: (response: ResponseInfo) => void;
}

export interface ResponseInfo {
  readonly method: string;
  readonly route: string;
  readonly status: number;
  readonly durationMs: number;
}

/** The intake's accepted/rejected counts: every answer to POST /v1/tasks is one or the other. */
export function intakeResponseMetrics(metrics: Metrics): (response: ResponseInfo) => void {
  return ({ method, route, status }) => {
    if (method !== 'POST' || route !== '/v1/tasks') return;
    const accepted = status >= 200 && status < 300;
    metrics.emit([{ name: accepted ? METRICS.intakeAccepted : METRICS.intakeRejected, value: 1 }], {}, { status });
  };
}

/** A low-cardinality span name: IDs in the path become `{id}` (`GET /v1/tasks/{id}`). */
export function routeOf(path: string): string {
  return path
    .split('/')
    .map((segment) => (segment.length >= 16 && /\d/.test(segment) ? '{id}' : segment))
    .join('/');
}

const header = (req: IncomingMessage, name: string): string | undefined => {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
};

/**
 * Wrap an HTTP handler in a SERVER span that continues the caller's trace (W3C `traceparent`
 * header) and ends when the response finishes, so a streamed body counts in full. Health checks
 * are not traced: they would drown the traces that matter.
 */
export function tracedHandler(handler: Handler, options: TracedHandlerOptions): Handler {
  const metrics = options.metrics ?? noopMetrics;
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/health' || path === '/ready') return handler(req, res);
    const method = req.method ?? 'GET';
    const route = routeOf(path);
    const parent = propagation.extract(context.active(), req.headers);
    const retryCount = Number(header(req, 'x-stainless-retry-count') ?? '0');
    const taskId = header(req, 'x-openclaw-task-id');
    const lane = header(req, 'x-openclaw-priority');
    const fence = Number(header(req, 'x-openclaw-fence'));
    const attributes: Attributes = {
      'http.request.method': method,
      'url.path': path,
      'http.route': route,
      ...(taskId !== undefined ? { [OPENCLAW.taskId]: taskId } : {}),
      ...(lane !== undefined ? { [OPENCLAW.lane]: lane } : {}),
      ...(Number.isInteger(fence) && fence > 0 ? { [OPENCLAW.leaseFence]: fence } : {}),
      ...(retryCount > 0 ? { 'http.request.resend_count': retryCount } : {}),
    };
    const span = options.tracer.startSpan(`${method} ${route}`, { kind: SpanKind.SERVER, attributes }, parent);
    const started = performance.now();
    if (retryCount > 0) {
      metrics.emit([{ name: METRICS.llmRetries, value: 1 }], lane !== undefined ? { [DIMENSIONS.lane]: lane } : {}, { retryCount, ...(taskId !== undefined ? { taskId } : {}) });
    }
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: `HTTP ${res.statusCode}` });
      if (!res.writableFinished) span.setAttribute('error.type', 'response_aborted');
      span.end();
      options.onResponse?.({ method, route, status: res.statusCode, durationMs: performance.now() - started });
    };
    res.once('finish', end);
    res.once('close', end);
    return context.with(trace.setSpan(parent, span), () => handler(req, res));
  };
}
