import { z } from 'zod';
import { ConfigError } from './errors';
import { describeIssues } from './zod-issues';

/** Priority lanes, highest first; the worker sends one in `x-openclaw-priority`. */
export const LANES = ['high', 'normal', 'batch'] as const;
export type Lane = (typeof LANES)[number];

const perMinute = z.number().int().positive();

const tierSchema = z.object({
  /** Model IDs (or ID prefixes, e.g. dated snapshots) that share this tier's provider limits. */
  models: z.array(z.string().min(1)).min(1),
  /** Requests per minute. */
  rpm: perMinute,
  /** Input tokens per minute (uncached input plus cache writes). */
  itpm: perMinute,
  /** Output tokens per minute. */
  otpm: perMinute,
  /** Charge cache reads to input tokens; the provider does not on most models. */
  chargeCacheReads: z.boolean().default(false),
  /**
   * Another tier whose first model serves this tier's calls when its circuit is open or a lane
   * cannot be admitted before its deadline (unless the caller pins its model).
   */
  fallback: z.string().optional(),
});

const share = z.number().min(0).max(1);

const schema = z
  .object({
    tiers: z.record(z.string().regex(/^[a-z0-9-]+$/), tierSchema).refine((t) => Object.keys(t).length > 0, 'define at least one tier'),
    /** The tier for a model that no tier lists. */
    fallbackTier: z.string().default('sonnet'),
    /**
     * How full a bucket each lane may fill, as a share of its one-minute capacity. High may use all
     * of it; whatever lies above a lane's ceiling is reserved for the lanes above it. Below the
     * lowest ceiling (the saturation threshold) every lane admits freely, i.e. borrows.
     */
    lanes: z
      .object({ high: share.default(1), normal: share.default(0.8), batch: share.default(0.6) })
      .prefault({})
      .refine((l) => l.high >= l.normal && l.normal >= l.batch, 'lane ceilings must satisfy high >= normal >= batch'),
    /** The bounded wait before a 429. */
    queue: z
      .object({
        /** Longest time a request waits for capacity, further capped by the caller's own timeout. */
        maxWaitMs: z.number().int().min(0).default(10_000),
        /** Waiting requests per tier beyond which new ones are refused at once. */
        maxDepth: z.number().int().min(0).default(1000),
        /** Added to retry-after as a per-caller spread, as a share of the wait. */
        jitter: share.default(0.25),
        /**
         * Capacity leased in slices, so most admissions need no shared write: a replica claims about
         * twice its recent demand over `horizonMs` in one write (charged like any admission, so the
         * limits stay exact), spends it locally, and gives back what is unused after `ttlMs`. A slice
         * takes at most `headroomShare` of what is left below the lowest lane ceiling, so slices shrink
         * to nothing as the buckets near saturation. `horizonMs: 0` makes every admission a shared write.
         */
        lease: z
          .object({
            horizonMs: z.number().int().min(0).max(10_000).default(1000),
            headroomShare: z.number().gt(0).max(1).default(0.25),
            ttlMs: z.number().int().positive().max(60_000).default(2000),
          })
          .prefault({}),
      })
      .prefault({}),
    breaker: z
      .object({
        /** Upstream errors must persist this long, with no success in between, to open the circuit. */
        windowMs: z.number().int().positive().default(30_000),
        /** And at least this many errors within the streak. */
        minFailures: z.number().int().positive().default(5),
        /** Open for this long before one probe is let through (half-open). */
        openMs: z.number().int().positive().default(15_000),
        /** How stale a replica's view of another replica's breaker state may be. */
        refreshMs: z.number().int().positive().default(1000),
      })
      .prefault({}),
    /** Rules tried in order; the first match rewrites the request's model. */
    routing: z
      .array(
        z.object({
          /** Matches `x-openclaw-intent`. */
          intent: z.string().min(1).optional(),
          /** Matches requests whose max_tokens is at most this. */
          maxTokensAtMost: z.number().int().positive().optional(),
          /** Matches a system prompt containing this text. */
          systemIncludes: z.string().min(1).optional(),
          model: z.string().min(1),
        }),
      )
      .default([{ intent: 'classification', model: 'claude-haiku-5-5' }]),
    /** Give up on an upstream that sends no response headers within this time. */
    upstreamTimeoutMs: z.number().int().positive().default(120_000),
    /**
     * Give up on an upstream body or stream that sends no bytes for this long after its headers
     * (the provider pings streams every few seconds, so a minute of silence is a stalled call).
     */
    upstreamIdleTimeoutMs: z.number().int().positive().default(60_000),
  })
  .superRefine((v, ctx) => {
    for (const [name, tier] of Object.entries(v.tiers)) {
      if (tier.fallback === undefined) continue;
      if (tier.fallback === name || v.tiers[tier.fallback] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['tiers', name, 'fallback'], message: `"${tier.fallback}" must name another tier (${Object.keys(v.tiers).filter((t) => t !== name).join(', ')})` });
      }
    }
    if (v.tiers[v.fallbackTier] === undefined) {
      ctx.addIssue({ code: 'custom', path: ['fallbackTier'], message: `"${v.fallbackTier}" is not one of the tiers (${Object.keys(v.tiers).join(', ')})` });
    }
  });

export type GatewayLimits = z.infer<typeof schema>;
export type TierLimits = GatewayLimits['tiers'][string];
export type RoutingRule = GatewayLimits['routing'][number];

/**
 * Defaults sized like a modest provider tier; production sets GATEWAY_LIMITS from the
 * organisation's actual limits (Anthropic console, or the anthropic-ratelimit-* headers).
 */
export const DEFAULT_TIERS = {
  sonnet: { models: ['claude-sonnet-5'], rpm: 4000, itpm: 2_000_000, otpm: 400_000 },
  opus: { models: ['claude-opus-5'], rpm: 4000, itpm: 2_000_000, otpm: 400_000 },
  haiku: { models: ['claude-haiku-5-5'], rpm: 4000, itpm: 4_000_000, otpm: 800_000 },
} as const;

/** Parse a GATEWAY_LIMITS object (already JSON-decoded); errors name the field and the fix. */
export function parseGatewayLimits(value: unknown): GatewayLimits {
  const input = value === undefined ? {} : value;
  const withTiers = typeof input === 'object' && input !== null && !('tiers' in input) ? { ...input, tiers: DEFAULT_TIERS } : input;
  const result = schema.safeParse(withTiers);
  if (!result.success) {
    throw new ConfigError(`Invalid GATEWAY_LIMITS: ${describeIssues(result.error)}. Fix the JSON, or unset it for the defaults`, {
      keys: result.error.issues.map((i) => i.path.join('.')),
    });
  }
  return result.data;
}

/** Decode the GATEWAY_LIMITS environment value (JSON text) and validate it. */
export function parseGatewayLimitsJson(text: string | undefined): GatewayLimits {
  if (text === undefined || text.trim() === '') return parseGatewayLimits(undefined);
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`Invalid GATEWAY_LIMITS: not JSON (${err instanceof Error ? err.message : String(err)}); set it to e.g. {"tiers":{"sonnet":{"models":["claude-sonnet-5"],"rpm":50,"itpm":30000,"otpm":8000}}}`);
  }
  return parseGatewayLimits(decoded);
}

/** The tier whose model list covers `model` (exact ID or prefix), else the fallback tier. */
export function tierOf(limits: GatewayLimits, model: string): string {
  for (const [name, tier] of Object.entries(limits.tiers)) {
    if (tier.models.some((m) => model === m || model.startsWith(`${m}-`))) return name;
  }
  return limits.fallbackTier;
}
