/**
 * The gateway's one table of errors, in the provider's vocabulary: which `error.type` goes with
 * which status, how the retry headers are written, and how an upstream answer is classified. The
 * SDK maps statuses to error classes and reads `x-should-retry`, then `retry-after-ms`, then
 * `retry-after` (in that order), so every refusal the gateway writes goes through `retryHeaders`.
 */

/** Provider error types by HTTP status (Anthropic's documented pairs). */
export const ERROR_TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'overloaded_error',
  504: 'api_error',
  529: 'overloaded_error',
};

/** The provider's error type for a status; 5xx without a pair is an api_error. */
export function errorTypeFor(status: number): string {
  return ERROR_TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

export interface RetryAdvice {
  /** How long the caller should wait, in ms (rounded up, at least 1). */
  readonly retryAfterMs?: number;
  /** `false`: the SDK must not retry on its own (e.g. an open circuit, a spend limit). */
  readonly shouldRetry?: boolean;
}

/** Headers that carry retry advice: `retry-after-ms`, whole-second `retry-after`, `x-should-retry`. */
export function retryHeaders(advice: RetryAdvice): Record<string, string> {
  const headers: Record<string, string> = {};
  if (advice.shouldRetry !== undefined) headers['x-should-retry'] = String(advice.shouldRetry);
  if (advice.retryAfterMs !== undefined) {
    const ms = Math.max(1, Math.ceil(advice.retryAfterMs));
    headers['retry-after-ms'] = String(ms);
    headers['retry-after'] = String(Math.max(1, Math.ceil(ms / 1000)));
  }
  return headers;
}

/**
 * What an upstream answer means for the gateway:
 * - `success`: charge usage, close a failing streak;
 * - `caller_error`: the request was at fault (4xx), the provider is healthy;
 * - `provider_failure`: counts against the breaker (5xx, 529);
 * - `rate_limited`: the provider's bucket is empty whatever ours says;
 * - `spend_limit`: the organisation hit its spend limit; retrying cannot help.
 */
export type UpstreamOutcome = 'success' | 'caller_error' | 'provider_failure' | 'rate_limited' | 'spend_limit';

function isSpendLimitBody(body: string | undefined): boolean {
  if (body === undefined) return false;
  try {
    const parsed = JSON.parse(body) as { error?: { details?: { error_code?: string } } };
    return parsed.error?.details?.error_code === 'enforced_spend_limit_reached';
  } catch {
    return false;
  }
}

/** Classify a non-streamed upstream answer by status (and, for 429, its body). Pure. */
export function classifyUpstream(status: number, body?: string): UpstreamOutcome {
  if (status >= 200 && status < 300) return 'success';
  if (status === 429) return isSpendLimitBody(body) ? 'spend_limit' : 'rate_limited';
  if (status >= 500) return 'provider_failure';
  return 'caller_error';
}

/** Stream `error` events that count against the breaker; others (e.g. invalid_request) are the caller's. */
const FAILING_STREAM_ERRORS = new Set(['overloaded_error', 'api_error', 'timeout_error']);

/** Classify a stream's `error` event type (undefined: the stream ended without one). Pure. */
export function classifyStreamError(errorType: string | undefined): UpstreamOutcome {
  if (errorType === undefined) return 'success';
  return FAILING_STREAM_ERRORS.has(errorType) ? 'provider_failure' : 'caller_error';
}
