import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  SamplingDecision,
  SimpleSpanProcessor,
  type Sampler,
  type SamplingResult,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { startInstrumentations } from './instrumentations';

/**
 * The one place the OpenTelemetry SDK is set up. Each service's main calls startTracing once at
 * start; everything else uses @opentelemetry/api through spans.ts.
 */
export interface TracingOptions {
  /** `service.name` of the resource: intake, worker, gateway, or openclaw-local for `npm start`. */
  readonly serviceName: string;
  /** Recorded as `deployment.environment.name`. */
  readonly stage?: string;
  /**
   * OTLP/HTTP base URL of the collector (the ADOT sidecar listens on http://localhost:4318);
   * spans go to `<endpoint>/v1/traces` in batches. Unset: no OTLP export.
   */
  readonly otlpEndpoint?: string;
  /**
   * Exporters that get each span as it ends (the local span store, a test's InMemorySpanExporter).
   * @default none
   */
  readonly exporters?: readonly SpanExporter[];
  /**
   * Span every AWS SDK call (DynamoDB, SQS) and outgoing HTTP/fetch call under the span that made it
   * (the OpenTelemetry aws-sdk, http and undici instrumentations).
   * @default true
   */
  readonly instrument?: boolean;
}

export interface TracingHandle {
  /** Export what is buffered now (tests, and before a drained worker exits). */
  forceFlush(): Promise<void>;
  /** Flush, stop exporting and unregister the global provider so another can be installed. */
  shutdown(): Promise<void>;
}

/** The OTLP traces URL for a collector base URL, as OTEL_EXPORTER_OTLP_ENDPOINT defines it. */
export function otlpTracesUrl(endpoint: string): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * Root spans are kept except an AWS call made outside any operation (a worker's idle long poll, the
 * gateway's background refresh): alone in its own trace it explains nothing and would bury the
 * task traces. An AWS call inside a request or a task follows its parent's decision.
 */
export const dropOrphanAwsCalls: Sampler = {
  shouldSample(_context, _traceId, _name, _kind, attributes): SamplingResult {
    return { decision: attributes['rpc.system'] === 'aws-api' ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED };
  },
  toString: () => 'DropOrphanAwsCalls',
};

export function startTracing(options: TracingOptions): TracingHandle {
  const processors: SpanProcessor[] = (options.exporters ?? []).map((e) => new SimpleSpanProcessor(e));
  if (options.otlpEndpoint !== undefined) {
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: otlpTracesUrl(options.otlpEndpoint) }), { scheduledDelayMillis: 2000 }));
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: options.serviceName,
      ...(options.stage !== undefined ? { 'deployment.environment.name': options.stage } : {}),
    }),
    spanProcessors: processors,
    sampler: new ParentBasedSampler({ root: dropOrphanAwsCalls }),
  });
  // Sets the global provider, the AsyncLocalStorage context manager and the W3C propagator.
  provider.register();
  const instrumentations = options.instrument === false ? undefined : startInstrumentations(provider);
  return {
    forceFlush: () => provider.forceFlush(),
    shutdown: async () => {
      instrumentations?.stop();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
