import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
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

/** One-minute period shared by rollback metrics: a bad release shows within minutes. */
export const ROLLBACK_PERIOD = Duration.minutes(1);
