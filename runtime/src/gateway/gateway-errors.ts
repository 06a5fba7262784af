import { HttpError } from '../shared/errors';
import type { Lane } from '../shared/gateway-limits';

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

export type RejectReason = 'rate_limited' | 'queue_full' | 'deadline' | 'too_large';

/** Backpressure: no capacity for this lane within the caller's deadline. */
export class RateLimitedError extends GatewayHttpError {
  readonly retryAfterMs: number;
  readonly reason: RejectReason;

  constructor(message: string, context: { tier: string; lane: Lane; retryAfterMs: number; reason: RejectReason }) {
    const retryAfterMs = Math.max(1, Math.ceil(context.retryAfterMs));
    super(429, 'rate_limit_error', message, context, {
      'retry-after-ms': String(retryAfterMs),
      'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
    });
    this.retryAfterMs = retryAfterMs;
    this.reason = context.reason;
  }
}

/** The upstream model is failing; callers should pause rather than spend their retries. */
export class CircuitOpenError extends GatewayHttpError {
  constructor(model: string, retryAfterMs: number) {
    const ms = Math.max(1, Math.ceil(retryAfterMs));
    super(
      503,
      'overloaded_error',
      `Circuit open for model ${model}: upstream errors persisted, so the gateway is not sending it requests; it probes again in ${ms} ms. Pause and retry later`,
      { model, retryAfterMs: ms },
      { 'x-should-retry': 'false', 'retry-after-ms': String(ms), 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) },
    );
  }
}

/** The request itself is malformed (bad JSON, unknown lane): fixing it is the caller's job. */
export function invalidRequest(message: string): GatewayHttpError {
  return new GatewayHttpError(400, 'invalid_request_error', message);
}
