import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { evaluateMetricMath } from '../../bench/sim/metric-math';
import { seededRng } from '../../bench/sim/rng';
import { AGENT_VERSIONS } from '../../runtime/src/shared/agent-version';
import {
  FIGURES,
  canaryRule,
  decideCanary,
  figureId,
  figuresOf,
  renderMetricMath,
  rollbackExpression,
  type CanaryFigures,
  type FinishedTask,
} from '../../lib/canary/rollback-rule';
import { DEFAULT_CANARY_THRESHOLDS, canaryConfigSchema } from '../../lib/config/canary';

interface RecordedCase {
  readonly name: string;
  readonly expected: 'wait' | 'healthy' | 'rollback';
  readonly regressions?: readonly string[];
  readonly figures: CanaryFigures;
}
const recorded = (JSON.parse(readFileSync(join(__dirname, 'fixtures', 'canary-figures.json'), 'utf8')) as { cases: RecordedCase[] }).cases;

/** The ids the alarm's queries carry, with the figures' values: what CloudWatch feeds the expression. */
function metricValues(figures: CanaryFigures): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of AGENT_VERSIONS) for (const f of FIGURES) out[figureId(v, f)] = figures[v][f];
  return out;
}

const alarmExpression = renderMetricMath(rollbackExpression(canaryRule(DEFAULT_CANARY_THRESHOLDS)));

describe('canary rollback rule', () => {
  it.each(recorded.map((c) => [c.name, c] as const))('GIVEN recorded figures "%s" WHEN decided THEN the verdict is the recorded one', (_name, c) => {
    const verdict = decideCanary(c.figures, DEFAULT_CANARY_THRESHOLDS);
    expect(verdict.decision).toBe(c.expected);
    if (verdict.decision === 'rollback') expect([...verdict.regressions].sort()).toEqual([...(c.regressions ?? [])].sort());
    // The alarm's metric-math text, evaluated by an independent metric-math interpreter, agrees.
    expect(evaluateMetricMath(alarmExpression, metricValues(c.figures))).toBe(c.expected === 'rollback' ? 1 : 0);
  });

  it('GIVEN 5000 random figure pairs WHEN the alarm text and the local evaluator both decide THEN they never disagree', () => {
    const rng = seededRng(15);
    let rollbacks = 0;
    for (let i = 0; i < 5000; i++) {
      const side = () => ({
        tasks: rng.int(0, 200),
        completionRate: rng.uniform(0.5, 1),
        costPerTaskUsd: rng.uniform(0, 0.2),
        toolCallsPerTask: rng.uniform(0, 8),
        p95DurationMs: rng.uniform(10_000, 300_000),
      });
      const figures = { stable: side(), candidate: side() };
      const local = decideCanary(figures, DEFAULT_CANARY_THRESHOLDS).decision === 'rollback' ? 1 : 0;
      rollbacks += local;
      expect(evaluateMetricMath(alarmExpression, metricValues(figures))).toBe(local);
    }
    // Both outcomes were exercised, so agreement means something.
    expect(rollbacks).toBeGreaterThan(500);
    expect(rollbacks).toBeLessThan(4500);
  });

  it('WHEN rendered THEN every figure is FILLed with 0 and nothing divides (no value would silence the alarm)', () => {
    expect(alarmExpression).not.toContain('/');
    for (const v of AGENT_VERSIONS) for (const f of FIGURES) expect(alarmExpression).toContain(`FILL(${figureId(v, f)}, 0)`);
    expect(alarmExpression.startsWith('IF(')).toBe(true);
  });

  it('GIVEN the minimum sample WHEN one version has one task fewer THEN it waits and says how many are missing', () => {
    const bad = { tasks: 29, completionRate: 0, costPerTaskUsd: 1, toolCallsPerTask: 50, p95DurationMs: 1e7 };
    const ok = { tasks: 500, completionRate: 0.96, costPerTaskUsd: 0.05, toolCallsPerTask: 3, p95DurationMs: 100_000 };
    expect(decideCanary({ stable: ok, candidate: bad }, DEFAULT_CANARY_THRESHOLDS)).toEqual({ decision: 'wait', needed: { stable: 0, candidate: 1 } });
    expect(decideCanary({ stable: ok, candidate: { ...bad, tasks: 30 } }, DEFAULT_CANARY_THRESHOLDS).decision).toBe('rollback');
  });

  it('GIVEN finished tasks WHEN turned into figures THEN they are the statistics the alarm queries (SampleCount, Average, nearest-rank p95)', () => {
    const tasks: FinishedTask[] = [
      ...Array.from({ length: 20 }, (_, i): FinishedTask => ({ version: 'stable', succeeded: i !== 0, costUsd: 0.25, toolCalls: 2, durationMs: (i + 1) * 1000 })),
      { version: 'candidate', succeeded: false },
      { version: 'candidate', succeeded: true, toolCalls: 4, durationMs: 5000 },
    ];
    const f = figuresOf(tasks);
    expect(f.stable).toEqual({ tasks: 20, completionRate: 0.95, costPerTaskUsd: 0.25, toolCallsPerTask: 2, p95DurationMs: 19_000 });
    // A task given up after its last receive counts toward the sample and the rate only.
    expect(f.candidate).toEqual({ tasks: 2, completionRate: 0.5, costPerTaskUsd: 0, toolCallsPerTask: 4, p95DurationMs: 5000 });
  });

  it('rejects a canary whose minimum sample would let 3 tasks decide, naming the key', () => {
    const parsed = canaryConfigSchema.safeParse({ enabled: true, thresholds: { minTasks: 3 } });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain('minTasks');
  });
});
