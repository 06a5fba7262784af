/**
 * The scaling behaviour of one ECS service as the simulator needs it, read from a synthesized
 * CloudFormation template (see template-policy.ts), never typed in by hand.
 */

/**
 * The fleet quantities a CloudWatch metric in a template can stand for: AWS's own one-minute
 * metrics (SQS visible and in-flight messages, messages sent, ECS running tasks and CPU) and the
 * queue-demand publisher's high-resolution ones (runtime/src/shared/queue-demand-contract.ts).
 */
export type BaseMetric =
  | 'visibleMessages'
  | 'inFlightMessages'
  | 'sentMessages'
  | 'runningTasks'
  | 'cpuUtilization'
  | 'demandBacklog'
  | 'demandInFlight'
  | 'demandArrivals';

/** Metrics a component of ours publishes at high resolution (the rest are AWS's one-minute metrics). */
export const HIGH_RESOLUTION_BASES: readonly BaseMetric[] = ['demandBacklog', 'demandInFlight', 'demandArrivals'];

export type Statistic = 'Sum' | 'Average' | 'Maximum' | 'Minimum' | 'SampleCount';

/** One metric of a metric-math query (or the only metric of a plain alarm). */
export interface MetricQuery {
  readonly id: string;
  readonly base: BaseMetric;
  readonly statistic: Statistic;
  readonly periodSeconds: number;
}

/** A metric as a template defines it: one query, or several combined by an expression. */
export interface FleetMetricSpec {
  readonly queries: readonly MetricQuery[];
  /** Metric-math expression over the query ids; absent for a plain metric. */
  readonly expression?: string;
  /** Human-readable, for reports. */
  readonly label: string;
}

export type Comparison = 'GreaterThanOrEqualToThreshold' | 'GreaterThanThreshold' | 'LessThanThreshold' | 'LessThanOrEqualToThreshold';

export interface AlarmSpec {
  readonly metric: FleetMetricSpec;
  readonly periodSeconds: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly threshold: number;
  readonly comparison: Comparison;
}

/** Bounds are relative to the alarm threshold, as in CloudFormation's StepAdjustments. */
export interface StepAdjustment {
  readonly lower?: number;
  readonly upper?: number;
  readonly change: number;
}

export type AdjustmentType = 'ChangeInCapacity' | 'ExactCapacity' | 'PercentChangeInCapacity';

/** How a step policy reduces the alarm's datapoints to the one value it compares with its steps. */
export type MetricAggregation = 'Average' | 'Minimum' | 'Maximum';

export interface StepPolicySpec {
  readonly kind: 'step';
  readonly name: string;
  readonly alarm: AlarmSpec;
  readonly adjustmentType: AdjustmentType;
  readonly adjustments: readonly StepAdjustment[];
  readonly cooldownSeconds: number;
  /** False when the template leaves Cooldown out and the service default applies. */
  readonly cooldownFromTemplate: boolean;
  readonly minAdjustmentMagnitude?: number;
  /** @default 'Average' (Application Auto Scaling's default) */
  readonly metricAggregation: MetricAggregation;
}

export interface TargetTrackingSpec {
  readonly kind: 'target';
  readonly name: string;
  readonly metric: FleetMetricSpec;
  readonly targetValue: number;
  readonly scaleOutCooldownSeconds: number;
  readonly scaleInCooldownSeconds: number;
  readonly disableScaleIn: boolean;
}

export type ScalingPolicySpec = StepPolicySpec | TargetTrackingSpec;

export interface FleetScalingSpec {
  /** Where the numbers came from (template and logical ID), printed with every result. */
  readonly source: string;
  readonly minCapacity: number;
  readonly maxCapacity: number;
  readonly policies: readonly ScalingPolicySpec[];
}

/**
 * Application Auto Scaling's documented defaults where a template leaves a value out: step
 * policies on ECS services cool down for 300 s; target tracking cools down 300 s both ways.
 */
export const SERVICE_DEFAULT_COOLDOWN_SECONDS = 300;
