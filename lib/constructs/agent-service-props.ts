import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { taskRetentionDaysSchema } from '../../runtime/src/shared/config';
import { requireProp } from '../errors';
import type { AgentNetwork } from './agent-network';
import type { ServiceRuntimeProps } from './agent-task-definition';

/** What each of the three services needs from the stage. */
export interface AgentServiceBaseProps {
  /** Cluster with Container Insights, Fargate capacity providers and a Service Connect namespace. */
  readonly cluster: ecs.ICluster;
  readonly network: AgentNetwork;
  readonly runtime: ServiceRuntimeProps;
  /** Prefix for the fixed rollback alarm names, e.g. `openclaw-prod`. */
  readonly alarmNamePrefix: string;
}

/** Access to the task lanes and table (intake writes tasks, workers run them). */
export interface TaskDataProps {
  /** Lanes, high first. */
  readonly queues: { readonly high: sqs.IQueue; readonly normal: sqs.IQueue };
  readonly tasksTable: dynamodb.ITable;
  /** Key of the queues and table. */
  readonly dataKey: kms.IKey;
  /** Days task items are kept after their last write (TASK_RETENTION_DAYS; the table's TTL deletes them). */
  readonly taskRetentionDays: number;
}

/**
 * The Fargate service settings every role shares: private subnets without public IPs, its own
 * security group, the circuit breaker and rollback alarms (a release that starts but misbehaves is
 * rolled back), full capacity kept while tasks are replaced, and no desired count: auto scaling
 * owns it, so a deploy during a spike does not reset the fleet to its minimum.
 */
export function agentServiceProps(
  base: AgentServiceBaseProps,
  taskDefinition: ecs.TaskDefinition,
  securityGroup: ec2.ISecurityGroup,
  rollbackAlarmNames: readonly string[],
): ecs.FargateServiceProps {
  return {
    cluster: base.cluster,
    taskDefinition,
    vpcSubnets: base.network.taskSubnets,
    securityGroups: [securityGroup],
    assignPublicIp: false,
    circuitBreaker: { enable: true, rollback: true },
    deploymentAlarms: { alarmNames: [...rollbackAlarmNames], behavior: ecs.AlarmBehavior.ROLLBACK_ON_ALARM },
    minHealthyPercent: 100,
    maxHealthyPercent: 200,
    enableExecuteCommand: false,
    propagateTags: ecs.PropagatedTagSource.SERVICE,
  };
}

/** Fail at synth, with the runtime's own rule, on a retention the service would refuse at start. */
export function requireTaskRetention(construct: string, days: number): void {
  requireProp(taskRetentionDaysSchema.safeParse(days).success, construct, 'taskRetentionDays', days, 'use whole days from 1 to 3650 (the runtime rejects anything else at start)');
}
