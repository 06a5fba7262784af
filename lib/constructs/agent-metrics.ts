import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { DIMENSIONS, METRIC_NAMESPACE, type MetricName, type ServiceName } from '../../runtime/src/shared/metrics-contract';
import { METRICS, SERVICES } from '../../runtime/src/shared/metrics-contract';

/**
 * The runtime's EMF metrics as CloudWatch metric objects. Names come from the shared contract; the
 * dimension set is [Stage, Service], which the runtime emits alongside its finer-grained sets.
 */
export function appMetric(stage: string, service: ServiceName, metricName: MetricName, statistic: string, period = Duration.minutes(1)): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName,
    dimensionsMap: { [DIMENSIONS.stage]: stage, [DIMENSIONS.service]: service },
    statistic,
    period,
  });
}

/** `numerator ÷ denominator`, or `whenEmpty` for periods with no denominator (no traffic). */
export function ratio(
  numerator: cloudwatch.IMetric,
  denominator: cloudwatch.IMetric,
  options: { readonly label: string; readonly period: Duration; readonly scale?: number; readonly whenEmpty?: number },
): cloudwatch.MathExpression {
  const scale = options.scale ?? 1;
  return new cloudwatch.MathExpression({
    expression: `IF(FILL(d, 0) > 0, ${scale} * FILL(n, 0) / d, ${options.whenEmpty ?? 0})`,
    usingMetrics: { n: numerator, d: denominator },
    period: options.period,
    label: options.label,
  });
}

/** Succeeded ÷ (succeeded + failed) in percent for the stage's workers; no finished task reads 100. */
export function taskCompletionRate(stage: string, period: Duration): cloudwatch.MathExpression {
  const ok = appMetric(stage, SERVICES.worker, METRICS.tasksSucceeded, 'Sum', period);
  const failed = appMetric(stage, SERVICES.worker, METRICS.tasksFailed, 'Sum', period);
  const finished = new cloudwatch.MathExpression({ expression: 'FILL(ok, 0) + FILL(failed, 0)', usingMetrics: { ok, failed }, period });
  return ratio(ok, finished, { label: 'Task completion rate (%)', period, scale: 100, whenEmpty: 100 });
}

/**
 * Messages in the dead-letter queue, visible or not: the worker's sweeper holds each one for a
 * while on every pass, so the visible count alone would dip to 0 while tasks are still dead.
 */
export function deadLetterDepth(queue: sqs.IQueue, period: Duration): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: 'FILL(visible, 0) + FILL(held, 0)',
    usingMetrics: {
      visible: queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period }),
      held: queue.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', period }),
    },
    period,
    label: 'Dead-lettered tasks',
  });
}

/**
 * One line per value of a breakdown dimension (finish reason, lane) from its [Stage, Service, X]
 * rollup. A SEARCH finds values nobody listed in advance (a new stop reason, "unknown"); it only
 * works in graphs, never in alarms.
 */
export function breakdown(stage: string, service: ServiceName, metricName: MetricName, dimension: string, statistic: string, period: Duration, labelPrefix = ''): cloudwatch.MathExpression {
  const schema = `{${METRIC_NAMESPACE},${DIMENSIONS.stage},${DIMENSIONS.service},${dimension}}`;
  return new cloudwatch.MathExpression({
    expression: `SEARCH('${schema} MetricName="${metricName}" ${DIMENSIONS.stage}="${stage}" ${DIMENSIONS.service}="${service}"', '${statistic}', ${period.toSeconds()})`,
    usingMetrics: {},
    period,
    // A dynamic label: each line is named by its own dimension value.
    label: `${labelPrefix}\${PROP('Dim.${dimension}')}`,
  });
}

/**
 * The gateway's share of the fleet's hourly spend ceiling in percent, the highest any replica
 * reports (each sees the shared bucket, so they agree within one report interval).
 */
export function spendCeilingUsePercent(stage: string, period: Duration): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: '100 * use',
    usingMetrics: { use: appMetric(stage, SERVICES.gateway, METRICS.gatewaySpendCeilingUse, 'Maximum', period) },
    period,
    label: 'Spend ceiling use (%)',
  });
}
