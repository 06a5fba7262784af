import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { deriveCapacityPlan, type StageConfig } from '../config';
import { AgentAlarms } from '../constructs/agent-alarms';
import { AgentDashboard } from '../constructs/agent-dashboard';
import { AlarmTopics } from '../constructs/alarm-topics';
import { StandardMonitoring } from '../constructs/standard-monitoring';
import { TaskOomMonitor } from '../constructs/task-oom-monitor';
import { CanaryRollback } from '../constructs/canary-rollback';
import type { DataStack } from './data-stack';
import type { ServicesStack } from './services-stack';
import { alarmNamePrefix, removalPolicyFor } from './stage-policies';

export interface ObservabilityStackProps extends StackProps {
  readonly config: StageConfig;
  readonly data: DataStack;
  readonly services: ServicesStack;
}

/** Alarm topics and routing, the operational alarms, OOM detection and the stage dashboard. */
export class ObservabilityStack extends Stack {
  readonly topics: AlarmTopics;
  readonly alarms: AgentAlarms;
  /** The agent canary's comparison alarm and automatic rollback, when the stage runs a canary. */
  readonly canaryRollback?: CanaryRollback;

  constructor(scope: Construct, id: string, props: ObservabilityStackProps) {
    super(scope, id, props);
    const { config, data, services } = props;
    const plan = deriveCapacityPlan(config.services.worker);
    this.topics = new AlarmTopics(this, 'Topics', {
      aliasPrefix: `openclaw/${config.stage}`,
      pageRoute: config.alarms.pageRoute,
      ticketRoute: config.alarms.ticketRoute,
      pageEmails: config.alarms.pageEmails,
      ticketEmails: config.alarms.ticketEmails,
      removalPolicy: removalPolicyFor(config),
    });
    const queues = { high: data.queues.high, normal: data.queues.normal, deadLetter: data.queues.deadLetter };
    this.alarms = new AgentAlarms(this, 'Alarms', {
      stage: config.stage,
      topics: this.topics,
      queues,
      queueAgeThreshold: Duration.seconds(plan.queueAgeAlarmSeconds),
      p99TaskDurationThreshold: Duration.seconds(plan.p99TaskSecondsAlarm),
      gateway429Ratio: config.alarms.gateway429Ratio,
      maxReceiveCount: config.data.maxReceiveCount,
    });
    const roles = { intake: services.intake.service, worker: services.worker.service, gateway: services.gateway.service };
    const standard = new StandardMonitoring(this, 'Standard', {
      alarmNamePrefix: alarmNamePrefix(config),
      topics: this.topics,
      queues,
      services: roles,
      intakeLoadBalancer: { loadBalancer: services.intake.loadBalancer, targetGroups: [services.intake.blueTargetGroup, services.intake.greenTargetGroup] },
      tables: { TasksTable: data.store.tasksTable, GatewayTable: data.store.gatewayTable },
    });
    if (services.canary !== undefined && config.canary !== undefined) {
      this.canaryRollback = new CanaryRollback(this, 'CanaryRollback', {
        stage: config.stage,
        thresholds: config.canary.thresholds,
        shareParameterName: services.canary.share.parameterName,
        topics: this.topics,
        alarmNamePrefix: alarmNamePrefix(config),
        removalPolicy: removalPolicyFor(config),
      });
    }
    const ticketTopic = this.topics.topicFor('ticket');
    const oom = new TaskOomMonitor(this, 'Oom', { cluster: services.cluster, ...(ticketTopic === undefined ? {} : { topic: ticketTopic }) });
    new AgentDashboard(this, 'Dashboard', {
      stage: config.stage,
      queues,
      services: roles,
      loadBalancer: services.intake.loadBalancer,
      backlogPerTask: services.worker.backlogPerTask,
      standardWidgets: standard.widgets(),
      alarms: [
        ...Object.values(this.alarms.alarms),
        ...standard.alarms,
        oom.alarm,
        services.intake.rollbackAlarm.alarm,
        services.gateway.rollbackAlarm.alarm,
        services.worker.rollbackAlarm.alarm,
        ...(services.canary === undefined ? [] : [services.canary.worker.rollbackAlarm.alarm]),
        ...(this.canaryRollback === undefined ? [] : [this.canaryRollback.alarm]),
      ],
    });
  }
}
