import { evaluateMetricMath } from './metric-math';
import {
  HIGH_RESOLUTION_BASES,
  type AlarmSpec,
  type BaseMetric,
  type FleetMetricSpec,
  type FleetScalingSpec,
  type MetricAggregation,
  type MetricQuery,
  type StepAdjustment,
  type StepPolicySpec,
  type TargetTrackingSpec,
} from './scaling-spec';

/**
 * What CloudWatch receives at time `t`: AWS's metrics once a minute, the queue-demand publisher's
 * every 10 s. Each base given is one sample of that metric (a Sum over a period adds them up).
 */
export type FleetSample = { readonly t: number } & Partial<Readonly<Record<BaseMetric, number>>>;

export interface AutoscalerOptions {
  /** Time from the end of a period until AWS's one-minute datapoint can be evaluated. @default 60 */
  readonly metricDelaySeconds?: number;
  /** The same for high-resolution metrics we publish (PutMetricData and ingestion). @default 10 */
  readonly highResDelaySeconds?: number;
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
  /** The policy's alarm is in ALARM (step policies). */
  inAlarm: boolean;
  /** When the alarm last invoked the policy: on entering ALARM, then once a minute while in it. */
  lastInvokedAt: number;
}

export interface ScalingDecision {
  readonly desired: number;
  readonly policy: string;
  readonly reason: string;
}

/** AWS/SQS metrics exist once per lane; the simulation's one queue stands for all lanes. */
const PER_LANE: readonly BaseMetric[] = ['visibleMessages', 'inFlightMessages', 'sentMessages'];

