import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export interface TaskOomMonitorProps {
  /** Cluster whose stopped tasks are watched. */
  readonly cluster: ecs.ICluster;
  /**
   * Topic that receives each OOM stop with the task and container.
   * @default - no notification per event; the alarm still records it
   */
  readonly topic?: sns.ITopic;
}

/**
 * Tasks killed for exceeding their memory limit. ECS reports them only as a task state change
 * (container reason `OutOfMemoryError...`, exit 137), not as a metric; an EventBridge rule turns
 * each one into a notification and, through the rule's MatchedEvents metric, an alarm.
 */
export class TaskOomMonitor extends Construct {
  readonly rule: events.Rule;
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: TaskOomMonitorProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'Rule', {
      description: 'ECS tasks stopped by an out-of-memory kill',
      eventPattern: {
        source: ['aws.ecs'],
        detailType: ['ECS Task State Change'],
        detail: {
          clusterArn: [props.cluster.clusterArn],
          lastStatus: ['STOPPED'],
          containers: { reason: [{ prefix: 'OutOfMemory' }] },
        },
      },
    });
    if (props.topic !== undefined) {
      this.rule.addTarget(
        new targets.SnsTopic(props.topic, {
          message: events.RuleTargetInput.fromText(
            `OOM kill: task ${events.EventField.fromPath('$.detail.taskArn')} (${events.EventField.fromPath('$.detail.group')}) stopped: ${events.EventField.fromPath('$.detail.stoppedReason')}`,
          ),
        }),
      );
    }
    this.alarm = new cloudwatch.Alarm(this, 'Alarm', {
      alarmDescription: '[ticket] A task was killed for running out of memory: check heap cap and task memory',
      metric: new cloudwatch.Metric({
        namespace: 'AWS/Events',
        metricName: 'MatchedEvents',
        dimensionsMap: { RuleName: this.rule.ruleName },
        statistic: 'Sum',
        period: Duration.minutes(5),
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}
