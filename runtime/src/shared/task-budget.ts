/**
 * Per-task budgets: the contract between the intake (which resolves a request's budget against its
 * API key's default and ceiling and stores it on the task row) and the worker (which enforces it
 * from the checkpoints).
 */
import { z } from 'zod';

export const BUDGET_FIELDS = ['maxSteps', 'maxTokens', 'maxCostUsd', 'maxDurationSeconds'] as const;
export type BudgetField = (typeof BUDGET_FIELDS)[number];

/** What one task may use; every field optional (unset: no limit of that kind). */
export interface TaskBudget {
  /** Checkpointed steps (LLM replies plus tool results). */
  readonly maxSteps?: number;
  /** Input plus output tokens over all model calls. */
  readonly maxTokens?: number;
  /** Estimated model cost in US dollars, from the price table (MODEL_PRICES). */
  readonly maxCostUsd?: number;
  /** Wall-clock seconds since the task first started, across workers and retries. */
  readonly maxDurationSeconds?: number;
}

export const taskBudgetSchema = z
  .object({
    maxSteps: z.int().min(1).max(100_000).optional().describe('Steps (LLM replies plus tool results)'),
    maxTokens: z.int().min(1).max(1_000_000_000).optional().describe('Input plus output tokens over all model calls'),
    maxCostUsd: z.number().positive().max(1_000_000).optional().describe('Estimated model cost in US dollars'),
    maxDurationSeconds: z.int().min(1).max(30 * 86_400).optional().describe('Seconds since the task first started'),
  })
  .strict();

/** A key's budgets: what a task gets when it asks for nothing, and the most it may ask for. */
export interface BudgetEntitlement {
  readonly default?: TaskBudget;
  readonly ceiling?: TaskBudget;
}

export const budgetEntitlementSchema = z
  .object({ default: taskBudgetSchema.optional(), ceiling: taskBudgetSchema.optional() })
  .strict()
  .superRefine((b, ctx) => {
    for (const field of BUDGET_FIELDS) {
      const d = b.default?.[field];
      const c = b.ceiling?.[field];
      if (d !== undefined && c !== undefined && d > c) {
        ctx.addIssue({ code: 'custom', path: ['default', field], message: `default ${d} is above the ceiling ${c}; lower the default or raise the ceiling` });
      }
    }
  });

/** A request asked for more than its key's ceiling allows. */
export interface BudgetOverCeiling {
  readonly field: BudgetField;
  readonly requested: number;
  readonly ceiling: number;
}

/** Drop unset fields (exactOptionalPropertyTypes), keeping the field order. */
export function definedBudget(b: Partial<Record<BudgetField, number | undefined>>): TaskBudget {
  const out: Partial<Record<BudgetField, number>> = {};
  for (const field of BUDGET_FIELDS) {
    const v = b[field];
    if (v !== undefined) out[field] = v;
  }
  return out;
}

/**
 * The budget a task runs under: per field, what the request asked for, else its agent's default
 * (lowered to the key's ceiling: the agent knows its work, the key's ceiling still binds), else the
 * key's default, else its ceiling. A request may lower the ceiling, never raise it.
 */
export function resolveBudget(
  requested: TaskBudget | undefined,
  entitlement: BudgetEntitlement | undefined,
  agentDefault?: TaskBudget,
): { budget: TaskBudget } | { overCeiling: BudgetOverCeiling } {
  const out: Partial<Record<BudgetField, number>> = {};
  for (const field of BUDGET_FIELDS) {
    const asked = requested?.[field];
    const ceiling = entitlement?.ceiling?.[field];
    if (asked !== undefined && ceiling !== undefined && asked > ceiling) return { overCeiling: { field, requested: asked, ceiling } };
    const agents = agentDefault?.[field];
    const fromAgent = agents !== undefined && ceiling !== undefined ? Math.min(agents, ceiling) : agents;
    const value = asked ?? fromAgent ?? entitlement?.default?.[field] ?? ceiling;
    if (value !== undefined) out[field] = value;
  }
  return { budget: out };
}
