import { routeTask, type AgentVersion } from '../../runtime/src/shared/agent-version';
import { NO_FIGURES, decideCanary, type CanaryFigures, type CanaryVerdict, type FinishedTask, type VersionFigures } from '../../lib/canary/rollback-rule';
import type { CanaryThresholds } from '../../lib/config/canary';
import { seededRng, type Rng } from './rng';

type Range = readonly [number, number];

/** How one agent version behaves: the truth the canary has to discover from noisy samples. */
export interface VersionBehaviour {
  /** Probability that a task succeeds. */
  readonly completionRate: number;
  /** Task duration, uniform (s). */
  readonly durationSeconds: Range;
  /** Cost per task, uniform (USD). */
  readonly costUsd: Range;
  /** Tool calls per task, uniform integer. */
  readonly toolCalls: Range;
}

/**
 * A canary run. Time 0 is when the share is set; stable traffic runs from one window before, so
 * the alarm compares against a full window of stable tasks from the first minute.
 */
export interface CanaryScenario {
  readonly seed: number;
  /** New tasks per minute for the whole fleet (Poisson). */
  readonly arrivalsPerMinute: number;
  /** The candidate's share of new tasks (percent). */
  readonly sharePercent: number;
  /** How long the canary runs if nothing rolls it back (min). */
  readonly durationMinutes: number;
  readonly stable: VersionBehaviour;
  readonly candidate: VersionBehaviour;
  readonly thresholds: CanaryThresholds;
  /** How often the alarm is evaluated (min): CloudWatch evaluates a sliding window every minute. */
  readonly evaluationEveryMinutes: number;
  /** From a task's finish to its datapoint being visible to the alarm (s): EMF via CloudWatch Logs. */
  readonly metricDelaySeconds: number;
  /** Alarm state change → EventBridge → Lambda → PutParameter share=0 (s). */
  readonly rollbackActionSeconds: number;
  /** How long an intake replica reuses a read share (s): CANARY_SHARE_CACHE_MS. */
  readonly shareCacheSeconds: number;
}

export interface CanaryRunResult {
  readonly seed: number;
  /** Minutes from the start to the alarm firing; undefined when it never fired. */
  readonly decidedAtMinutes?: number;
  /** Minutes from the start until no intake routes to the candidate any more (alarm + action + cache). */
  readonly stoppedAtMinutes?: number;
  /** Tasks the intake sent to the candidate in the whole run. */
  readonly routedToCandidate: number;
  /** Candidate tasks that failed. */
  readonly candidateFailures: number;
  /** The verdict that fired, or the last one. */
  readonly verdict: CanaryVerdict;
}

const SECONDS = 60;

/** A random UUID-shaped ID from the seeded generator (the intake uses crypto.randomUUID). */
function taskId(rng: Rng): string {
  const word = () => Math.floor(rng.next() * 2 ** 32).toString(16).padStart(8, '0');
  const [a, b, c, d] = [word(), word(), word(), word()];
  return `${a}-${b.slice(0, 4)}-4${b.slice(5)}-a${c.slice(1, 4)}-${c.slice(4)}${d}`;
}

export type SimTask = FinishedTask & { readonly durationMs: number; readonly costUsd: number; readonly toolCalls: number };

function finish(rng: Rng, version: AgentVersion, b: VersionBehaviour): SimTask {
  return {
    version,
    succeeded: rng.next() < b.completionRate,
    // Whole seconds, so the windows' duration histograms (1 s bins) give the exact nearest-rank p95.
    durationMs: 1000 * Math.round(rng.uniform(b.durationSeconds[0], b.durationSeconds[1])),
    costUsd: rng.uniform(b.costUsd[0], b.costUsd[1]),
    toolCalls: rng.int(b.toolCalls[0], b.toolCalls[1]),
  };
}

/** Per-version sums of the tasks whose datapoints became visible in one minute. */
export class MinuteAggregate {
  readonly n = { stable: 0, candidate: 0 };
  readonly ok = { stable: 0, candidate: 0 };
  readonly cost = { stable: 0, candidate: 0 };
  readonly tools = { stable: 0, candidate: 0 };
  /** Duration histogram in whole seconds (index = seconds). */
  readonly durations: Readonly<Record<AgentVersion, Uint32Array>>;

