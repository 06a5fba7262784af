import { Duration } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUE_DEMAND_DIMENSION, QUEUE_DEMAND_INTERVAL_SECONDS, QUEUE_DEMAND_METRICS, QUEUE_DEMAND_NAMESPACE } from '../../runtime/src/shared/queue-demand-contract';
import { requireProp } from '../errors';

/** One step of a surge policy: while the workers needed are in [lower, upper), set the fleet to `capacity`. */
export interface SurgeBand {
  readonly lower: number;
  /** Absent for the last band (up to maxTasks and beyond). */
  readonly upper?: number;
  readonly capacity: number;
}

/** Application Auto Scaling's limit on step adjustments per step scaling policy. */
export const MAX_STEPS_PER_POLICY = 20;

/**
 * Bands of "workers needed" from `from` up to `maxTasks`, each `ratio` wider than the one below,
 * mapped to the band's top plus `margin`: the fleet never gets less than the estimate and at most
 * ratio × (1 + margin) of it. Integer bounds; the last band sets maxTasks.
 */
export function surgeBands(from: number, maxTasks: number, ratio: number, margin: number): SurgeBand[] {
  const bands: SurgeBand[] = [];
  let lower = from;
  for (;;) {
    const upper = Math.max(lower + 1, Math.ceil(lower * ratio));
    const capacity = Math.ceil(upper * (1 + margin));
    if (capacity >= maxTasks) {
      bands.push({ lower, capacity: maxTasks });
      return bands;
    }
    bands.push({ lower, upper, capacity });
    lower = upper;
  }
}

/**
 * Surge bands are 3 % wide and set their top + 5 %: the fleet gets 5–8 % over the estimate. The
 * estimate from 30 s of arrivals is itself ±8 % (Poisson), so this is the margin that keeps most
 * spikes above their need without a 10 % overshoot (bench/README.md, the fleet simulation).
 */
const SURGE_BAND_RATIO = 1.03;
/** A multiple of the publisher's interval (three readings per datapoint). */
const SURGE_PERIOD_SECONDS = QUEUE_DEMAND_INTERVAL_SECONDS * 3;
const SURGE_MARGIN = 0.05;

/** Ratio edges of the steady policies, as a multiple of the capacity the arrivals need. */
const STEADY_OUT_EDGES = [1.06, 1.15, 1.3, 1.6, 2, 3, 5, 9] as const;
/** Small corrections on most of 15 minutes; below 0.85 it takes only 15 %, the deep policy the rest. */
const STEADY_TRIM_EDGES = [0.95, 0.9, 0.85] as const;
/** After a spike: every one of 15 minutes far below need, so the mean is all post-spike and exact. */
const STEADY_DEEP_EDGES = [0.8, 0.7, 0.6, 0.5, 0.42, 0.35, 0.3, 0.25, 0.21, 0.18, 0.155, 0.135, 0.12, 0.1, 0.085, 0.07, 0.05] as const;

export interface WorkerDemandScalingProps {
  readonly scalingTarget: appscaling.ScalableTarget;
  /** Stage name: the dimension the intake publishes the queue demand under. */
  readonly stage: string;
  /** The lanes the workers consume (their NumberOfMessagesSent is the arrival rate). */
  readonly lanes: { readonly high: sqs.IQueue; readonly normal: sqs.IQueue };
  /** ECS/ContainerInsights RunningTaskCount of the worker service, any period (re-periodised here). */
  readonly runningTasks: cloudwatch.Metric;
  readonly maxTasks: number;
  /** Mean task time (s) the fleet is sized with: workers needed = arrival rate × this. */
  readonly averageTaskSeconds: number;
  /**
   * Backlog the surge adds workers for, as seconds of it per worker: a backlog B adds
   * B × averageTaskSeconds ÷ drainSeconds workers (drains it in about drainSeconds).
   */
  readonly drainSeconds: number;
  /**
   * Capacity kept over the arrivals' need in steady state (0.05 = 5 %), so a Poisson burst does
   * not queue for long.
   * @default 0.09
   */
  readonly headroom?: number;
  /** Prefix for policy names (unique in the account and region). */
  readonly policyNamePrefix: string;
}

