import { Duration } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { QUEUE_DEMAND_DIMENSION, QUEUE_DEMAND_INTERVAL_SECONDS, QUEUE_DEMAND_METRICS, QUEUE_DEMAND_NAMESPACE } from '../../runtime/src/shared/queue-demand-contract';
import { requireProp } from '../errors';

/** One step of an exact-capacity policy: while the estimate is in [lower, upper), set the fleet to `capacity`. */
export interface SurgeBand {
  readonly lower: number;
  /** Absent for the last band (up to maxTasks and beyond). */
  readonly upper?: number;
  readonly capacity: number;
}

/** Application Auto Scaling's limit on step adjustments per step scaling policy. */
export const MAX_STEPS_PER_POLICY = 20;
/** Application Auto Scaling allows 50 scaling policies per scalable target; one is the service's scale-from-zero. */
const MAX_POLICIES = 49;

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
    // The band's middle (its top when it is one worker wide): at most half a band from the estimate.
    const capacity = Math.ceil(((lower + upper) / 2) * (1 + margin));
    if (capacity >= maxTasks) {
      bands.push({ lower, capacity: maxTasks });
      return bands;
    }
    bands.push({ lower, upper, capacity });
    lower = upper;
  }
}

/**
 * Width of the exact-capacity bands per family (each band sets its middle, so the fleet is within
 * half a band of the estimate). The confirm sets the spike's fleet and has the finest; the onset is
 * trimmed by the confirm and the release lands in a ±15 % band, so they do with coarser ones and
 * fewer policies (Application Auto Scaling allows 50 per scalable target).
 */
export const BAND_RATIOS = { onset: 1.05, confirm: 1.025, release: 1.03 } as const;

/**
 * The publisher reads the lanes every 10 s; the fast alarms use each reading as one datapoint
 * (the shortest period CloudWatch evaluates, every 10 s, for high-resolution metrics).
 */
const FAST_PERIOD_SECONDS = QUEUE_DEMAND_INTERVAL_SECONDS;
/**
 * The confirm estimate's window: three 30-second datapoints. A Fargate task launched on the first
 * reading (20 s into a spike) runs 60–90 s later, so a confirmation 100 s in still finds every
 * onset launch pending and can take back what the onset over-asked before it runs (ECS stops
 * unprotected tasks, and busy workers hold scale-in protection, so the tasks it stops are the
 * pending ones). A policy's alarm judges each datapoint but its step reads their mean, so the
 * datapoints must fall in one policy's range: 30-second ones spread over a few bands, 10-second
 * ones over too many.
 */
const CONFIRM_PERIOD_SECONDS = QUEUE_DEMAND_INTERVAL_SECONDS * 3;
const CONFIRM_DATAPOINTS = 3;

/** Ratio edges of the steady policies (workers needed with headroom ÷ running). */
const STEADY_OUT_EDGES = [1.1, 1.2, 1.35, 1.6, 2, 3, 5, 9] as const;
/** Ten-minute datapoints a steady decision reads: half an hour. */
const STEADY_DATAPOINTS = 3;
const STEADY_IN_EDGES = [0.96, 0.92, 0.87, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1] as const;

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
   * Backlog the release and steady policies keep workers for, as seconds to drain it: a backlog B
   * keeps B × averageTaskSeconds ÷ drainSeconds workers on top of the arrivals' need.
   */
  readonly drainSeconds: number;
  /**
   * Capacity kept over the arrivals' need (0.07 = 7 %): what the confirm sets a spike's fleet to
   * (its backlog drains on this margin, so above 0.1 a spike overshoots its need by more than 10 %),
   * what a release leaves after it, and what the steady policies hold. The steady dead band is
   * about −4 % to +11 % around it.
   * @default 0.07
   */
  readonly headroom?: number;
  /**
   * The onset policy sets the fleet to this multiple of the need read from one 10-second reading
   * (±14 % at a spike's rate): generous on purpose, since the confirm policy takes the excess back
   * while it is still pending.
   * @default 1.25
   */
  readonly onsetFactor?: number;
  /** Prefix for policy names (unique in the account and region). */
  readonly policyNamePrefix: string;
}

/** One family of exact-capacity policies: an estimate, the condition it applies in, how it is read. */
interface ExactFamily {
  readonly name: string;
  readonly bands: readonly SurgeBand[];
  readonly using: Record<string, cloudwatch.IMetric>;
  readonly period: Duration;
  /** The capacity to set, in metric math over `using`. */
  readonly value: string;
  /** When the family acts, in metric math over `using`. */
  readonly when: string;
  readonly evaluationPeriods: number;
  readonly cooldown: Duration;
  /**
   * Bands between the first bands of two successive policies: 20 (ranges side by side) or fewer
   * (overlapping ranges with the same bands, so datapoints a few bands apart share a policy).
   * @default MAX_STEPS_PER_POLICY
   */
  readonly stride?: number;
  readonly description: string;
}

