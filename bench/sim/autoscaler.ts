import { evaluateMetricMath } from './metric-math';
import type { AlarmSpec, FleetMetricSpec, FleetScalingSpec, MetricQuery, StepAdjustment, StepPolicySpec, TargetTrackingSpec } from './scaling-spec';

/** One per-minute sample of what CloudWatch would receive from the queue and the service. */
export interface FleetSample {
  /** Sample time (s); samples are one minute apart. */
  readonly t: number;
  readonly visibleMessages: number;
  readonly runningTasks: number;
  readonly cpuUtilization: number;
}

export interface AutoscalerOptions {
  /** Time from the end of a period until its datapoint can be evaluated (publish + ingestion). @default 60 */
  readonly metricDelaySeconds?: number;
}

/**
 * Target tracking's alarms as Application Auto Scaling creates them: scale out after 3 one-minute
 * datapoints above the target, scale in after 15 below 90% of it.
 */
export const TARGET_TRACKING_ALARMS = { highDatapoints: 3, lowDatapoints: 15, lowFactor: 0.9, periodSeconds: 60, maxScaleInFraction: 0.1 } as const;

interface PolicyState {
  lastScaleOutAt: number;
  lastScaleOutBase: number;
  lastScaleInAt: number;
}

export interface ScalingDecision {
  readonly desired: number;
  readonly policy: string;
  readonly reason: string;
}