/** CloudWatch re-invokes an Auto Scaling action once a minute while its alarm stays in ALARM. */
const REINVOKE_SECONDS = 60;

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
  private readonly samples = new Map<BaseMetric, { t: number; v: number }[]>();
  private readonly state = new Map<string, PolicyState>();
  private readonly delay: number;
  private readonly highResDelay: number;

  constructor(readonly spec: FleetScalingSpec, options: AutoscalerOptions = {}) {
    this.delay = options.metricDelaySeconds ?? 60;
    this.highResDelay = options.highResDelaySeconds ?? 10;
    for (const p of spec.policies) {
      this.state.set(p.name, { lastScaleOutAt: -Infinity, lastScaleOutBase: 0, lastScaleInAt: -Infinity, inAlarm: false, lastInvokedAt: -Infinity });
    }
  }

  record(sample: FleetSample): void {
    for (const [key, v] of Object.entries(sample)) {
      if (key === 't' || v === undefined) continue;
      const base = key as BaseMetric;
      let series = this.samples.get(base);
      if (series === undefined) this.samples.set(base, (series = []));
      series.push({ t: sample.t, v });
    }
  }

  /** Publish-to-evaluable delay of a metric: the slowest of its queries. */
  private delayOf(metric: FleetMetricSpec): number {
    return Math.max(...metric.queries.map((q) => (HIGH_RESOLUTION_BASES.includes(q.base) ? this.highResDelay : this.delay)));
  }

  /** The datapoint of `metric` for the period that ends at `end`, or NaN when there is none. */
  datapoint(metric: FleetMetricSpec, end: number): number {
    const values: Record<string, number> = {};
    const laneSeen = new Set<BaseMetric>();
    for (const q of metric.queries) {
      let v = this.queryValue(q, end);
      // The simulated fleet has one queue: the first lane's SQS metric carries all of it and the
      // other lanes read 0, so a sum over lanes sees the whole queue exactly once.
      if (PER_LANE.includes(q.base)) {
        if (laneSeen.has(q.base) && !Number.isNaN(v)) v = 0;
        laneSeen.add(q.base);
      }
      values[q.id] = v;
    }
    if (metric.expression === undefined) return values[metric.queries[0]?.id ?? 'm'] ?? Number.NaN;
    return evaluateMetricMath(metric.expression, values);
  }

  private queryValue(q: MetricQuery, end: number): number {
    const series = this.samples.get(q.base) ?? [];
    const inPeriod: number[] = [];
    // Samples are appended in time order: walk back from the newest.
    for (let i = series.length - 1; i >= 0; i--) {
      const s = series[i] as { t: number; v: number };
      if (s.t <= end - q.periodSeconds) break;
      if (s.t <= end) inPeriod.push(s.v);
    }
    return inPeriod.length === 0 ? Number.NaN : STAT[q.statistic](inPeriod);
  }

  /** The last `count` datapoints (newest first) that are available at `now`. */
  private datapoints(metric: FleetMetricSpec, period: number, count: number, now: number): number[] {
    const newestEnd = Math.floor((now - this.delayOf(metric)) / period) * period;
    return Array.from({ length: count }, (_, i) => this.datapoint(metric, newestEnd - i * period));
  }

  /**
   * Evaluate the alarm at `now`; returns the value the policy acts on (the datapoints reduced by its
   * aggregation) when CloudWatch invokes it now: on entering ALARM, then once a minute while in it.
   */
  private alarmInvokes(alarm: AlarmSpec, aggregation: MetricAggregation, st: PolicyState, now: number): number | undefined {
    const points = this.datapoints(alarm.metric, alarm.periodSeconds, alarm.evaluationPeriods, now);
    const present = points.filter((v) => !Number.isNaN(v));
    const breaching = present.filter((v) => breaches(alarm, v)).length;
    if (breaching < alarm.datapointsToAlarm) {
      st.inAlarm = false;
      return undefined;
    }
    const invoke = !st.inAlarm || now - st.lastInvokedAt >= REINVOKE_SECONDS;
    st.inAlarm = true;
    if (!invoke) return undefined;
    st.lastInvokedAt = now;
    return aggregation === 'Average' ? STAT.Average(present) : aggregation === 'Minimum' ? STAT.Minimum(present) : STAT.Maximum(present);
  }

  /**
   * Run every policy at `now` against `desired`. Each policy that acts proposes a capacity; a
   * scale-out wins over a scale-in, and among several the largest capacity wins (Application Auto
   * Scaling's rule for several policies on one target).
   */
  evaluate(now: number, desired: number): ScalingDecision | undefined {
    const proposals: { desired: number; out: boolean; policy: string; reason: string; commit: () => void }[] = [];
    // Alarms on one-minute periods (and target tracking's) are evaluated once a minute; high-resolution
    // alarms (10 or 30 s periods) every 10 s. Callers step `now` by 10 s.
    const minute = now % 60 === 0;
    const targets = this.spec.policies.filter((p): p is TargetTrackingSpec => p.kind === 'target');
    const lowAgreed = minute && targets.every((p) => p.disableScaleIn || this.targetLow(p, now) !== undefined);
    for (const policy of this.spec.policies) {
      const st = this.state.get(policy.name) as PolicyState;
      if (policy.kind === 'target') {
        if (!minute) continue;
        const high = this.targetHigh(policy, now);
        if (high !== undefined) {
          proposals.push({
            desired: Math.ceil((desired * high) / policy.targetValue),
            out: true,
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
          out: false,
          policy: policy.name,
          reason: `${policy.metric.label}=${low.toFixed(2)} < ${TARGET_TRACKING_ALARMS.lowFactor}×target ${policy.targetValue}`,
          commit: () => (st.lastScaleInAt = now),
        });
        continue;
      }
      if (policy.alarm.periodSeconds >= 60 && !minute) continue;
      const value = this.alarmInvokes(policy.alarm, policy.metricAggregation, st, now);
      if (value === undefined) continue;
      const change = stepChange(policy, value - policy.alarm.threshold);
      if (change === undefined || (change === 0 && policy.adjustmentType !== 'ExactCapacity')) continue;
      const reason = `alarm ${policy.alarm.metric.label}=${value.toFixed(2)} vs ${policy.alarm.threshold}: ${policy.adjustmentType === 'ExactCapacity' ? '=' : change > 0 ? '+' : ''}${change}${policy.adjustmentType === 'PercentChangeInCapacity' ? '%' : ''}`;
      // An exact capacity is a scale-out or a scale-in depending on where the target stands now.
      const out = policy.adjustmentType === 'ExactCapacity' ? change > desired : change > 0;
      if (policy.adjustmentType === 'ExactCapacity' && change === desired) continue;
      if (out) {
        const inCooldown = now < st.lastScaleOutAt + policy.cooldownSeconds;
        const base = inCooldown ? st.lastScaleOutBase : desired;
        proposals.push({
          desired: applyAdjustment(policy, base, change),
          out: true,
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
        proposals.push({ desired: applyAdjustment(policy, desired, change), out: false, policy: policy.name, reason, commit: () => (st.lastScaleInAt = now) });
      }
    }
    const clamp = (v: number) => Math.min(this.spec.maxCapacity, Math.max(this.spec.minCapacity, v));
    // A scale-out whose result is not above the current capacity (its cooldown base is older) does
    // nothing, and is never turned into a scale-in; likewise the other way round.
    const outs = proposals.filter((p) => p.out && clamp(p.desired) > desired);
    const ins = proposals.filter((p) => !p.out && clamp(p.desired) < desired);
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
