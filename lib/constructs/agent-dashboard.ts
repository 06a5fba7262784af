import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DIMENSIONS, METRICS, SERVICES, type MetricName, type ServiceName } from '../../runtime/src/shared/metrics-contract';
import { SPEND_CEILING_PAGE_SHARE } from './agent-alarms';
import { appMetric, breakdown, deadLetterDepth, spendCeilingUsePercent, taskCompletionRate } from './agent-metrics';

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
 * scaling, gateway, running tasks, guardrails (budgets exceeded, loops caught, spend-ceiling use,
 * fallbacks), human approvals (pending, oldest age), then the standard sections of
 * cdk-monitoring-constructs (per-queue, per-service CPU/memory/task counts, ALB, tables).
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
        guardrailWidgets(stage),
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

/**
 * What stops a task or the fleet from running away: tasks failed per exhausted budget, loops
 * caught (a warning to the model or a failed task), the fleet's spend-ceiling use with the page
 * line, and calls served by a fallback model.
 */
function guardrailWidgets(stage: string): cloudwatch.IWidget[] {
  const fiveMinutes = Duration.minutes(5);
  const minute = Duration.minutes(1);
  const size = { width: 6, height: 6 } as const;
  const pageLine = SPEND_CEILING_PAGE_SHARE * 100;
  return [
    new cloudwatch.GraphWidget({
      ...size,
      title: 'Budgets exceeded (tasks, by budget)',
      left: [breakdown(stage, SERVICES.worker, METRICS.budgetExceeded, DIMENSIONS.budget, 'Sum', fiveMinutes)],
    }),
    new cloudwatch.GraphWidget({
      ...size,
      title: 'Loops caught (warned or failed)',
      left: [appMetric(stage, SERVICES.worker, METRICS.loopsDetected, 'Sum', fiveMinutes)],
    }),
    new cloudwatch.GraphWidget({
      ...size,
      title: 'Spend ceiling use (%)',
      left: [spendCeilingUsePercent(stage, minute)],
      leftYAxis: { min: 0, showUnits: false },
      leftAnnotations: [{ value: pageLine, label: `page at ${pageLine}%`, color: cloudwatch.Color.RED }],
    }),
    new cloudwatch.GraphWidget({
      ...size,
      title: 'Fallbacks served',
      left: [appMetric(stage, SERVICES.gateway, METRICS.gatewayFallbacks, 'Sum', minute)],
    }),
  ];
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