/**
 * The worker fleet's scaling on arrivals rather than on backlog per task:
 *
 * - **Surge** (seconds): high-resolution alarms (10-second periods, 3 of 3) on the intake's
 *   queue-demand metrics estimate the workers needed, in-flight + mean task time × growth per
 *   second + backlog ÷ drain time, and set the fleet to that number (ExactCapacity), only while a
 *   backlog shows the fleet is short. 20 steps per policy at most, so several policies each own a
 *   range of the estimate; ranges do not overlap, so two never act on one reading.
 * - **Steady** (minutes): arrivals over 5 minutes (SQS NumberOfMessagesSent, both lanes) × mean
 *   task time × (1 + headroom) against running workers; outside ±12 % for three 5-minute periods
 *   in a row the fleet moves to the edge of the band the ratio is in, never past the need (a dead
 *   band and 15 minutes of evidence: no hunting on Poisson noise). This is also the scale-in after
 *   a spike; ECS stops idle workers first and busy ones hold task scale-in protection.
 */
export class WorkerDemandScaling extends Construct {
  /** The surge bands, lowest first (for tests and the README). */
  readonly surgeBands: readonly SurgeBand[];

  constructor(scope: Construct, id: string, props: WorkerDemandScalingProps) {
    super(scope, id);
    const T = props.averageTaskSeconds;
    const headroom = props.headroom ?? 0.09;
    requireProp(T >= 1, 'WorkerDemandScaling', 'averageTaskSeconds', T, 'use the measured mean task time in seconds (at least 1)');
    requireProp(props.drainSeconds >= T, 'WorkerDemandScaling', 'drainSeconds', props.drainSeconds, `use at least averageTaskSeconds (${T})`);
    requireProp(headroom >= 0 && headroom <= 0.5, 'WorkerDemandScaling', 'headroom', headroom, 'use 0 to 0.5');

    // --- surge: high resolution ---
    // One 30-second datapoint per decision: three readings' worth of arrivals (±8 % at a spike's
    // rate), and no datapoints straddling two policies' ranges. A 30 s alarm is evaluated every 10 s.
    const period = Duration.seconds(SURGE_PERIOD_SECONDS);
    const demand = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({ namespace: QUEUE_DEMAND_NAMESPACE, metricName, dimensionsMap: { [QUEUE_DEMAND_DIMENSION]: props.stage }, statistic, period });
    // Every intake replica reads the same lanes (Average) and counts its own arrivals (Sum).
    const using = { b: demand(QUEUE_DEMAND_METRICS.backlog, 'Average'), f: demand(QUEUE_DEMAND_METRICS.inFlight, 'Average'), a: demand(QUEUE_DEMAND_METRICS.arrivals, 'Sum') };
    // Arrival rate × mean task time, plus workers to drain the backlog in drainSeconds.
    const need = `(a * ${round(T / period.toSeconds())} + b * ${round(T / props.drainSeconds)})`;
    // Short only while tasks wait and the estimate is well above the busy workers: noise on a
    // steady fleet (Poisson arrivals at 10 s) does not pass both.
    const short = `b >= 0.2 * f + 10 AND ${need} >= 1.5 * f + 10`;
    this.surgeBands = surgeBands(2, props.maxTasks, SURGE_BAND_RATIO, SURGE_MARGIN);
    for (let k = 0; k * MAX_STEPS_PER_POLICY < this.surgeBands.length; k++) {
      const bands = this.surgeBands.slice(k * MAX_STEPS_PER_POLICY, (k + 1) * MAX_STEPS_PER_POLICY);
      const lo = (bands[0] as SurgeBand).lower;
      const hi = (bands[bands.length - 1] as SurgeBand).upper;
      const action = new appscaling.StepScalingAction(this, `Surge${k}`, {
        scalingTarget: props.scalingTarget,
        policyName: `${props.policyNamePrefix}-surge-${k}`,
        adjustmentType: appscaling.AdjustmentType.EXACT_CAPACITY,
        metricAggregationType: appscaling.MetricAggregationType.AVERAGE,
        // Long enough for a Fargate task to start: until then the same reading asks for no more.
        cooldown: Duration.seconds(120),
      });
      for (const band of bands) {
        action.addAdjustment({ lowerBound: band.lower - lo, ...(band.upper !== undefined && band.upper !== hi ? { upperBound: band.upper - lo } : {}), adjustment: band.capacity });
      }
      const inRange = hi === undefined ? `${need} >= ${lo}` : `${need} >= ${lo} AND ${need} < ${hi}`;
      const alarm = new cloudwatch.Alarm(this, `Surge${k}Alarm`, {
        alarmDescription: `Worker fleet short (surge range ${lo}${hi === undefined ? '+' : `-${hi - 1}`} workers needed): set the fleet to the need`,
        metric: new cloudwatch.MathExpression({ expression: `IF(${short} AND ${inRange}, ${need}, 0)`, usingMetrics: using, period, label: 'Workers needed while short' }),
        threshold: lo,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new cwActions.ApplicationScalingAction(action));
    }

    // --- steady: standard resolution, one-minute periods ---
    // One-minute datapoints, many of them: a surge moves the newest within two minutes, so a stale
    // scale-in cannot fire into a spike; 15 minutes of them are the evidence against Poisson noise.
    const minute = Duration.minutes(1);
    const sent = (q: sqs.IQueue) => q.metricNumberOfMessagesSent({ statistic: 'Sum', period: minute });
    const ratio = new cloudwatch.MathExpression({
      expression: `(sh + sn) * ${round((T * (1 + headroom)) / minute.toSeconds())} / tasks`,
      usingMetrics: { sh: sent(props.lanes.high), sn: sent(props.lanes.normal), tasks: props.runningTasks.with({ statistic: 'Average', period: minute }) },
      period: minute,
      label: 'Workers needed ÷ running',
    });
    const steady = (name: 'Out' | 'Trim' | 'Deep', edges: readonly number[], comparison: cloudwatch.ComparisonOperator, datapointsToAlarm: number) => {
      const threshold = edges[0] as number;
      const out = name === 'Out';
      const action = new appscaling.StepScalingAction(this, `Steady${name}`, {
        scalingTarget: props.scalingTarget,
        policyName: `${props.policyNamePrefix}-steady-${name.toLowerCase()}`,
        adjustmentType: appscaling.AdjustmentType.PERCENT_CHANGE_IN_CAPACITY,
        // The mean of 15 one-minute ratios (±4 % at a 40-worker fleet); the cooldown is as long, so
        // the next move reads only minutes after this one.
        metricAggregationType: appscaling.MetricAggregationType.AVERAGE,
        cooldown: Duration.minutes(15),
      });
      edges.forEach((edge, i) => {
        const next = edges[i + 1];
        // Each band moves the fleet to its edge nearest the target: never past the need.
        const adjustment = Math.round((edge - 1) * 100);
        if (out) action.addAdjustment({ lowerBound: round(edge - threshold), ...(next !== undefined ? { upperBound: round(next - threshold) } : {}), adjustment });
        else action.addAdjustment({ upperBound: round(edge - threshold), ...(next !== undefined ? { lowerBound: round(next - threshold) } : {}), adjustment });
      });
      const alarm = new cloudwatch.Alarm(this, `Steady${name}Alarm`, {
        alarmDescription: `Worker fleet ${out ? 'below' : 'above'} the arrivals' need (with headroom) by more than ${Math.round(Math.abs(threshold - 1) * 100)} % for ${datapointsToAlarm} of 15 minutes`,
        metric: ratio,
        threshold,
        comparisonOperator: comparison,
        evaluationPeriods: 15,
        datapointsToAlarm,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new cwActions.ApplicationScalingAction(action));
    };
    // Most of 15 minutes: a fleet a few % off still shows Poisson noise on the other side of the
    // edge; the step is taken on the mean, which noise alone keeps inside the dead band.
    steady('Out', STEADY_OUT_EDGES, cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, 10);
    steady('Trim', STEADY_TRIM_EDGES, cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD, 10);
    steady('Deep', STEADY_DEEP_EDGES, cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD, 15);
  }
}

/** Metric math and step bounds read better without float noise (0.30000000000000004). */
function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
