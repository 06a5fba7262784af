import { AGENT_VERSIONS, type AgentVersion } from '../../runtime/src/shared/agent-version';
import { METRICS, type MetricName } from '../../runtime/src/shared/metrics-contract';
import type { CanaryThresholds } from '../config/canary';

/**
 * The canary's rollback decision, written once as an expression tree with two interpreters:
 * `renderMetricMath` turns it into the CloudWatch metric-math expression the alarm evaluates,
 * `decideCanary` evaluates it on recorded figures (the local evaluator, the canary CLI's status,
 * the fleet simulation and the tests). Both read the same tree, so the alarm and the local
 * evaluator cannot disagree about what "worse" means.
 *
 * The figures are per version over one window, as the alarm's queries return them over
 * [Stage, Service=worker, AgentVersion]:
 *   tasks             SampleCount of TasksSucceeded (every finished task emits it, 0 or 1)
 *   completionRate    Average of TasksSucceeded (0..1)
 *   costPerTaskUsd    Average of CostPerTaskUsd
 *   toolCallsPerTask  Average of ToolCallsPerTask
 *   p95DurationMs     p95 of TaskDurationMs
 * The tree has no division (metric math gives no value for x/0, which would silence the alarm
 * instead of holding it at 0), so the z-test is written multiplied out.
 */
export const FIGURES = ['tasks', 'completionRate', 'costPerTaskUsd', 'toolCallsPerTask', 'p95DurationMs'] as const;
export type Figure = (typeof FIGURES)[number];

export type VersionFigures = Readonly<Record<Figure, number>>;
export type CanaryFigures = Readonly<Record<AgentVersion, VersionFigures>>;

/** How each figure is read from CloudWatch: the runtime's metric and the statistic. */
export const FIGURE_QUERIES: Readonly<Record<Figure, { readonly metric: MetricName; readonly stat: string }>> = {
  tasks: { metric: METRICS.tasksSucceeded, stat: 'SampleCount' },
  completionRate: { metric: METRICS.tasksSucceeded, stat: 'Average' },
  costPerTaskUsd: { metric: METRICS.costPerTaskUsd, stat: 'Average' },
  toolCallsPerTask: { metric: METRICS.toolCallsPerTask, stat: 'Average' },
  p95DurationMs: { metric: METRICS.taskDurationMs, stat: 'p95' },
};

type BinaryOp = '+' | '-' | '*' | '>' | '>=' | 'AND' | 'OR';
export type Expr =
  | { readonly kind: 'num'; readonly value: number }
  | { readonly kind: 'fig'; readonly version: AgentVersion; readonly figure: Figure }
  | { readonly kind: 'bin'; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr };

const num = (value: number): Expr => ({ kind: 'num', value });
const fig = (version: AgentVersion, figure: Figure): Expr => ({ kind: 'fig', version, figure });
const bin = (op: BinaryOp) => (left: Expr, right: Expr): Expr => ({ kind: 'bin', op, left, right });
const add = bin('+');
const sub = bin('-');
const mul = bin('*');
const gt = bin('>');
const gte = bin('>=');
const and = bin('AND');
const or = bin('OR');

/** The named parts of the rule: a guard and the regressions it looks for. */
export interface CanaryRule {
  /** Both versions have the minimum sample in the window. */
  readonly enoughData: Expr;
  /** Each regression alone rolls back (once `enoughData` holds). */
  readonly regressions: Readonly<Record<Regression, Expr>>;
}

export const REGRESSIONS = ['completionRate', 'costPerTask', 'toolCallsPerTask', 'p95Duration'] as const;
export type Regression = (typeof REGRESSIONS)[number];

/** The rule for these thresholds. */
export function canaryRule(t: CanaryThresholds): CanaryRule {
  const s = (f: Figure) => fig('stable', f);
  const c = (f: Figure) => fig('candidate', f);
  const drop = sub(s('completionRate'), c('completionRate'));
  // Two-proportion z-test with the pooled rate p = K/T, multiplied out:
  //   drop² > z²·p(1-p)·(1/nS + 1/nC)   ⇔   drop²·nS·nC·T > z²·K·(T-K)
  const nS = s('tasks');
  const nC = c('tasks');
  const total = add(nS, nC);
  const successes = add(mul(s('completionRate'), nS), mul(c('completionRate'), nC));
  const significant = gt(mul(mul(mul(drop, drop), mul(nS, nC)), total), mul(num(t.completionZ * t.completionZ), mul(successes, sub(total, successes))));
  const worseBy = (f: Figure, fraction: number) => gt(c(f), mul(s(f), num(1 + fraction)));
  return {
    enoughData: and(gte(nS, num(t.minTasks)), gte(nC, num(t.minTasks))),
    regressions: {
      completionRate: and(gt(drop, num(t.maxCompletionDrop)), significant),
      costPerTask: worseBy('costPerTaskUsd', t.maxCostIncrease),
      toolCallsPerTask: worseBy('toolCallsPerTask', t.maxToolCallsIncrease),
      p95Duration: worseBy('p95DurationMs', t.maxP95DurationIncrease),
    },
  };
}

/** The whole rule as one expression: 1 when the candidate must be rolled back, else 0. */
export function rollbackExpression(rule: CanaryRule): Expr {
  const anyRegression = REGRESSIONS.map((r) => rule.regressions[r]).reduce((a, b) => or(a, b));
  return and(rule.enoughData, anyRegression);
}

