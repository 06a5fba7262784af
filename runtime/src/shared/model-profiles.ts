import { z } from 'zod';
import { ConfigError } from './errors';
import { describeIssues } from './zod-issues';

/** What the runtime needs to know about a model to report cost and context use. */
export interface ModelProfile {
  /** USD per million input tokens. */
  readonly inputUsdPerMTok: number;
  /** USD per million output tokens. */
  readonly outputUsdPerMTok: number;
  /** Context window in tokens. */
  readonly contextWindow: number;
}

/**
 * Profiles keyed by model-name prefix; the longest matching prefix wins, so `claude-sonnet` covers
 * every Sonnet release unless a more specific entry exists.
 */
export type PriceTable = Readonly<Record<string, ModelProfile>>;

/** List prices at the time of writing; override with MODEL_PRICES when they change. */
export const DEFAULT_PRICE_TABLE: PriceTable = {
  'claude-opus': { inputUsdPerMTok: 5, outputUsdPerMTok: 25, contextWindow: 200_000 },
  'claude-sonnet': { inputUsdPerMTok: 3, outputUsdPerMTok: 15, contextWindow: 200_000 },
  'claude-haiku': { inputUsdPerMTok: 1, outputUsdPerMTok: 5, contextWindow: 200_000 },
};

const profileSchema = z.object({
  inputUsdPerMTok: z.number().nonnegative(),
  outputUsdPerMTok: z.number().nonnegative(),
  contextWindow: z.number().int().positive(),
});
const tableSchema = z.record(z.string().min(1), profileSchema);

/**
 * Parse a JSON price table (the MODEL_PRICES variable) and merge it over the defaults.
 * @param variable named in the error so the operator knows what to fix
 */
export function parsePriceTable(json: string | undefined, variable = 'MODEL_PRICES'): PriceTable {
  if (json === undefined) return DEFAULT_PRICE_TABLE;
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new ConfigError(`${variable} is not valid JSON; expected {"<model prefix>": {"inputUsdPerMTok": 3, "outputUsdPerMTok": 15, "contextWindow": 200000}}`, { variable });
  }
  const parsed = tableSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`${variable} is not a valid price table: ${describeIssues(parsed.error)}`, { variable });
  }
  return { ...DEFAULT_PRICE_TABLE, ...parsed.data };
}

/** The profile whose prefix matches the model name best, if any. */
export function profileFor(table: PriceTable, model: string): ModelProfile | undefined {
  let best: string | undefined;
  for (const prefix of Object.keys(table)) {
    if (model.startsWith(prefix) && (best === undefined || prefix.length > best.length)) best = prefix;
  }
  return best === undefined ? undefined : table[best];
}

/** Estimated USD for a usage, or undefined for a model the table does not know. */
export function estimateCostUsd(table: PriceTable, model: string, inputTokens: number, outputTokens: number): number | undefined {
  const p = profileFor(table, model);
  if (p === undefined) return undefined;
  return (inputTokens * p.inputUsdPerMTok + outputTokens * p.outputUsdPerMTok) / 1_000_000;
}
