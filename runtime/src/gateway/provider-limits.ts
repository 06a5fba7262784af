/**
 * The provider's own view of its rate limits, as Anthropic reports it on every Messages response:
 * `anthropic-ratelimit-{requests,input-tokens,output-tokens}-{limit,remaining,reset}` and, on a 429,
 * `retry-after`. The gateway uses it to calibrate its shared buckets down, never up: the provider's
 * capacity may also be spent by other users of the same organisation key, so a report can only tell
 * us we have less than we think, and the configured limit stays the ceiling.
 */
import type { Units } from './gcra';

/** Header infixes in Units order: requests, input tokens, output tokens. */
export const DIMENSIONS = ['requests', 'input-tokens', 'output-tokens'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/** One dimension as reported; a field is absent when its header was missing or malformed. */
export interface ProviderDimension {
  /** The provider's per-minute limit for this organisation and model. */
  readonly limit?: number;
  /** What the provider would still accept now. */
  readonly remaining?: number;
  /** Epoch ms at which the provider's bucket is full again. */
  readonly resetAt?: number;
}

export interface ProviderLimits {
  readonly requests: ProviderDimension;
  readonly inputTokens: ProviderDimension;
  readonly outputTokens: ProviderDimension;
  /** `retry-after` in ms (seconds or an HTTP date), when present and valid. */
  readonly retryAfterMs?: number;
}

/** The part of a fetch `Headers` this module reads. */
export interface HeaderSource {
  get(name: string): string | null;
}

const INTEGER = /^\d+$/;
/** RFC 3339 date-time; Date.parse alone accepts far looser text. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function count(value: string | null): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (!INTEGER.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

function instant(value: string | null): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (!RFC3339.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

function retryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return /[a-z]/i.test(text) && Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

function dimension(headers: HeaderSource, name: Dimension): ProviderDimension {
  const limit = count(headers.get(`anthropic-ratelimit-${name}-limit`));
  const remaining = count(headers.get(`anthropic-ratelimit-${name}-remaining`));
  const resetAt = instant(headers.get(`anthropic-ratelimit-${name}-reset`));
  return { ...(limit !== undefined ? { limit } : {}), ...(remaining !== undefined ? { remaining } : {}), ...(resetAt !== undefined ? { resetAt } : {}) };
}

/** Read the rate-limit headers; missing or malformed values are left out, nothing throws. */
export function parseProviderLimits(headers: HeaderSource, now: number = Date.now()): ProviderLimits {
  const retry = retryAfter(headers.get('retry-after'), now);
  return {
    requests: dimension(headers, 'requests'),
    inputTokens: dimension(headers, 'input-tokens'),
    outputTokens: dimension(headers, 'output-tokens'),
    ...(retry !== undefined ? { retryAfterMs: retry } : {}),
  };
}

const inOrder = (p: ProviderLimits): readonly ProviderDimension[] => [p.requests, p.inputTokens, p.outputTokens];

/**
 * The most each bucket may still hold, in Units order (Infinity where the provider said nothing),
 * or undefined when no dimension reported `remaining`.
 */
export function availableCap(p: ProviderLimits): Units | undefined {
  const caps = inOrder(p).map((d) => d.remaining ?? Number.POSITIVE_INFINITY);
  return caps.every((c) => c === Number.POSITIVE_INFINITY) ? undefined : [caps[0] ?? Infinity, caps[1] ?? Infinity, caps[2] ?? Infinity];
}

export interface LimitBelowConfig {
  readonly dimension: Dimension;
  readonly providerLimit: number;
  readonly configuredLimit: number;
}

/** Dimensions where the provider's limit is below ours: GATEWAY_LIMITS promises more than exists. */
export function limitsBelowConfig(p: ProviderLimits, configured: Units): LimitBelowConfig[] {
  const out: LimitBelowConfig[] = [];
  inOrder(p).forEach((d, i) => {
    const configuredLimit = configured[i] ?? 0;
    const dim = DIMENSIONS[i];
    if (d.limit !== undefined && dim !== undefined && d.limit < configuredLimit) out.push({ dimension: dim, providerLimit: d.limit, configuredLimit });
  });
  return out;
}