/**
 * The worker fleet's scaling on arrivals rather than on backlog per task. Every decision sets the
 * fleet to an estimate of the workers needed (ExactCapacity steps in bands that set their middle;
 * 20 steps per policy, so each family is several policies that each own a range of the estimate):
 *
 * - **Onset** (20 s into a spike): one 10-second reading of the intake's queue-demand metrics,
 *   only when the arrivals need far more workers than are busy and the backlog is young; sets
 *   `onsetFactor` × the need, so the fleet starts on the first reading.
 * - **Confirm** (100 s in): the mean of three 30-second datapoints that all showed the fleet short;
 *   sets (1 + `headroom`) × the need, before any onset launch runs, so the onset's excess never runs.
 * - **Release** (about 16 min after a spike's end): one 15-minute datapoint (SQS arrivals and
 *   backlog, the fewest ECS running tasks) that shows the fleet far above the need; sets the need
 *   with half the headroom. ECS stops idle workers; busy ones hold task scale-in protection and
 *   stop after their task.
 * - **Steady** (half hours): the need with headroom ÷ running workers over 10-minute datapoints
 *   (±5 % each at a 40-worker fleet), each one judged: out on 3 of 3 ≥ 1.1, in on 2 of 2 ≤ 0.96, a
 *   datapoint in which the fleet moved reads 1; PercentChange steps to the band's edge nearest the
 *   target, 30-minute cooldown, so Poisson noise and stale datapoints never move the fleet.
 */
export class WorkerDemandScaling extends Construct {
  /** The bands of each exact-capacity family, lowest first (for tests and the README). */
  readonly bands: { readonly onset: readonly SurgeBand[]; readonly confirm: readonly SurgeBand[]; readonly release: readonly SurgeBand[] };

