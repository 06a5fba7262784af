import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DIMENSIONS, METRICS, SERVICES, type MetricName, type ServiceName } from '../../runtime/src/shared/metrics-contract';
import { appMetric, breakdown, deadLetterDepth, taskCompletionRate } from './agent-metrics';

export interface AgentDashboardProps {
  readonly stage: string;
  readonly queues: { readonly high: sqs.IQueue; readonly normal: sqs.IQueue; readonly deadLetter: sqs.IQueue };
  /** Services by role, for running-task and CPU/memory graphs. */
  readonly services: Readonly<Record<ServiceName, ecs.FargateService>>;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  /** Backlog per worker, the worker scaling signal. */
  readonly backlogPerTask: cloudwatch.IMetric;
  /** Alarms to show in the status widget. */
  readonly alarms: readonly cloudwatch.IAlarm[];
  /**
   * The standard resource sections (queues, services, ALB, tables) from StandardMonitoring, drawn
   * below the agent's own rows.
   * @default none
   */
  readonly standardWidgets?: readonly cloudwatch.IWidget[];
}

/**
 * One dashboard per stage, read top to bottom: alarm status, outcomes (completion, duration,
 * cost, tool calls), the model's side (tokens, finish reasons, retries, context use), queues and
 * scaling, gateway, running tasks, human approvals (pending, oldest age), then the standard sections of cdk-monitoring-constructs
 * (per-queue, per-service CPU/memory/task counts, ALB, tables).
 */
export class AgentDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: AgentDashboardProps) {
    super(scope, id);
    const { stage } = props;
    const minute = Duration.minutes(1);
    const worker = (name: MetricName, stat: string): cloudwatch.Metric => appMetric(stage, SERVICES.worker, name, stat, Duration.minutes(5));
    const gateway = (name: MetricName): cloudwatch.Metric => appMetric(stage, SERVICES.gateway, name, 'Sum', minute);
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []): cloudwatch.GraphWidget =>
      new cloudwatch.GraphWidget({ title, left, right, width: 8, height: 6 });
    const lanes = [props.queues.high, props.queues.normal];

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24, height: 4 })],
        [
          graph('Task completion rate (%)', [taskCompletionRate(stage, minute)]),
          graph('Task duration (ms)', [worker(METRICS.taskDurationMs, 'p50'), worker(METRICS.taskDurationMs, 'p99')]),
          graph('Cost and tool calls per task', [worker(METRICS.costPerTaskUsd, 'Average')], [worker(METRICS.toolCallsPerTask, 'Average')]),
        ],
        [
          graph('Tokens per task', [worker(METRICS.inputTokensPerTask, 'Average'), worker(METRICS.outputTokensPerTask, 'Average')]),
          graph('Finish reasons (model replies)', [breakdown(stage, SERVICES.worker, METRICS.finishReason, DIMENSIONS.finishReason, 'Sum', Duration.minutes(5))]),
          graph(
            'LLM retries, context use (%)',
            [gateway(METRICS.llmRetries)],
            [worker(METRICS.contextUtilisation, 'Average'), worker(METRICS.contextUtilisation, 'p99')],
          ),
        ],
        [
          graph('Oldest task age (s)', lanes.map((q) => q.metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum' }))),
          graph('Backlog per worker, dead letters, redeliveries', [props.backlogPerTask], [
            deadLetterDepth(props.queues.deadLetter, minute),
            appMetric(stage, SERVICES.worker, METRICS.messageReceiveCount, 'Maximum', minute),
          ]),
          graph('Running tasks', (Object.keys(props.services) as ServiceName[]).map((role) => runningTasks(props.services[role], role))),
        ],
        [
          graph('Gateway admissions', [gateway(METRICS.gatewayAdmitted), gateway(METRICS.gatewayQueued), gateway(METRICS.gatewayRejected)], [
            breakdown(stage, SERVICES.gateway, METRICS.gatewayRejected, DIMENSIONS.lane, 'Sum', minute, 'rejected '),
          ]),
          graph('Gateway upstream errors, circuit', [gateway(METRICS.gatewayUpstreamErrors)], [appMetric(stage, SERVICES.gateway, METRICS.circuitOpen, 'Maximum', minute)]),
          graph('Intake', [
            props.loadBalancer.metrics.requestCount({ period: minute }),
            appMetric(stage, SERVICES.intake, METRICS.intakeRejected, 'Sum', minute),
          ], [props.loadBalancer.metrics.targetResponseTime({ period: minute, statistic: 'p99' })]),
        ],
        // Human approval: every worker's sweep publishes the same gauges, so Maximum is the fleet's view.
        [
          graph('Approvals pending', [appMetric(stage, SERVICES.worker, METRICS.approvalsPending, 'Maximum', minute)], [
            appMetric(stage, SERVICES.worker, METRICS.approvalsExpired, 'Sum', Duration.minutes(5)),
          ]),
          graph('Oldest pending approval (s)', [appMetric(stage, SERVICES.worker, METRICS.approvalOldestPendingSeconds, 'Maximum', minute)]),
        ],
        [...(props.standardWidgets ?? [])],
      ],
    });
  }
}

function runningTasks(service: ecs.FargateService, label: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'ECS/ContainerInsights',
    metricName: 'RunningTaskCount',
    dimensionsMap: { ClusterName: service.cluster.clusterName, ServiceName: service.serviceName },
    statistic: 'Average',
    period: Duration.minutes(1),
    label,
  });
}
