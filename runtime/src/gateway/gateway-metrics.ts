import type { CircuitState } from './circuit-breaker';
import type { RejectReason } from './gateway-errors';
import type { Lane } from '../shared/gateway-limits';
import type { Dimensions, Metrics } from '../shared/metrics';
import { DIMENSIONS, METRICS, type MetricName } from '../shared/metrics-contract';

/**
 * What the gateway reports, by the names in shared/metrics-contract.ts (GatewayAdmitted,
 * GatewayQueued, GatewayRejected, GatewayUpstreamErrors, CircuitOpen). A port, so tests count
 * calls and production writes EMF.
 */
export interface GatewayMetrics {
  admitted(event: { readonly lane: Lane; readonly tier: string; readonly model: string; readonly queuedMs: number; readonly routed: boolean }): void;
  queued(event: { readonly lane: Lane; readonly tier: string }): void;
  rejected(event: { readonly lane: Lane; readonly tier: string; readonly reason: RejectReason | 'circuit_open' }): void;
  upstreamError(event: { readonly model: string; readonly kind: UpstreamErrorKind; readonly status?: number }): void;
  circuit(event: { readonly model: string; readonly state: CircuitState }): void;
  /** Share (0–1) of the spend ceiling in use. */
  spendCeilingUse(event: { readonly use: number }): void;
  /** A call was served by `model`, the fallback of `requested`. */
  fallback(event: { readonly requested: string; readonly model: string; readonly reason: 'circuit_open' | 'no_capacity' }): void;
}

export type UpstreamErrorKind = 'status' | 'timeout' | 'connection' | 'stream_error' | 'broken_stream' | 'idle_timeout' | 'rate_limited' | 'spend_limit';

export const noopGatewayMetrics: GatewayMetrics = {
  admitted: () => undefined,
  queued: () => undefined,
  rejected: () => undefined,
  upstreamError: () => undefined,
  circuit: () => undefined,
  spendCeilingUse: () => undefined,
  fallback: () => undefined,
};

export interface GatewayMetricsOptions {
  /**
   * Sum the per-request counters (admitted, queued, rejected, upstream errors, fallbacks) over
   * this many ms and write one EMF record per metric and dimension set, instead of one per
   * request: at thousands of requests a second (a 10× overload is mostly 429s) a record per
   * request was the gateway's largest CPU cost after the HTTP work itself. CloudWatch sums them
   * the same way. Gauges (circuit state, spend-ceiling use) are written at once. 0 writes every
   * event as it happens (local runs and tests read them back one by one). @default 0
   */
  readonly batchMs?: number;
}

/** The metrics port plus what a batching one needs at shutdown. */
export interface FlushableGatewayMetrics extends GatewayMetrics {
  /** Write the counters summed so far (and stop the timer when `stop`). */
  flush(stop?: boolean): void;
}

interface Counter {
  readonly name: MetricName;
  readonly dimensions: Dimensions;
  readonly properties: Record<string, unknown>;
  count: number;
}

/** The gateway's events on the shared metrics port (EMF in AWS, in memory in tests). */
export function gatewayMetricsFrom(metrics: Metrics, options: GatewayMetricsOptions = {}): FlushableGatewayMetrics {
  const batchMs = options.batchMs ?? 0;
  const counters = new Map<string, Counter>();
  const flush = () => {
    for (const c of counters.values()) metrics.emit([{ name: c.name, value: c.count }], c.dimensions, c.properties);
    counters.clear();
  };
  const timer = batchMs > 0 ? setInterval(flush, batchMs) : undefined;
  // The server keeps the process alive; the metrics timer alone should not.
  timer?.unref();
  const count = (name: MetricName, key: string, dimensions: Dimensions, properties: Record<string, unknown>) => {
    if (timer === undefined) return metrics.emit([{ name, value: 1 }], dimensions, properties);
    const c = counters.get(key);
    if (c !== undefined) c.count += 1;
    else counters.set(key, { name, dimensions, properties, count: 1 });
  };
  const lane = (value: Lane) => ({ [DIMENSIONS.lane]: value });
  return {
    // The wait of each admission is in its x-openclaw-queued-ms header and span; the metric counts.
    admitted: (e) =>
      count(METRICS.gatewayAdmitted, `a|${e.lane}|${e.model}|${e.tier}|${e.routed}`, { ...lane(e.lane), [DIMENSIONS.model]: e.model }, { tier: e.tier, routed: e.routed, ...(timer === undefined ? { queuedMs: e.queuedMs } : {}) }),
    queued: (e) => count(METRICS.gatewayQueued, `q|${e.lane}|${e.tier}`, lane(e.lane), { tier: e.tier }),
    rejected: (e) => count(METRICS.gatewayRejected, `r|${e.lane}|${e.tier}|${e.reason}`, lane(e.lane), { tier: e.tier, reason: e.reason }),
    upstreamError: (e) =>
      count(METRICS.gatewayUpstreamErrors, `u|${e.model}|${e.kind}|${e.status ?? ''}`, { [DIMENSIONS.model]: e.model }, { kind: e.kind, ...(e.status !== undefined ? { status: e.status } : {}) }),
    // Half-open still refuses all but one probe, so it counts as open for the alarm.
    circuit: (e) => metrics.emit([{ name: METRICS.circuitOpen, value: e.state === 'closed' ? 0 : 1 }], { [DIMENSIONS.model]: e.model }, { state: e.state }),
    spendCeilingUse: (e) => metrics.emit([{ name: METRICS.gatewaySpendCeilingUse, value: e.use }], {}),
    fallback: (e) => count(METRICS.gatewayFallbacks, `f|${e.requested}|${e.model}|${e.reason}`, { [DIMENSIONS.model]: e.requested }, { servedBy: e.model, reason: e.reason }),
    flush: (stop = false) => {
      if (stop) clearInterval(timer);
      flush();
    },
  };
}
