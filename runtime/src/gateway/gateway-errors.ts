import { HttpError } from '../shared/errors';
import type { Lane } from '../shared/gateway-limits';
import { errorTypeFor, retryHeaders } from './error-map';

/**
 * An error the gateway answers itself, in the provider's shape
 * `{"type":"error","error":{"type","message"}}`, so the SDK maps it to the same error classes a
 * direct call would produce.
 */
export class GatewayHttpError extends HttpError {
  override toBody(): { type: 'error'; error: { type: string; message: string } } {
    return { type: 'error', error: { type: this.type, message: this.message } };
  }
}

export type RejectReason = 'rate_limited' | 'queue_full' | 'deadline' | 'too_large' | 'spend_limited';

/** Backpressure: no capacity for this lane within the caller's deadline. */
export class RateLimitedError extends GatewayHttpError {
  readonly retryAfterMs: number;
  readonly reason: RejectReason;

  constructor(message: string, context: { tier: string; lane: Lane; retryAfterMs: number; reason: RejectReason }, type: string = errorTypeFor(429)) {
    const retryAfterMs = Math.max(1, Math.ceil(context.retryAfterMs));
    super(429, type, message, context, retryHeaders({ retryAfterMs }));
    this.retryAfterMs = retryAfterMs;
    this.reason = context.reason;
  }
}

/** The upstream model is failing; callers should pause rather than spend their retries. */
export class CircuitOpenError extends GatewayHttpError {
  readonly model: string;

  constructor(model: string, retryAfterMs: number) {
    const ms = Math.max(1, Math.ceil(retryAfterMs));
    super(
      503,
      errorTypeFor(503),
      `Circuit open for model ${model}: upstream errors persisted, so the gateway is not sending it requests; it probes again in ${ms} ms. Pause and retry later`,
      { model, retryAfterMs: ms },
      retryHeaders({ retryAfterMs: ms, shouldRetry: false }),
    );
    this.model = model;
  }
}

/** The upstream did not answer in time (504) or could not be reached (502). */
export function upstreamUnavailable(timedOut: boolean, message: string, model: string): GatewayHttpError {
  const status = timedOut ? 504 : 502;
  return new GatewayHttpError(status, errorTypeFor(status), message, { model });
}

/** The request itself is malformed (bad JSON, unknown lane): fixing it is the caller's job. */
export function invalidRequest(message: string): GatewayHttpError {
  return new GatewayHttpError(400, errorTypeFor(400), message);
}

/** No route for this method and path. */
export function notFound(message: string): GatewayHttpError {
  return new GatewayHttpError(404, errorTypeFor(404), message);
}

/** A server-side misconfiguration the caller cannot fix (e.g. a tier without limits). */
export function gatewayMisconfigured(message: string): GatewayHttpError {
  return new GatewayHttpError(500, errorTypeFor(500), message);
}
