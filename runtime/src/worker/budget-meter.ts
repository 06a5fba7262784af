import { estimateCostUsd, type ModelProfile, type PriceTable } from '../shared/model-profiles';
import { BUDGET_FIELDS, type BudgetField, type TaskBudget } from '../shared/task-budget';
import type { StepRecord } from '../shared/task-model';
import type { LlmStepPayload } from './conversation';

/** What a task has used, measured from its checkpoints (and its first start), never from memory. */
export interface BudgetUsage {
  readonly maxSteps: number;
  readonly maxTokens: number;
  readonly maxCostUsd: number;
  readonly maxDurationSeconds: number;
}

export interface BudgetExhausted {
  readonly budget: BudgetField;
  readonly limit: number;
  readonly used: number;
  readonly message: string;
}

const UNIT: Record<BudgetField, string> = { maxSteps: 'steps', maxTokens: 'tokens', maxCostUsd: 'USD', maxDurationSeconds: 's' };

/**
 * The price of a call. A model the table does not know is priced at the table's highest rates, so
 * a cost budget is never silently unenforced (add the model to MODEL_PRICES for exact figures).
 */
export function stepCostUsd(prices: PriceTable, model: string, inputTokens: number, outputTokens: number): number {
  const known = estimateCostUsd(prices, model, inputTokens, outputTokens);
  if (known !== undefined) return known;
  const profiles: ModelProfile[] = Object.values(prices);
  const inRate = Math.max(0, ...profiles.map((p) => p.inputUsdPerMTok));
  const outRate = Math.max(0, ...profiles.map((p) => p.outputUsdPerMTok));
  return (inputTokens * inRate + outputTokens * outRate) / 1_000_000;
}

/**
 * Usage from the checkpoint log: every recorded step counts, whichever worker wrote it, so a task
 * killed and resumed elsewhere carries on with what it had left. Duration runs from the task's
 * first start (`startedAt` is set once, on the first receive).
 */
export function measureUsage(steps: readonly StepRecord[], startedAtMs: number, nowMs: number, prices: PriceTable): BudgetUsage {
  let tokens = 0;
  let cost = 0;
  for (const step of steps) {
    if (step.kind !== 'llm') continue;
    const p = step.payload as unknown as LlmStepPayload;
    tokens += p.inputTokens + p.outputTokens;
    cost += stepCostUsd(prices, p.model, p.inputTokens, p.outputTokens);
  }
  return { maxSteps: steps.length, maxTokens: tokens, maxCostUsd: cost, maxDurationSeconds: Math.max(0, (nowMs - startedAtMs) / 1000) };
}

/** The first budget the task has used up (used ≥ limit: another step would exceed it), if any. */
export function exhaustedBudget(budget: TaskBudget | undefined, usage: BudgetUsage): BudgetExhausted | undefined {
  if (budget === undefined) return undefined;
  for (const field of BUDGET_FIELDS) {
    const limit = budget[field];
    if (limit === undefined || usage[field] < limit) continue;
    const used = field === 'maxCostUsd' ? Math.round(usage[field] * 1e6) / 1e6 : field === 'maxDurationSeconds' ? Math.round(usage[field]) : usage[field];
    return {
      budget: field,
      limit,
      used,
      message: `budget ${field} exhausted: used ${used} ${UNIT[field]} of ${limit}; what the task produced so far is kept (steps, usage)`,
    };
  }
  return undefined;
}

/** Output tokens the next call may ask for without passing a token budget (at least 1). */
export function maxTokensWithin(budget: TaskBudget | undefined, usage: BudgetUsage, perCall: number): number {
  if (budget?.maxTokens === undefined) return perCall;
  return Math.max(1, Math.min(perCall, budget.maxTokens - usage.maxTokens));
}
