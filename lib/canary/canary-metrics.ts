import type { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { AgentVersion } from '../../runtime/src/shared/agent-version';
import { DIMENSIONS, METRICS, METRIC_NAMESPACE, SERVICES, type MetricName } from '../../runtime/src/shared/metrics-contract';
import { ratio } from '../constructs/agent-metrics';

/**
 * A worker metric of one agent version, from the [Stage, Service, AgentVersion] rollup the runtime
 * emits (runtime/src/shared/metrics.ts): the alarm compares these two series, never hashes.
 */
export function versionMetric(stage: string, version: AgentVersion, metricName: MetricName, statistic: string, period: Duration): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRIC_NAMESPACE,
    metricName,
    dimensionsMap: { [DIMENSIONS.stage]: stage, [DIMENSIONS.service]: SERVICES.worker, [DIMENSIONS.agentVersion]: version },
    statistic,
    period,
  });
}

/** Succeeded ÷ finished in percent for one version's workers; no finished task reads 100. */
export function versionCompletionRate(stage: string, version: AgentVersion, period: Duration): cloudwatch.MathExpression {
  const ok = versionMetric(stage, version, METRICS.tasksSucceeded, 'Sum', period);
  const failed = versionMetric(stage, version, METRICS.tasksFailed, 'Sum', period);
  const finished = new cloudwatch.MathExpression({ expression: 'FILL(ok, 0) + FILL(failed, 0)', usingMetrics: { ok, failed }, period });
  return ratio(ok, finished, { label: `Task completion rate, ${version} (%)`, period, scale: 100, whenEmpty: 100 });
}
