import { QUEUE_DEMAND_METRICS, QUEUE_DEMAND_NAMESPACE } from '../../runtime/src/shared/queue-demand-contract';
import {
  HIGH_RESOLUTION_BASES,
  SERVICE_DEFAULT_COOLDOWN_SECONDS,
  type MetricAggregation,
  type AdjustmentType,
  type AlarmSpec,
  type BaseMetric,
  type Comparison,
  type FleetMetricSpec,
  type FleetScalingSpec,
  type MetricQuery,
  type ScalingPolicySpec,
  type Statistic,
  type StepAdjustment,
} from './scaling-spec';

/** A template does not describe a service's scaling the way the simulator can model it. */
export class TemplatePolicyError extends Error {
  constructor(message: string, readonly context: Readonly<Record<string, unknown>> = {}) {
    super(message);
    this.name = 'TemplatePolicyError';
  }
}

type Json = Record<string, unknown>;
interface Resource {
  readonly Type: string;
  readonly Properties?: Json;
}
export interface CfnTemplate {
  readonly Resources?: Record<string, Resource>;
}

const obj = (value: unknown): Json => (value !== null && typeof value === 'object' ? (value as Json) : {});
const num = (value: unknown, what: string, context: Json): number => {
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new TemplatePolicyError(`${what} is not a literal number in the template (got ${JSON.stringify(value)})`, context);
  return n;
};
const refTo = (value: unknown): string | undefined => {
  const ref = obj(value)['Ref'];
  return typeof ref === 'string' ? ref : undefined;
};

/** Which fleet quantity a CloudWatch metric measures; anything else cannot be simulated. */
function baseMetric(namespace: unknown, metricName: unknown): BaseMetric {
  if (namespace === 'AWS/SQS' && metricName === 'ApproximateNumberOfMessagesVisible') return 'visibleMessages';
  if (namespace === 'AWS/SQS' && metricName === 'ApproximateNumberOfMessagesNotVisible') return 'inFlightMessages';
  if (namespace === 'AWS/SQS' && metricName === 'NumberOfMessagesSent') return 'sentMessages';
  if (namespace === QUEUE_DEMAND_NAMESPACE && metricName === QUEUE_DEMAND_METRICS.backlog) return 'demandBacklog';
  if (namespace === QUEUE_DEMAND_NAMESPACE && metricName === QUEUE_DEMAND_METRICS.inFlight) return 'demandInFlight';
  if (namespace === QUEUE_DEMAND_NAMESPACE && metricName === QUEUE_DEMAND_METRICS.arrivals) return 'demandArrivals';
  if (namespace === 'ECS/ContainerInsights' && metricName === 'RunningTaskCount') return 'runningTasks';
  if (namespace === 'AWS/ECS' && metricName === 'CPUUtilization') return 'cpuUtilization';
  throw new TemplatePolicyError(`the simulator does not model metric ${String(namespace)}/${String(metricName)}; add it to baseMetric() in bench/sim/template-policy.ts`);
}

const STATISTICS: readonly Statistic[] = ['Sum', 'Average', 'Maximum', 'Minimum', 'SampleCount'];
function statistic(value: unknown): Statistic {
  const found = STATISTICS.find((s) => s === value);
  if (found === undefined) throw new TemplatePolicyError(`statistic ${JSON.stringify(value)} is not one of ${STATISTICS.join(', ')}`);
  return found;
}

/** Metric data queries (alarm `Metrics` or target tracking `CustomizedMetricSpecification.Metrics`). */
function metricFromQueries(queries: unknown[], defaultPeriod: number): FleetMetricSpec {
  const plain: MetricQuery[] = [];
  let expression: string | undefined;
  let label = '';
  for (const raw of queries) {
    const q = obj(raw);
    const id = String(q['Id']);
    if (typeof q['Expression'] === 'string') {
      if (q['ReturnData'] !== false) {
        expression = q['Expression'];
        label = typeof q['Label'] === 'string' ? q['Label'] : expression;
      }
      continue;
    }
    const stat = obj(q['MetricStat']);
    const metric = obj(stat['Metric']);
    plain.push({
      id,
      base: baseMetric(metric['Namespace'], metric['MetricName']),
      statistic: statistic(stat['Stat']),
      periodSeconds: stat['Period'] === undefined ? defaultPeriod : num(stat['Period'], `Period of metric ${id}`, q),
    });
  }
  if (expression === undefined) {
    const only = plain[0];
    if (plain.length !== 1 || only === undefined) throw new TemplatePolicyError('a metric query list without an expression must have exactly one metric');
    return { queries: plain, label: `${only.statistic} of ${only.base}` };
  }
  return { queries: plain, expression, label };
}

