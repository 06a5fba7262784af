import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { DefaultDashboards, MonitoringFacade, type IDashboardSegment, type IDynamicDashboardFactory, type IDynamicDashboardSegment } from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import type { ServiceName } from '../../runtime/src/shared/metrics-contract';
import { requireProp } from '../errors';
import type { AlarmTopics } from './alarm-topics';
import { SeverityAction } from './severity-action';

export interface StandardMonitoringProps {
  /** Prefix of every alarm name (`openclaw-<stage>`), so names are deterministic per stage. */
  readonly alarmNamePrefix: string;
  readonly topics: AlarmTopics;
  readonly queues: { readonly high: sqs.IQueue; readonly normal: sqs.IQueue; readonly deadLetter: sqs.IQueue };
  /** The three services by role. */
  readonly services: Readonly<Record<ServiceName, ecs.FargateService>>;
  /** The intake's load balancer and its target groups (blue/green deployments alternate between them). */
  readonly intakeLoadBalancer: { readonly loadBalancer: elbv2.IApplicationLoadBalancer; readonly targetGroups: readonly elbv2.IApplicationTargetGroup[] };
  /** The tables whose throttles and system errors are watched, by the name used in alarm names (e.g. TasksTable). */
  readonly tables: Readonly<Record<string, dynamodb.ITable>>;
  /**
   * Memory use (percent of the task's limit, average over the period) that files a ticket; an
   * OOM kill ends the task (and, for a worker, can dead-letter its message).
   * @default 90
   */
  readonly maxMemoryPercent?: number;
  /**
   * Consecutive minutes a standard alarm must breach before it fires.
   * @default 3
   */
  readonly datapointsToAlarm?: number;
}

/**
 * The standard resource monitoring of a stage, from cdk-monitoring-constructs: SQS lanes and DLQ,
 * the Fargate services, the intake's ALB and the DynamoDB tables, each with the library's dashboard
 * section and its usual alarms (memory, unhealthy targets, throttles, system errors), routed as
 * tickets through AlarmTopics. The agent-specific alarms (completion rate, queue age across lanes,
 * DLQ depth, gateway, cost) stay in AgentAlarms.
 *
 * The facade renders no dashboard of its own: AgentDashboard places `widgets()` under the agent
 * sections, so a stage has one dashboard.
 */
export class StandardMonitoring extends Construct {
  /** Every alarm the segments created, for the dashboard's status widget. */
  readonly alarms: readonly cloudwatch.AlarmBase[];
  private readonly segments: readonly (IDashboardSegment | IDynamicDashboardSegment)[];

  constructor(scope: Construct, id: string, props: StandardMonitoringProps) {
    super(scope, id);
    const maxMemoryPercent = props.maxMemoryPercent ?? 90;
    const datapointsToAlarm = props.datapointsToAlarm ?? 3;
    requireProp(maxMemoryPercent > 0 && maxMemoryPercent <= 100, 'StandardMonitoring', 'maxMemoryPercent', maxMemoryPercent, 'use a percentage from 1 to 100');
    requireProp(Number.isInteger(datapointsToAlarm) && datapointsToAlarm >= 1, 'StandardMonitoring', 'datapointsToAlarm', datapointsToAlarm, 'use a whole number of minutes from 1');

    const facade = new MonitoringFacade(this, 'Facade', {
      alarmFactoryDefaults: {
        alarmNamePrefix: props.alarmNamePrefix,
        actionsEnabled: true,
        action: new SeverityAction(props.topics, 'ticket'),
        datapointsToAlarm,
        evaluationPeriods: datapointsToAlarm,
      },
      dashboardFactory: NO_DASHBOARDS,
    });

    facade.addLargeHeader('Queues');
    for (const [name, queue] of [['High', props.queues.high], ['Normal', props.queues.normal]] as const) {
      facade.monitorSqsQueueWithDlq({
        queue,
        deadLetterQueue: props.queues.deadLetter,
        humanReadableName: `${name} lane`,
        alarmFriendlyName: `${name}Lane`,
        // The DLQ's own alarm (depth including messages the sweeper holds) is an agent alarm.
        addDeadLetterQueueToSummaryDashboard: true,
      });
    }

    facade.addLargeHeader('Services');
    const memory = { Warning: { maxUsagePercent: maxMemoryPercent } };
    props.intakeLoadBalancer.targetGroups.forEach((targetGroup, i) => {
      const suffix = props.intakeLoadBalancer.targetGroups.length > 1 ? ` ${String.fromCharCode(65 + i)}` : '';
      facade.monitorFargateApplicationLoadBalancer({
        fargateService: props.services.intake,
        applicationLoadBalancer: props.intakeLoadBalancer.loadBalancer,
        applicationTargetGroup: targetGroup,
        humanReadableName: `Intake${suffix}`,
        alarmFriendlyName: `Intake${suffix.trim()}`,
        // The service's memory is the same whichever target group serves: alarm once.
        ...(i === 0 ? { addMemoryUsageAlarm: memory } : {}),
        // A target that stays unhealthy is an outage in the making; the idle group has no data (not breaching).
        addUnhealthyTaskCountAlarm: { Warning: { maxUnhealthyTasks: 0 } },
        invertLoadBalancerTaskCountMetricsStatistics: true,
      });
    });
    for (const role of ['gateway', 'worker'] as const) {
      facade.monitorSimpleFargateService({
        fargateService: props.services[role],
        humanReadableName: role === 'gateway' ? 'LLM gateway' : 'Agent workers',
        alarmFriendlyName: role === 'gateway' ? 'Gateway' : 'Worker',
        addMemoryUsageAlarm: memory,
      });
    }

    facade.addLargeHeader('Tables');
    for (const [name, table] of Object.entries(props.tables)) {
      facade.monitorDynamoTable({
        table,
        alarmFriendlyName: name,
        humanReadableName: name,
        // Throttles on an on-demand table mean a hot partition or a spike past the table's
        // previous peak: the runtime retries, but sustained throttling delays every task.
        addReadThrottledEventsCountAlarm: { Warning: { maxThrottledEventsThreshold: 0 } },
        addWriteThrottledEventsCountAlarm: { Warning: { maxThrottledEventsThreshold: 0 } },
        addSystemErrorCountAlarm: { Warning: { maxErrorCount: 0 } },
      });
    }

    this.segments = facade.createdDashboardSegments();
    this.alarms = facade.createdAlarms().map((a) => a.alarm);
  }

  /** The segments' graphs (and their headers), for the stage dashboard. */
  widgets(): cloudwatch.IWidget[] {
    return this.segments.flatMap((s) => ('widgets' in s ? s.widgets() : s.widgetsForDashboard(DefaultDashboards.DETAIL)));
  }
}

/** The segments are drawn on AgentDashboard, so the facade creates no dashboards. */
const NO_DASHBOARDS: IDynamicDashboardFactory = {
  addDynamicSegment: () => undefined,
  getDashboard: () => undefined,
};
