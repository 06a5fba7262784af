import { BAD_CANDIDATE, MinuteAggregate, STABLE_BEHAVIOUR, defaultCanaryScenario, runCanary, studyCanary, windowFigures, type SimTask } from '../../bench/sim/canary-sim';
import { seededRng } from '../../bench/sim/rng';
import { figuresOf } from '../../lib/canary/rollback-rule';
import { DEFAULT_CANARY_THRESHOLDS } from '../../lib/config/canary';

/**
 * The agent canary's promise, in numbers (README "Agent canary"): a candidate completing 70 % of
 * tasks against a stable 96 % stops receiving tasks within 25 minutes, having been sent at most 100,
 * and a candidate as good as stable is rolled back by noise in at most 2 % of two-hour canaries.
 * Measured here over 200 seeded runs per case (bench: `npx tsx bench/sim/canary-main.ts`).
 */
const ROLLBACK_WITHIN_MINUTES = 25;
const MAX_TASKS_TO_BAD_VERSION = 100;
const MAX_FALSE_ROLLBACK_RATE = 0.02;
const RUNS = 200;

describe('agent canary simulation', () => {
  const scenario = defaultCanaryScenario(DEFAULT_CANARY_THRESHOLDS);

  it('GIVEN per-minute sums WHEN a window is read THEN its figures equal those of the raw tasks (the statistics the alarm queries)', () => {
    const rng = seededRng(3);
    const tasks: SimTask[] = Array.from({ length: 700 }, () => ({
      version: rng.next() < 0.2 ? 'candidate' : 'stable',
      succeeded: rng.next() < 0.9,
      durationMs: 1000 * rng.int(20, 120),
      costUsd: rng.uniform(0.01, 0.1),
      toolCalls: rng.int(0, 6),
    }));
    const minutes = Array.from({ length: 7 }, () => new MinuteAggregate(120));
    tasks.forEach((t, i) => minutes[i % 7]?.add(t));
    const fromSums = windowFigures(minutes, 120);
    const fromTasks = figuresOf(tasks);
    for (const v of ['stable', 'candidate'] as const) {
      expect(fromSums[v].tasks).toBe(fromTasks[v].tasks);
      expect(fromSums[v].p95DurationMs).toBe(fromTasks[v].p95DurationMs);
      expect(fromSums[v].completionRate).toBeCloseTo(fromTasks[v].completionRate, 12);
      expect(fromSums[v].costPerTaskUsd).toBeCloseTo(fromTasks[v].costPerTaskUsd, 12);
      expect(fromSums[v].toolCallsPerTask).toBeCloseTo(fromTasks[v].toolCallsPerTask, 12);
    }
  });

  it('GIVEN one seed WHEN run twice THEN the result is the same, and the share routes about the configured fraction', () => {
    const a = runCanary({ ...scenario, seed: 9, candidate: STABLE_BEHAVIOUR });
    expect(runCanary({ ...scenario, seed: 9, candidate: STABLE_BEHAVIOUR })).toEqual(a);
    // 40 tasks/min × 120 min × 10 % = 480 expected.
    expect(a.routedToCandidate).toBeGreaterThan(400);
    expect(a.routedToCandidate).toBeLessThan(560);
  });

  it(`GIVEN a candidate at 70 % against a stable 96 % WHEN canaried at 10 % THEN every run stops routing to it within ${ROLLBACK_WITHIN_MINUTES} min with at most ${MAX_TASKS_TO_BAD_VERSION} tasks sent to it; and a good candidate is rolled back by noise in at most ${100 * MAX_FALSE_ROLLBACK_RATE} % of ${RUNS} runs`, () => {
    const study = studyCanary(scenario, RUNS);
    expect(study.bad.neverRolledBack).toBe(0);
    expect(study.bad.maxStoppedAtMinutes).toBeLessThanOrEqual(ROLLBACK_WITHIN_MINUTES);
    expect(study.bad.maxRoutedToCandidate).toBeLessThanOrEqual(MAX_TASKS_TO_BAD_VERSION);
    expect(study.good.falseRollbackRate).toBeLessThanOrEqual(MAX_FALSE_ROLLBACK_RATE);
    // The good candidate really ran: a run that routed nothing could not be rolled back either.
    expect(study.good.meanRoutedToCandidate).toBeGreaterThan(400);
    process.stdout.write(`canary study: ${JSON.stringify(study)}\n`);
  }, 300_000);

  it('GIVEN the bad candidate failing from its first task WHEN the alarm evaluates THEN nothing is decided before the minimum sample of 30 candidate tasks', () => {
    const r = runCanary({ ...scenario, seed: 1, candidate: BAD_CANDIDATE });
    expect(r.decidedAtMinutes).toBeDefined();
    // 4 candidate tasks a minute plus 2 minutes of metric delay: 30 finished tasks take > 7 minutes.
    expect(r.decidedAtMinutes as number).toBeGreaterThan(7);
  });
});