function plainMetric(props: Json, defaultPeriod: number): FleetMetricSpec {
  const base = baseMetric(props['Namespace'], props['MetricName']);
  const stat = statistic(props['Statistic']);
  const periodSeconds = props['Period'] === undefined ? defaultPeriod : num(props['Period'], 'Period', props);
  return { queries: [{ id: 'm', base, statistic: stat, periodSeconds }], label: `${stat} of ${base} per ${periodSeconds}s` };
}

const AGGREGATIONS: readonly MetricAggregation[] = ['Average', 'Minimum', 'Maximum'];

const COMPARISONS: readonly Comparison[] = ['GreaterThanOrEqualToThreshold', 'GreaterThanThreshold', 'LessThanThreshold', 'LessThanOrEqualToThreshold'];

function alarmSpec(alarmId: string, props: Json): AlarmSpec {
  const ctx = { alarm: alarmId };
  const metric = Array.isArray(props['Metrics']) ? metricFromQueries(props['Metrics'], 60) : plainMetric(props, 60);
  const comparison = COMPARISONS.find((c) => c === props['ComparisonOperator']);
  if (comparison === undefined) throw new TemplatePolicyError(`alarm ${alarmId} has comparison ${JSON.stringify(props['ComparisonOperator'])}`, ctx);
  const evaluationPeriods = num(props['EvaluationPeriods'], `EvaluationPeriods of ${alarmId}`, ctx);
  const periodSeconds = Math.max(...metric.queries.map((q) => q.periodSeconds));
  // CloudWatch: 10, 20 or 30 s only for metrics stored at high resolution; otherwise multiples of 60.
  if (periodSeconds < 60) {
    if (![10, 20, 30].includes(periodSeconds)) throw new TemplatePolicyError(`alarm ${alarmId} has period ${periodSeconds}s; CloudWatch allows 10, 20, 30 or a multiple of 60`, ctx);
    const standard = metric.queries.filter((q) => !HIGH_RESOLUTION_BASES.includes(q.base)).map((q) => q.base);
    if (standard.length > 0) {
      throw new TemplatePolicyError(`alarm ${alarmId} evaluates ${periodSeconds}s periods of one-minute metrics (${standard.join(', ')}); CloudWatch would leave it INSUFFICIENT_DATA`, ctx);
    }
  } else if (periodSeconds % 60 !== 0) {
    throw new TemplatePolicyError(`alarm ${alarmId} has period ${periodSeconds}s; CloudWatch allows 10, 20, 30 or a multiple of 60`, ctx);
  }
  return {
    metric,
    periodSeconds,
    evaluationPeriods,
    datapointsToAlarm: props['DatapointsToAlarm'] === undefined ? evaluationPeriods : num(props['DatapointsToAlarm'], `DatapointsToAlarm of ${alarmId}`, ctx),
    threshold: num(props['Threshold'], `Threshold of ${alarmId}`, ctx),
    comparison,
  };
}

export interface ReadScalingOptions {
  /** Picks the service's ScalableTarget when a template has several (by logical ID). */
  readonly targetMatches?: (logicalId: string) => boolean;
  /** Printed with results, e.g. the template file name. */
  readonly source: string;
}

/**
 * The scalable target (min/max), its target-tracking and step policies, and the alarms that drive
 * the step policies, from one synthesized template.
 */