  constructor(maxSeconds: number) {
    this.durations = { stable: new Uint32Array(maxSeconds + 1), candidate: new Uint32Array(maxSeconds + 1) };
  }

  add(t: SimTask): void {
    const v = t.version;
    this.n[v] += 1;
    this.ok[v] += t.succeeded ? 1 : 0;
    this.cost[v] += t.costUsd;
    this.tools[v] += t.toolCalls;
    const d = this.durations[v];
    d[t.durationMs / 1000] = (d[t.durationMs / 1000] ?? 0) + 1;
  }
}

/**
 * The figures of a window of minutes: the same statistics as `figuresOf` (test/bench/canary-sim
 * checks the two agree), from per-minute sums so that 200 three-hour runs take seconds.
 */
export function windowFigures(minutes: readonly MinuteAggregate[], maxSeconds: number): CanaryFigures {
  const of = (v: AgentVersion): VersionFigures => {
    let n = 0;
    let ok = 0;
    let cost = 0;
    let tools = 0;
    const hist = new Uint32Array(maxSeconds + 1);
    for (const m of minutes) {
      n += m.n[v];
      ok += m.ok[v];
      cost += m.cost[v];
      tools += m.tools[v];
      const d = m.durations[v];
      for (let sec = 0; sec <= maxSeconds; sec += 1) hist[sec] = (hist[sec] ?? 0) + (d[sec] ?? 0);
    }
    if (n === 0) return NO_FIGURES;
    const rank = Math.max(1, Math.ceil(0.95 * n));
    let seen = 0;
    let p95 = 0;
    for (let sec = 0; sec <= maxSeconds; sec += 1) {
      seen += hist[sec] ?? 0;
      if (seen >= rank) {
        p95 = sec * 1000;
        break;
      }
    }
    return { tasks: n, completionRate: ok / n, costPerTaskUsd: cost / n, toolCallsPerTask: tools / n, p95DurationMs: p95 };
  };
  return { stable: of('stable'), candidate: of('candidate') };
}

/**
 * One canary run: arrivals are routed by the intake's own function at the share the intake
 * currently holds, tasks finish after their duration, and every evaluation the alarm's rule (the
 * same `decideCanary` the local evaluator and the CLI run) looks at the window of datapoints
 * visible by then. Capacity is assumed sufficient (queue wait is the fleet simulation's subject).
 */
export function runCanary(s: CanaryScenario): CanaryRunResult {
  const rng = seededRng(s.seed);
  const windowS = s.thresholds.windowMinutes * SECONDS;
  const endS = s.durationMinutes * SECONDS;
  // Finished tasks bucketed by the minute their datapoint becomes visible.
  const visibleByMinute = new Map<number, MinuteAggregate>();
  const maxSeconds = Math.ceil(Math.max(s.stable.durationSeconds[1], s.candidate.durationSeconds[1]));
  let stopRoutingAt = Number.POSITIVE_INFINITY;
  let decidedAt: number | undefined;
  let routed = 0;
  let failures = 0;
  let verdict: CanaryVerdict = { decision: 'wait', needed: { stable: s.thresholds.minTasks, candidate: s.thresholds.minTasks } };
  let t = -windowS;
  let nextArrival = t + rng.exponential(SECONDS / s.arrivalsPerMinute);
  const evalEvery = s.evaluationEveryMinutes * SECONDS;
  for (let evalAt = evalEvery; evalAt <= endS; evalAt += evalEvery) {
    // Arrivals up to this evaluation.
    while (nextArrival < evalAt) {
      t = nextArrival;
      nextArrival = t + rng.exponential(SECONDS / s.arrivalsPerMinute);
      const share = t >= 0 && t < stopRoutingAt ? s.sharePercent : 0;
      const version = routeTask(taskId(rng), share);
      const done = finish(rng, version, version === 'candidate' ? s.candidate : s.stable);
      if (version === 'candidate') {
        routed += 1;
        if (!done.succeeded) failures += 1;
      }
      const visibleAt = t + done.durationMs / 1000 + s.metricDelaySeconds;
      const minute = Math.floor(visibleAt / SECONDS);
      let bucket = visibleByMinute.get(minute);
      if (bucket === undefined) {
        bucket = new MinuteAggregate(maxSeconds);
        visibleByMinute.set(minute, bucket);
      }
      bucket.add(done);
    }
    // Nothing more reaches the candidate once routing stopped: the run's figures are final.
    if (decidedAt !== undefined) {
      if (evalAt > stopRoutingAt) break;
      continue;
    }
    // The sliding window: datapoints visible by now, from the last `windowMinutes`.
    const last = Math.floor(evalAt / SECONDS) - 1;
    const window: MinuteAggregate[] = [];
    for (let m = last - s.thresholds.windowMinutes + 1; m <= last; m += 1) {
      const bucket = visibleByMinute.get(m);
      if (bucket !== undefined) window.push(bucket);
    }
    verdict = decideCanary(windowFigures(window, maxSeconds), s.thresholds);
    if (verdict.decision === 'rollback') {
      decidedAt = evalAt;
      stopRoutingAt = evalAt + s.rollbackActionSeconds + s.shareCacheSeconds;
    }
  }
  return {
    seed: s.seed,
    routedToCandidate: routed,
    candidateFailures: failures,
    verdict,
    ...(decidedAt !== undefined ? { decidedAtMinutes: decidedAt / SECONDS, stoppedAtMinutes: stopRoutingAt / SECONDS } : {}),
  };
}

