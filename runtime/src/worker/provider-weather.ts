import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { OpenClawError } from '../shared/errors';

/**
 * Why a step could not be taken, when that is nobody's fault in the task: the provider's (or the
 * gateway's) rate limit or spend limit, overload, a server error, a timeout, the gateway
 * unreachable, the API key rejected; or DynamoDB cancelling a checkpoint for throttling or a
 * conflicting transaction after the store's own retries.
 */
export type WeatherKind = 'rate_limited' | 'spend_limited' | 'overloaded' | 'server_error' | 'timeout' | 'unreachable' | 'auth_rejected' | 'store_contention';

/**
 * The model call failed for a reason outside the task (see WeatherKind). The worker hands the task
 * back with backoff without spending a receive toward the DLQ, and pauses polling.
 */
export class ProviderWeatherError extends OpenClawError {
  readonly kind: WeatherKind;
  /** What the answer asked for (`retry-after-ms`, else `retry-after`), if anything. */
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;

  constructor(kind: WeatherKind, context: { status?: number; retryAfterMs?: number; requestId?: string }, cause: unknown) {
    super(
      'provider_weather',
      `Model call failed (${kind}${context.status !== undefined ? `, HTTP ${context.status}` : ''}); not the task's fault, handing it back`,
      context,
      { cause },
    );
    this.kind = kind;
    this.retryAfterMs = context.retryAfterMs;
    this.status = context.status;
  }
}

/** `retry-after-ms`, else `retry-after` (seconds or an HTTP date), in ms; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers | undefined, now: number = Date.now()): number | undefined {
  const ms = Number(headers?.get('retry-after-ms') ?? Number.NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get('retry-after');
  if (raw === undefined || raw === null || raw === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The provider's (and the gateway's) way of saying a spend limit was reached. */
const SPEND_LIMIT_CODES = new Set(['enforced_spend_limit_reached']);
const SPEND_LIMIT_TYPES = new Set(['spend_limited', 'spend_limit_error']);

/**
 * Which weather an error from the model client is, or undefined when it is the task's own
 * (400 invalid request, 404, 413, 422: the request the task produced cannot succeed as it is).
 * Pure, so it is table-tested. A user abort (lease lost, drain deadline) is never weather.
 */
export function classifyModelError(err: unknown): WeatherKind | undefined {
  if (err instanceof APIUserAbortError) return undefined;
  if (err instanceof APIConnectionTimeoutError) return 'timeout';
  if (err instanceof APIConnectionError) return 'unreachable';
  if (!(err instanceof APIError) || err.status === undefined) return undefined;
  const status = err.status;
  if (status === 401 || status === 403) return 'auth_rejected';
  if (status === 429) {
    const type = (err.error as { error?: { type?: unknown } } | undefined)?.error?.type;
    if ((err.errorCode !== null && SPEND_LIMIT_CODES.has(err.errorCode)) || (typeof type === 'string' && SPEND_LIMIT_TYPES.has(type))) return 'spend_limited';
    return 'rate_limited';
  }
  if (status === 529) return 'overloaded';
  if (status === 408) return 'timeout';
  if (status >= 500) return 'server_error';
  return undefined;
}

/** The error as the worker handles it: ProviderWeatherError for weather, unchanged otherwise. */
export function asWeather(err: unknown): unknown {
  const kind = classifyModelError(err);
  if (kind === undefined) return err;
  const api = err as APIError;
  const status = typeof api.status === 'number' ? api.status : undefined;
  const after = retryAfterMs(api.headers ?? undefined);
  const requestId = api.requestID ?? undefined;
  return new ProviderWeatherError(
    kind,
    { ...(status !== undefined ? { status } : {}), ...(after !== undefined ? { retryAfterMs: after } : {}), ...(requestId !== undefined ? { requestId } : {}) },
    err,
  );
}

export interface WeatherBackoff {
  /** First hand-back's backoff ceiling. @default 2000 */
  readonly baseMs?: number;
  /** Largest backoff ceiling (SQS delays at most 900 s). @default 120_000 */
  readonly maxMs?: number;
}

/**
 * How long a task handed back for weather waits before it is visible again, in whole seconds:
 * full jitter over an exponential ceiling (by the task's earlier weather hand-backs), never less
 * than what the answer's retry-after asked for, never more than SQS's 900 s.
 */
export function weatherDelaySeconds(handBacks: number, retryAfter: number | undefined, backoff: WeatherBackoff = {}, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs ?? 120_000, (backoff.baseMs ?? 2000) * 2 ** Math.min(handBacks, 16));
  const jittered = random() * ceiling;
  return Math.min(900, Math.max(1, Math.ceil(Math.max(jittered, retryAfter ?? 0) / 1000)));
}
