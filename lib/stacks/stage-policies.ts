import { RemovalPolicy } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { StageConfig } from '../config';

/** Prod keeps data, keys and logs when a stack goes away; other stages clean up after themselves. */
export function removalPolicyFor(config: StageConfig): RemovalPolicy {
  return config.data.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
}

/** The config's retention is one of the values CloudWatch accepts (validated by the schema). */
export function retentionFor(config: StageConfig): logs.RetentionDays {
  return config.logs.retentionDays as logs.RetentionDays;
}

/** Fixed prefix for alarm names that deployments reference before the alarms exist. */
export function alarmNamePrefix(config: StageConfig): string {
  return `openclaw-${config.stage}`;
}
