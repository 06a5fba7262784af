import { trace, type Tracer } from '@opentelemetry/api';
import { EmfMetrics, type Metrics } from './metrics';
import { DIMENSIONS, type ServiceName } from './metrics-contract';
import { loadObservabilityConfig, type ObservabilityConfig } from './observability-config';
import { TRACER } from './spans';
import { startTracing, type TracingHandle } from './tracing';

/** What a service's main gets from one call at start: validated config, EMF metrics, its tracer. */
export interface ServiceObservability {
  readonly config: ObservabilityConfig;
  /** EMF on stdout, bound to Stage and Service. */
  readonly metrics: Metrics;
  readonly tracer: Tracer;
  readonly tracing: TracingHandle;
  /** Flush metrics and spans; call after the service drained, before exit. */
  shutdown(): Promise<void>;
}

/**
 * Parse the observability variables, start the OpenTelemetry SDK (OTLP to the collector when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set) and bind the metrics to the service.
 */
export function startServiceObservability(service: ServiceName, stage: string, env: Readonly<Record<string, string | undefined>>): ServiceObservability {
  const config = loadObservabilityConfig(env);
  const tracing = startTracing({ serviceName: service, stage, ...(config.otlpEndpoint !== undefined ? { otlpEndpoint: config.otlpEndpoint } : {}) });
  const metrics = new EmfMetrics({ dimensions: { [DIMENSIONS.stage]: stage, [DIMENSIONS.service]: service } });
  return {
    config,
    metrics,
    tracer: trace.getTracer(TRACER[service]),
    tracing,
    shutdown: async () => {
      await Promise.all([metrics.flush(), tracing.shutdown()]);
    },
  };
}