  constructor(scope: Construct, id: string, props: WorkerDemandScalingProps) {
    super(scope, id);
    const T = props.averageTaskSeconds;
    const headroom = props.headroom ?? 0.07;
    const onsetFactor = props.onsetFactor ?? 1.25;
    const margin = 1 + headroom;
    requireProp(T >= 1, 'WorkerDemandScaling', 'averageTaskSeconds', T, 'use the measured mean task time in seconds (at least 1)');
    requireProp(props.drainSeconds >= T, 'WorkerDemandScaling', 'drainSeconds', props.drainSeconds, `use at least averageTaskSeconds (${T})`);
    requireProp(headroom >= 0 && headroom <= 0.2, 'WorkerDemandScaling', 'headroom', headroom, 'use 0 to 0.2 (0.1 or less keeps a spike within 10 % of its need)');
    requireProp(onsetFactor >= 1 && onsetFactor <= 2, 'WorkerDemandScaling', 'onsetFactor', onsetFactor, 'use 1 to 2 (the confirm policy trims what the onset over-asks)');
    requireProp(props.maxTasks >= 2, 'WorkerDemandScaling', 'maxTasks', props.maxTasks, 'use at least 2');
    this.bands = {
      // From the least each family's condition lets through (20 and 10 workers).
      onset: surgeBands(20, props.maxTasks, BAND_RATIOS.onset, 0),
      confirm: surgeBands(10, props.maxTasks, BAND_RATIOS.confirm, 0),
      release: surgeBands(1, props.maxTasks, BAND_RATIOS.release, 0),
    };

    // --- fast: the intake's 10-second readings ---
    const fast = Duration.seconds(FAST_PERIOD_SECONDS);
    const demand = (metricName: string, statistic: string, period = fast) =>
      new cloudwatch.Metric({ namespace: QUEUE_DEMAND_NAMESPACE, metricName, dimensionsMap: { [QUEUE_DEMAND_DIMENSION]: props.stage }, statistic, period });
    // Every intake replica reads the same lanes (Average) and counts its own arrivals (Sum).
    const readings = { b: demand(QUEUE_DEMAND_METRICS.backlog, 'Average'), f: demand(QUEUE_DEMAND_METRICS.inFlight, 'Average'), a: demand(QUEUE_DEMAND_METRICS.arrivals, 'Sum') };
    // Workers the arrivals of one reading need: arrival rate × mean task time.
    const need = `a * ${round(T / FAST_PERIOD_SECONDS)}`;
    this.exactFamily(props, {
      name: 'Onset',
      bands: this.bands.onset,
      using: readings,
      period: fast,
      // Far short (2.5× the busy workers: never on Poisson noise at 10 s), tasks wait, and the
      // backlog is at most three readings of arrivals: the first readings of a jump, so the onset
      // acts once and does not come back between its launch and the confirm.
      when: `${need} >= 2.5 * f + 20 AND b >= 0.2 * f + 5 AND b <= 3 * a`,
      value: `${need} * ${onsetFactor}`,
      evaluationPeriods: 1,
      cooldown: Duration.seconds(120),
      description: 'a jump in arrivals (one 10-second reading): start the workers it needs',
    });
    // Three 30-second datapoints (90 s of arrivals), all short: the step is taken on their mean.
    const half = Duration.seconds(CONFIRM_PERIOD_SECONDS);
    const halfReadings = { b: demand(QUEUE_DEMAND_METRICS.backlog, 'Average', half), f: demand(QUEUE_DEMAND_METRICS.inFlight, 'Average', half), a: demand(QUEUE_DEMAND_METRICS.arrivals, 'Sum', half) };
    const halfNeed = `a * ${round(T / CONFIRM_PERIOD_SECONDS)}`;
    this.exactFamily(props, {
      name: 'Confirm',
      bands: this.bands.confirm,
      using: halfReadings,
      period: half,
      when: `${halfNeed} >= 1.2 * f + 10 AND b >= 0.2 * f + 5`,
      value: `${halfNeed} * ${margin}`,
      evaluationPeriods: CONFIRM_DATAPOINTS,
      cooldown: Duration.seconds(120),
      // Three estimates spread over a few bands (±8 % each): ranges overlapping by three quarters,
      // so one policy holds any three within 15 bands (1.45×) of each other.
      stride: MAX_STEPS_PER_POLICY / 4,
      description: `arrivals over ${CONFIRM_DATAPOINTS * CONFIRM_PERIOD_SECONDS} s need more workers than run: set the fleet to that need`,
    });

    // --- minutes: AWS's own one-minute metrics (independent of the publisher) ---
    const sent = (q: sqs.IQueue, period: Duration) => q.metricNumberOfMessagesSent({ statistic: 'Sum', period });
    const visible = (q: sqs.IQueue, period: Duration) => q.metricApproximateNumberOfMessagesVisible({ statistic: 'Average', period });
    const lanesOver = (period: Duration, tasksStatistic: 'Average' | 'Minimum') => ({
      sh: sent(props.lanes.high, period),
      sn: sent(props.lanes.normal, period),
      vh: visible(props.lanes.high, period),
      vn: visible(props.lanes.normal, period),
      tasks: props.runningTasks.with({ statistic: tasksStatistic, period }),
    });
    // Workers needed: the arrivals' need × `margin` plus workers to drain the backlog in drainSeconds.
    const needWith = (period: Duration, margin: number) => `((sh + sn) * ${round((T * margin) / period.toSeconds())} + (vh + vn) * ${round(T / props.drainSeconds)})`;
    // One 15-minute datapoint (±4 % at a 40-worker fleet): one estimate, so one policy's range holds it.
    const tenMinutes = Duration.minutes(10);
    const quarterHour = Duration.minutes(15);
    this.exactFamily(props, {
      name: 'Release',
      bands: this.bands.release,
      // The fewest running in the datapoint: once a release has taken effect it does not repeat.
      using: lanesOver(quarterHour, 'Minimum'),
      period: quarterHour,
      // Running workers well over the need for 15 minutes: a spike has ended.
      when: `tasks >= 1.5 * ${needWith(quarterHour, margin)} + 2`,
      // Half the headroom: 15 minutes of arrivals are ±4 %, and a fleet that lands high must still
      // be within the steady dead band (and 15 % of the need); the steady policies add the rest.
      value: needWith(quarterHour, 1 + headroom / 2),
      evaluationPeriods: 1,
      cooldown: quarterHour,
      description: 'the fleet far above the need for 15 minutes (a spike ended): set it to the need with headroom',
    });

    // --- steady: half hours ---
    // Three 10-minute datapoints (each ±5 % at a 40-worker fleet), judged one by one: a fleet inside
    // the dead band is not moved by noise, and a datapoint from before another policy's move (a
    // spike, a release) keeps the alarm out of ALARM rather than acting on stale data.
    const ratio = new cloudwatch.MathExpression({
      // A datapoint in which the fleet moved by more than 10 % reads 1: another policy acted, so
      // this one waits for half an hour of the fleet it left.
      expression: `IF(tmax <= 1.1 * tmin + 2, ${needWith(tenMinutes, margin)} / tasks, 1)`,
      usingMetrics: {
        ...lanesOver(tenMinutes, 'Average'),
        tmin: props.runningTasks.with({ statistic: 'Minimum', period: tenMinutes }),
        tmax: props.runningTasks.with({ statistic: 'Maximum', period: tenMinutes }),
      },
      period: tenMinutes,
      label: 'Workers needed ÷ running',
    });
    const halfHour = Duration.minutes(30);
    const steady = (name: 'Out' | 'In', edges: readonly number[], datapoints: number) => {
      const threshold = edges[0] as number;
      const out = name === 'Out';
      const action = new appscaling.StepScalingAction(this, `Steady${name}`, {
        scalingTarget: props.scalingTarget,
        policyName: `${props.policyNamePrefix}-steady-${name.toLowerCase()}`,
        adjustmentType: appscaling.AdjustmentType.PERCENT_CHANGE_IN_CAPACITY,
        metricAggregationType: appscaling.MetricAggregationType.AVERAGE,
        // As long as the window: the next move reads only datapoints after this one.
        cooldown: halfHour,
      });
      edges.forEach((edge, i) => {
        const next = edges[i + 1];
        // Each band moves the fleet to its edge nearest the target: in, never below the need with
        // headroom; out, never past the need itself (a step taken just as a surge set the fleet
        // from newer readings adds the least).
        const adjustment = out ? Math.max(1, Math.round((edge / margin - 1) * 100)) : Math.round((edge - 1) * 100);
        if (out) action.addAdjustment({ lowerBound: round(edge - threshold), ...(next !== undefined ? { upperBound: round(next - threshold) } : {}), adjustment });
        else action.addAdjustment({ upperBound: round(edge - threshold), ...(next !== undefined ? { lowerBound: round(next - threshold) } : {}), adjustment });
      });
      const alarm = new cloudwatch.Alarm(this, `Steady${name}Alarm`, {
        alarmDescription: `Worker fleet ${out ? 'below' : 'above'} the arrivals' need with headroom by more than ${Math.round(Math.abs(threshold - 1) * 100)} % over half an hour`,
        metric: ratio,
        threshold,
        comparisonOperator: out ? cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD : cloudwatch.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: datapoints,
        datapointsToAlarm: datapoints,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new cwActions.ApplicationScalingAction(action));
    };
    // Out on half an hour; in on 20 minutes, so a datapoint from before a release (the fleet far
    // above the need) and the one the release moved in leave no two in a row that would act.
    steady('Out', STEADY_OUT_EDGES, STEADY_DATAPOINTS);
    steady('In', STEADY_IN_EDGES, STEADY_DATAPOINTS - 1);
    const policies = this.node.findAll().filter((c) => c instanceof appscaling.StepScalingAction).length;
    requireProp(policies <= MAX_POLICIES, 'WorkerDemandScaling', 'maxTasks', props.maxTasks, `it needs ${policies} scaling policies and Application Auto Scaling allows 50 per scalable target (${MAX_POLICIES} left for this construct); use at most 1000`);
  }

  /**
   * One ExactCapacity policy per range of 20 bands, each driven by an alarm that breaches when the
   * family's condition holds and its estimate is in the range: ranges do not overlap, so two
   * policies of a family never act on one reading.
   */
  private exactFamily(props: WorkerDemandScalingProps, family: ExactFamily): void {
    const { value, when } = family;
    const stride = family.stride ?? MAX_STEPS_PER_POLICY;
    for (let k = 0; k === 0 || (k - 1) * stride + MAX_STEPS_PER_POLICY < family.bands.length; k++) {
      const bands = family.bands.slice(k * stride, k * stride + MAX_STEPS_PER_POLICY);
      const lo = (bands[0] as SurgeBand).lower;
      const hi = (bands[bands.length - 1] as SurgeBand).upper;
      const action = new appscaling.StepScalingAction(this, `${family.name}${k}`, {
        scalingTarget: props.scalingTarget,
        policyName: `${props.policyNamePrefix}-${family.name.toLowerCase()}-${k}`,
        adjustmentType: appscaling.AdjustmentType.EXACT_CAPACITY,
        // The mean of the alarm's datapoints: every one of them breached, so each is an estimate.
        metricAggregationType: appscaling.MetricAggregationType.AVERAGE,
        cooldown: family.cooldown,
      });
      for (const band of bands) {
        action.addAdjustment({ lowerBound: band.lower - lo, ...(band.upper !== undefined && band.upper !== hi ? { upperBound: band.upper - lo } : {}), adjustment: band.capacity });
      }
      const inRange = hi === undefined ? `${value} >= ${lo}` : `${value} >= ${lo} AND ${value} < ${hi}`;
      const alarm = new cloudwatch.Alarm(this, `${family.name}${k}Alarm`, {
        alarmDescription: `Worker fleet (range ${lo}${hi === undefined ? '+' : `-${hi - 1}`} workers): ${family.description}`,
        metric: new cloudwatch.MathExpression({ expression: `IF(${when} AND ${inRange}, ${value}, 0)`, usingMetrics: family.using, period: family.period, label: `${family.name}: workers to set` }),
        threshold: lo,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: family.evaluationPeriods,
        datapointsToAlarm: family.evaluationPeriods,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(new cwActions.ApplicationScalingAction(action));
    }
  }
}

/** Metric math and step bounds read better without float noise (0.30000000000000004). */
function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
