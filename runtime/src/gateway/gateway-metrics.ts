import type { CircuitState } from './circuit-breaker';
import type { RejectReason } from './gateway-errors';
import type { Lane } from '../shared/gateway-limits';
import type { Metrics } from '../shared/metrics';
import { DIMENSIONS, METRICS } from '../shared/metrics-contract';

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

/** The gateway's events on the shared metrics port (EMF in AWS, in memory in tests). */
export function gatewayMetricsFrom(metrics: Metrics): GatewayMetrics {
  const lane = (value: Lane) => ({ [DIMENSIONS.lane]: value });
  return {
    admitted: (e) => metrics.emit([{ name: METRICS.gatewayAdmitted, value: 1 }], { ...lane(e.lane), [DIMENSIONS.model]: e.model }, { tier: e.tier, queuedMs: e.queuedMs, routed: e.routed }),
    queued: (e) => metrics.emit([{ name: METRICS.gatewayQueued, value: 1 }], lane(e.lane), { tier: e.tier }),
    rejected: (e) => metrics.emit([{ name: METRICS.gatewayRejected, value: 1 }], lane(e.lane), { tier: e.tier, reason: e.reason }),
    upstreamError: (e) =>
      metrics.emit([{ name: METRICS.gatewayUpstreamErrors, value: 1 }], { [DIMENSIONS.model]: e.model }, { kind: e.kind, ...(e.status !== undefined ? { status: e.status } : {}) }),
    // Half-open still refuses all but one probe, so it counts as open for the alarm.
    circuit: (e) => metrics.emit([{ name: METRICS.circuitOpen, value: e.state === 'closed' ? 0 : 1 }], { [DIMENSIONS.model]: e.model }, { state: e.state }),
    spendCeilingUse: (e) => metrics.emit([{ name: METRICS.gatewaySpendCeilingUse, value: e.use }], {}),
    fallback: (e) => metrics.emit([{ name: METRICS.gatewayFallbacks, value: 1 }], { [DIMENSIONS.model]: e.requested }, { servedBy: e.model, reason: e.reason }),
  };
}