export function readFleetScaling(template: CfnTemplate, options: ReadScalingOptions): FleetScalingSpec {
  const resources = Object.entries(template.Resources ?? {});
  const targets = resources.filter(
    ([id, r]) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget' && obj(r.Properties)['ScalableDimension'] === 'ecs:service:DesiredCount' && (options.targetMatches?.(id) ?? true),
  );
  const [target, ...others] = targets;
  if (target === undefined || others.length > 0) {
    throw new TemplatePolicyError(`expected one ECS ScalableTarget in ${options.source}, found ${targets.length}: ${targets.map(([id]) => id).join(', ') || 'none'}`);
  }
  const [targetId, targetResource] = target;
  const tp = obj(targetResource.Properties);
  const ctx = { source: options.source, target: targetId };
  const policies: ScalingPolicySpec[] = [];
  for (const [policyId, r] of resources) {
    if (r.Type !== 'AWS::ApplicationAutoScaling::ScalingPolicy') continue;
    const p = obj(r.Properties);
    if (refTo(p['ScalingTargetId']) !== targetId) continue;
    if (p['PolicyType'] === 'TargetTrackingScaling') {
      const c = obj(p['TargetTrackingScalingPolicyConfiguration']);
      const predefined = obj(c['PredefinedMetricSpecification'])['PredefinedMetricType'];
      const custom = obj(c['CustomizedMetricSpecification']);
      let metric: FleetMetricSpec;
      if (predefined === 'ECSServiceAverageCPUUtilization') {
        metric = { queries: [{ id: 'm', base: 'cpuUtilization', statistic: 'Average', periodSeconds: 60 }], label: 'ECS service average CPU %' };
      } else if (Array.isArray(custom['Metrics'])) {
        metric = metricFromQueries(custom['Metrics'], 60);
      } else if (custom['MetricName'] !== undefined) {
        metric = plainMetric(custom, 60);
      } else {
        throw new TemplatePolicyError(`target tracking policy ${policyId} uses a metric the simulator does not model (${JSON.stringify(predefined)})`, ctx);
      }
      policies.push({
        kind: 'target',
        name: policyId,
        metric,
        targetValue: num(c['TargetValue'], `TargetValue of ${policyId}`, ctx),
        scaleOutCooldownSeconds: c['ScaleOutCooldown'] === undefined ? SERVICE_DEFAULT_COOLDOWN_SECONDS : num(c['ScaleOutCooldown'], 'ScaleOutCooldown', ctx),
        scaleInCooldownSeconds: c['ScaleInCooldown'] === undefined ? SERVICE_DEFAULT_COOLDOWN_SECONDS : num(c['ScaleInCooldown'], 'ScaleInCooldown', ctx),
        disableScaleIn: c['DisableScaleIn'] === true,
      });
      continue;
    }
    const c = obj(p['StepScalingPolicyConfiguration']);
    const alarms = resources.filter(([, a]) => a.Type === 'AWS::CloudWatch::Alarm' && (obj(a.Properties)['AlarmActions'] as unknown[] | undefined)?.some((x) => refTo(x) === policyId));
    const [alarm, ...moreAlarms] = alarms;
    if (alarm === undefined) continue; // a step policy no alarm invokes never acts
    if (moreAlarms.length > 0) throw new TemplatePolicyError(`step policy ${policyId} is driven by ${alarms.length} alarms; the simulator models one`, ctx);
    const adjustments: StepAdjustment[] = ((c['StepAdjustments'] as unknown[] | undefined) ?? []).map((raw) => {
      const s = obj(raw);
      return {
        ...(s['MetricIntervalLowerBound'] !== undefined ? { lower: num(s['MetricIntervalLowerBound'], 'MetricIntervalLowerBound', ctx) } : {}),
        ...(s['MetricIntervalUpperBound'] !== undefined ? { upper: num(s['MetricIntervalUpperBound'], 'MetricIntervalUpperBound', ctx) } : {}),
        change: num(s['ScalingAdjustment'], 'ScalingAdjustment', ctx),
      };
    });
    const adjustmentType = (c['AdjustmentType'] ?? 'ChangeInCapacity') as AdjustmentType;
    const aggregation = AGGREGATIONS.find((a) => a === (c['MetricAggregationType'] ?? 'Average'));
    if (aggregation === undefined) throw new TemplatePolicyError(`step policy ${policyId} has MetricAggregationType ${JSON.stringify(c['MetricAggregationType'])}`, ctx);
    policies.push({
      kind: 'step',
      name: policyId,
      alarm: alarmSpec(alarm[0], obj(alarm[1].Properties)),
      adjustmentType,
      adjustments,
      cooldownSeconds: c['Cooldown'] === undefined ? SERVICE_DEFAULT_COOLDOWN_SECONDS : num(c['Cooldown'], 'Cooldown', ctx),
      cooldownFromTemplate: c['Cooldown'] !== undefined,
      metricAggregation: aggregation,
      ...(c['MinAdjustmentMagnitude'] !== undefined ? { minAdjustmentMagnitude: num(c['MinAdjustmentMagnitude'], 'MinAdjustmentMagnitude', ctx) } : {}),
    });
  }
  if (policies.length === 0) throw new TemplatePolicyError(`ScalableTarget ${targetId} in ${options.source} has no scaling policy`, ctx);
  return {
    source: `${options.source}#${targetId}`,
    minCapacity: num(tp['MinCapacity'], 'MinCapacity', ctx),
    maxCapacity: num(tp['MaxCapacity'], 'MaxCapacity', ctx),
    policies,
  };
}
