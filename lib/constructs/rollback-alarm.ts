import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { Construct } from 'constructs';

export interface RollbackAlarmProps {
  /**
   * Physical alarm name. Fixed so the service can list it in `deploymentAlarms` before the alarm
   * (whose metric may name the service) exists: no dependency cycle.
   */
  readonly alarmName: string;
  /** What the alarm watches; a ratio or count where higher is worse unless `comparison` says otherwise. */
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  /**
   * @default ComparisonOperator.GREATER_THAN_THRESHOLD
   */
  readonly comparison?: cloudwatch.ComparisonOperator;
  /**
   * Consecutive 1-minute breaching periods before rollback.
   * @default 3
   */
  readonly evaluationPeriods?: number;
  /** Why it fires, shown to whoever reads the rollback event. */
  readonly description: string;
}

/**
 * An alarm that ECS watches during a deployment and its bake time; if it fires, ECS rolls the
 * service back to the last completed deployment. No data (no traffic) never triggers rollback.
 */
export class RollbackAlarm extends Construct {
  readonly alarm: cloudwatch.Alarm;
  readonly alarmName: string;

  constructor(scope: Construct, id: string, props: RollbackAlarmProps) {
    super(scope, id);
    const evaluationPeriods = props.evaluationPeriods ?? 3;
    this.alarmName = props.alarmName;
    this.alarm = new cloudwatch.Alarm(this, 'Alarm', {
      alarmName: props.alarmName,
      alarmDescription: `Deployment rollback: ${props.description}`,
      metric: props.metric,
      threshold: props.threshold,
      comparisonOperator: props.comparison ?? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods,
      datapointsToAlarm: evaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }
}

/**
 * Deployment safety shared by every service: the circuit breaker rolls back tasks that fail to
 * start or stay healthy, the alarms roll back a release that starts but misbehaves, and the
 * scheduler keeps full capacity while it replaces tasks. Services set no desired count: auto
 * scaling owns it, so a deploy during a spike does not reset the fleet to its minimum.
 */
export function safeDeploymentProps(alarmNames: readonly string[]): Pick<
  ecs.FargateServiceProps,
  'circuitBreaker' | 'deploymentAlarms' | 'minHealthyPercent' | 'maxHealthyPercent' | 'enableExecuteCommand' | 'propagateTags' | 'assignPublicIp'
> {
  return {
    circuitBreaker: { enable: true, rollback: true },
    deploymentAlarms: { alarmNames: [...alarmNames], behavior: ecs.AlarmBehavior.ROLLBACK_ON_ALARM },
    minHealthyPercent: 100,
    maxHealthyPercent: 200,
    enableExecuteCommand: false,
    propagateTags: ecs.PropagatedTagSource.SERVICE,
    assignPublicIp: false,
  };
}

/** One-minute period shared by rollback metrics: a bad release shows within minutes. */
export const ROLLBACK_PERIOD = Duration.minutes(1);