const STAT = {
  Sum: (v: number[]) => v.reduce((a, b) => a + b, 0),
  Average: (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length,
  Maximum: (v: number[]) => Math.max(...v),
  Minimum: (v: number[]) => Math.min(...v),
  SampleCount: (v: number[]) => v.length,
} as const;

/**
 * CloudWatch alarms plus Application Auto Scaling for one service, evaluated once a minute over
 * the samples CloudWatch has by then (each period's datapoint lands `metricDelaySeconds` after the
 * period ends). Cooldowns follow Application Auto Scaling: during a scale-out cooldown the capacity
 * that scale-out added counts toward the next one (so only a larger step adds more), and scale-in
 * waits for every cooldown to pass; a target-tracking scale-in needs all target-tracking policies
 * to agree and removes at most 10% of the fleet per action (the service says only "gradually").
 */
export class Autoscaler {
  private readonly samples: FleetSample[] = [];
  private readonly state = new Map<string, PolicyState>();
  private readonly delay: number;

  constructor(readonly spec: FleetScalingSpec, options: AutoscalerOptions = {}) {
    this.delay = options.metricDelaySeconds ?? 60;
    for (const p of spec.policies) this.state.set(p.name, { lastScaleOutAt: -Infinity, lastScaleOutBase: 0, lastScaleInAt: -Infinity });
  }

  record(sample: FleetSample): void {
    this.samples.push(sample);
  }

  /** The datapoint of `metric` for the period that ends at `end`, or NaN when there is none. */
  datapoint(metric: FleetMetricSpec, end: number): number {
    const values: Record<string, number> = {};
    let visibleSeen = false;
    for (const q of metric.queries) {
      let v = this.queryValue(q, end);
      // The simulated fleet has one queue: the first visible-messages metric carries all of it
      // and the other lanes read 0, so a sum over lanes sees the whole backlog exactly once.
      if (q.base === 'visibleMessages') {
        if (visibleSeen && !Number.isNaN(v)) v = 0;
        visibleSeen = true;
      }
      values[q.id] = v;
    }
    if (metric.expression === undefined) return values[metric.queries[0]?.id ?? 'm'] ?? Number.NaN;
    return evaluateMetricMath(metric.expression, values);
  }

  private queryValue(q: MetricQuery, end: number): number {
    const inPeriod = this.samples.filter((s) => s.t > end - q.periodSeconds && s.t <= end).map((s) => s[q.base]);
    return inPeriod.length === 0 ? Number.NaN : STAT[q.statistic](inPeriod);
  }

  /** The last `count` datapoints (newest first) that are available at `now`. */
  private datapoints(metric: FleetMetricSpec, period: number, count: number, now: number): number[] {
    const newestEnd = Math.floor((now - this.delay) / period) * period;
    return Array.from({ length: count }, (_, i) => this.datapoint(metric, newestEnd - i * period));
  }

  private alarmFires(alarm: AlarmSpec, now: number): number | undefined {
    const points = this.datapoints(alarm.metric, alarm.periodSeconds, alarm.evaluationPeriods, now);
    const breaching = points.filter((v) => !Number.isNaN(v) && breaches(alarm, v)).length;
    return breaching >= alarm.datapointsToAlarm ? points[0] : undefined;
  }

  /**
   * Run every policy at `now` against `desired`. Each policy that acts proposes a capacity; a
   * scale-out wins over a scale-in, and among several the largest capacity wins (Application Auto
   * Scaling's rule for several policies on one target).
   */
  evaluate(now: number, desired: number): ScalingDecision | undefined {
    const proposals: { desired: number; policy: string; reason: string; commit: () => void }[] = [];
    const targets = this.spec.policies.filter((p): p is TargetTrackingSpec => p.kind === 'target');
    const lowAgreed = targets.every((p) => p.disableScaleIn || this.targetLow(p, now) !== undefined);
    for (const policy of this.spec.policies) {
      const st = this.state.get(policy.name) as PolicyState;
      if (policy.kind === 'target') {
        const high = this.targetHigh(policy, now);
        if (high !== undefined) {
          proposals.push({
            desired: Math.ceil((desired * high) / policy.targetValue),
            policy: policy.name,
            reason: `${policy.metric.label}=${high.toFixed(2)} > target ${policy.targetValue}`,
            commit: () => (st.lastScaleOutAt = now),
          });
          continue;
        }
        const low = this.targetLow(policy, now);
        if (low === undefined || policy.disableScaleIn || !lowAgreed) continue;
        if (now < st.lastScaleInAt + policy.scaleInCooldownSeconds || now < st.lastScaleOutAt + policy.scaleOutCooldownSeconds) continue;
        // Target tracking scales in gradually (the service does not say how fast): at most
        // TARGET_TRACKING_ALARMS.maxScaleInFraction of the fleet per action.
        const floor = desired - Math.max(1, Math.floor(desired * TARGET_TRACKING_ALARMS.maxScaleInFraction));
        proposals.push({
          desired: Math.max(floor, Math.ceil((desired * low) / policy.targetValue)),
          policy: policy.name,
          reason: `${policy.metric.label}=${low.toFixed(2)} < ${TARGET_TRACKING_ALARMS.lowFactor}×target ${policy.targetValue}`,
          commit: () => (st.lastScaleInAt = now),
        });
        continue;
      }
      const value = this.alarmFires(policy.alarm, now);
      if (value === undefined) continue;
      const change = stepChange(policy, value - policy.alarm.threshold);
      if (change === undefined || change === 0) continue;
      const reason = `alarm ${policy.alarm.metric.label}=${value} vs ${policy.alarm.threshold}: ${change > 0 ? '+' : ''}${change}`;
      if (change > 0) {
        const inCooldown = now < st.lastScaleOutAt + policy.cooldownSeconds;
        const base = inCooldown ? st.lastScaleOutBase : desired;
        proposals.push({
          desired: applyAdjustment(policy, base, change),
          policy: policy.name,
          reason,
          commit: () => {
            if (!inCooldown) {
              st.lastScaleOutAt = now;
              st.lastScaleOutBase = desired;
            }
          },
        });
      } else {
        if (now < st.lastScaleInAt + policy.cooldownSeconds || now < st.lastScaleOutAt + policy.cooldownSeconds) continue;
        proposals.push({ desired: applyAdjustment(policy, desired, change), policy: policy.name, reason, commit: () => (st.lastScaleInAt = now) });
      }
    }
    const clamp = (v: number) => Math.min(this.spec.maxCapacity, Math.max(this.spec.minCapacity, v));
    const outs = proposals.filter((p) => clamp(p.desired) > desired);
    const ins = proposals.filter((p) => clamp(p.desired) < desired);
    const pool = outs.length > 0 ? outs : ins;
    const winner = pool.reduce<(typeof pool)[number] | undefined>((best, p) => (best === undefined || p.desired > best.desired ? p : best), undefined);
    if (winner === undefined) return undefined;
    winner.commit();
    return { desired: clamp(winner.desired), policy: winner.policy, reason: winner.reason };
  }

  private targetHigh(p: TargetTrackingSpec, now: number): number | undefined {
    const points = this.datapoints(p.metric, TARGET_TRACKING_ALARMS.periodSeconds, TARGET_TRACKING_ALARMS.highDatapoints, now);
    return points.every((v) => !Number.isNaN(v) && v > p.targetValue) ? points[0] : undefined;
  }

  private targetLow(p: TargetTrackingSpec, now: number): number | undefined {
    const points = this.datapoints(p.metric, TARGET_TRACKING_ALARMS.periodSeconds, TARGET_TRACKING_ALARMS.lowDatapoints, now);
    return points.every((v) => !Number.isNaN(v) && v < p.targetValue * TARGET_TRACKING_ALARMS.lowFactor) ? points[0] : undefined;
  }
}

function breaches(alarm: AlarmSpec, v: number): boolean {
  switch (alarm.comparison) {
    case 'GreaterThanOrEqualToThreshold':
      return v >= alarm.threshold;
    case 'GreaterThanThreshold':
      return v > alarm.threshold;
    case 'LessThanThreshold':
      return v < alarm.threshold;
    case 'LessThanOrEqualToThreshold':
      return v <= alarm.threshold;
  }
}

/**
 * The step whose interval holds `diff` (metric minus threshold). Above the threshold intervals are
 * [lower, upper); below it (lower, upper], as Application Auto Scaling defines them.
 */
export function stepChange(policy: StepPolicySpec, diff: number): number | undefined {
  const below = policy.alarm.comparison === 'LessThanThreshold' || policy.alarm.comparison === 'LessThanOrEqualToThreshold';
  const inside = (s: StepAdjustment) => {
    const lower = s.lower ?? -Infinity;
    const upper = s.upper ?? Infinity;
    return below ? diff > lower && diff <= upper : diff >= lower && diff < upper;
  };
  return policy.adjustments.find(inside)?.change;
}

function applyAdjustment(policy: StepPolicySpec, base: number, change: number): number {
  switch (policy.adjustmentType) {
    case 'ExactCapacity':
      return change;
    case 'PercentChangeInCapacity': {
      const delta = (base * change) / 100;
      const magnitude = Math.max(Math.abs(delta) >= 1 ? Math.trunc(Math.abs(delta)) : 1, policy.minAdjustmentMagnitude ?? 0);
      return base + Math.sign(delta) * magnitude;
    }
    case 'ChangeInCapacity':
      return base + change;
  }
}
