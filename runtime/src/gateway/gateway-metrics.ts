import type { CircuitState } from './circuit-breaker';
import type { RejectReason } from './gateway-errors';
import type { Lane } from './limits-config';

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
}

export type UpstreamErrorKind = 'status' | 'timeout' | 'connection' | 'stream_error' | 'broken_stream' | 'rate_limited' | 'spend_limit';

export const noopGatewayMetrics: GatewayMetrics = {
  admitted: () => undefined,
  queued: () => undefined,
  rejected: () => undefined,
  upstreamError: () => undefined,
  circuit: () => undefined,
};