/** The metric-math id of a figure: `stable_tasks`, `candidate_p95DurationMs`. */
export function figureId(version: AgentVersion, figure: Figure): string {
  return `${version}_${figure}`;
}

const PRECEDENCE: Readonly<Record<BinaryOp, number>> = { OR: 1, AND: 2, '>': 3, '>=': 3, '+': 4, '-': 4, '*': 5 };

/**
 * The CloudWatch metric-math text. A figure without data (a version with no finished task, a model
 * without a price) reads 0, so the guard is false and a missing cost never breaches.
 */
export function renderMetricMath(expr: Expr): string {
  const render = (e: Expr, parent: number, right: boolean): string => {
    if (e.kind === 'num') return String(e.value);
    if (e.kind === 'fig') return `FILL(${figureId(e.version, e.figure)}, 0)`;
    const p = PRECEDENCE[e.op];
    const text = `${render(e.left, p, false)} ${e.op} ${render(e.right, p, true)}`;
    // Parenthesise a lower-precedence child, and an equal one on the right (a - (b - c)).
    return p < parent || (right && p === parent) ? `(${text})` : text;
  };
  return `IF(${render(expr, 0, false)}, 1, 0)`;
}

/** Evaluate the tree on figures; comparisons and logic give 1 or 0 as in metric math. */
export function evaluateExpr(expr: Expr, figures: CanaryFigures): number {
  switch (expr.kind) {
    case 'num':
      return expr.value;
    case 'fig': {
      const v = figures[expr.version][expr.figure];
      return Number.isFinite(v) ? v : 0;
    }
    case 'bin': {
      const a = evaluateExpr(expr.left, figures);
      const b = evaluateExpr(expr.right, figures);
      switch (expr.op) {
        case '+':
          return a + b;
        case '-':
          return a - b;
        case '*':
          return a * b;
        case '>':
          return a > b ? 1 : 0;
        case '>=':
          return a >= b ? 1 : 0;
        case 'AND':
          return a !== 0 && b !== 0 ? 1 : 0;
        case 'OR':
          return a !== 0 || b !== 0 ? 1 : 0;
      }
    }
  }
}

export type CanaryVerdict =
  /** Not enough finished tasks in the window on one side or both: keep going. */
  | { readonly decision: 'wait'; readonly needed: Readonly<Record<AgentVersion, number>> }
  | { readonly decision: 'healthy' }
  | { readonly decision: 'rollback'; readonly regressions: readonly Regression[] };

/** What the alarm would decide on these figures, with the reasons a human needs. */
export function decideCanary(figures: CanaryFigures, thresholds: CanaryThresholds): CanaryVerdict {
  const rule = canaryRule(thresholds);
  if (evaluateExpr(rule.enoughData, figures) === 0) {
    const needed = Object.fromEntries(AGENT_VERSIONS.map((v) => [v, Math.max(0, thresholds.minTasks - Math.floor(figures[v].tasks))])) as Record<AgentVersion, number>;
    return { decision: 'wait', needed };
  }
  const regressions = REGRESSIONS.filter((r) => evaluateExpr(rule.regressions[r], figures) !== 0);
  return regressions.length === 0 ? { decision: 'healthy' } : { decision: 'rollback', regressions };
}

/** No finished task: every figure 0 (what FILL(x, 0) reads in the alarm). */
export const NO_FIGURES: VersionFigures = { tasks: 0, completionRate: 0, costPerTaskUsd: 0, toolCallsPerTask: 0, p95DurationMs: 0 };

/** A single finished task, as the runtime's per-task EMF record carries it. */
export interface FinishedTask {
  readonly version: AgentVersion;
  readonly succeeded: boolean;
  /** Absent when the model has no price (no CostPerTaskUsd is emitted). */
  readonly costUsd?: number;
  /** Absent for a task given up after its last receive (only TasksSucceeded/TasksFailed are emitted). */
  readonly toolCalls?: number;
  readonly durationMs?: number;
}

/**
 * The figures CloudWatch would return for these tasks (one window): the same statistics the alarm
 * queries. p95 is nearest-rank, which is what CloudWatch computes on raw values at these counts.
 */
export function figuresOf(tasks: readonly FinishedTask[]): CanaryFigures {
  const of = (version: AgentVersion): VersionFigures => {
    const mine = tasks.filter((t) => t.version === version);
    if (mine.length === 0) return NO_FIGURES;
    const mean = (xs: readonly number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
    const durations = mine.flatMap((t) => (t.durationMs === undefined ? [] : [t.durationMs])).sort((a, b) => a - b);
    const rank = Math.max(1, Math.ceil(0.95 * durations.length));
    return {
      tasks: mine.length,
      completionRate: mean(mine.map((t) => (t.succeeded ? 1 : 0))),
      costPerTaskUsd: mean(mine.flatMap((t) => (t.costUsd === undefined ? [] : [t.costUsd]))),
      toolCallsPerTask: mean(mine.flatMap((t) => (t.toolCalls === undefined ? [] : [t.toolCalls]))),
      p95DurationMs: durations[rank - 1] ?? 0,
    };
  };
  return { stable: of('stable'), candidate: of('candidate') };
}