/** A version that behaves as the stable one does today: 96 % of tasks complete. */
export const STABLE_BEHAVIOUR: VersionBehaviour = {
  completionRate: 0.96,
  durationSeconds: [20, 120],
  costUsd: [0.02, 0.08],
  toolCalls: [1, 6],
};

/** The bad candidate: the same in every way except that only 70 % of its tasks complete. */
export const BAD_CANDIDATE: VersionBehaviour = { ...STABLE_BEHAVIOUR, completionRate: 0.7 };

export interface CanaryStudy {
  readonly runs: number;
  readonly bad: { readonly maxStoppedAtMinutes: number; readonly meanStoppedAtMinutes: number; readonly maxRoutedToCandidate: number; readonly meanRoutedToCandidate: number; readonly neverRolledBack: number };
  readonly good: { readonly falseRollbacks: number; readonly falseRollbackRate: number; readonly meanRoutedToCandidate: number };
}

/** The bad candidate and a good one (identical to stable) over `runs` seeds each. */
export function studyCanary(base: Omit<CanaryScenario, 'seed' | 'candidate'>, runs: number, firstSeed = 1): CanaryStudy {
  const bad = Array.from({ length: runs }, (_, i) => runCanary({ ...base, seed: firstSeed + i, candidate: BAD_CANDIDATE }));
  const good = Array.from({ length: runs }, (_, i) => runCanary({ ...base, seed: firstSeed + runs + i, candidate: base.stable }));
  const stopped = bad.map((r) => r.stoppedAtMinutes ?? Number.POSITIVE_INFINITY);
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const falseRollbacks = good.filter((r) => r.decidedAtMinutes !== undefined).length;
  return {
    runs,
    bad: {
      maxStoppedAtMinutes: Math.max(...stopped),
      meanStoppedAtMinutes: mean(stopped),
      maxRoutedToCandidate: Math.max(...bad.map((r) => r.routedToCandidate)),
      meanRoutedToCandidate: mean(bad.map((r) => r.routedToCandidate)),
      neverRolledBack: bad.filter((r) => r.decidedAtMinutes === undefined).length,
    },
    good: { falseRollbacks, falseRollbackRate: falseRollbacks / runs, meanRoutedToCandidate: mean(good.map((r) => r.routedToCandidate)) },
  };
}

/**
 * The case, as stated in README "Agent canary": 40 new tasks a minute for the fleet, 10 %
 * to the candidate, a two-hour canary, the stage's default thresholds, datapoints visible two
 * minutes after a task ends, one minute from alarm to share 0, and the intake's 15 s share cache.
 */
export function defaultCanaryScenario(thresholds: CanaryThresholds): Omit<CanaryScenario, 'seed' | 'candidate'> {
  return {
    arrivalsPerMinute: 40,
    sharePercent: 10,
    durationMinutes: 120,
    stable: STABLE_BEHAVIOUR,
    thresholds,
    evaluationEveryMinutes: 1,
    metricDelaySeconds: 120,
    rollbackActionSeconds: 60,
    shareCacheSeconds: 15,
  };
}
