import { Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as ssm from 'aws-cdk-lib/aws-ssm';

/**
 * Least-privilege grants with exact action names. The CDK `grant*` helpers add `kms:ReEncrypt*`
 * and `kms:GenerateDataKey*`; these name only what the runtime calls, and scope key use to the
 * service that encrypts on the caller's behalf (kms:ViaService).
 */

function keyUse(key: kms.IKey, service: 'sqs' | 'dynamodb', actions: readonly string[]): iam.PolicyStatement {
  const region = Stack.of(key).region;
  return new iam.PolicyStatement({
    actions: [...actions],
    resources: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `${service}.${region}.amazonaws.com` } },
  });
}

/** Intake: put tasks on the lanes. */
export function grantSendTasks(grantee: iam.IGrantable, queues: readonly sqs.IQueue[], key: kms.IKey): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      // GetQueueAttributes: the intake's /ready probe reads the normal lane's ARN.
      actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
      resources: queues.map((q) => q.queueArn),
    }),
  );
  grantee.grantPrincipal.addToPrincipalPolicy(keyUse(key, 'sqs', ['kms:GenerateDataKey', 'kms:Decrypt']));
}

/** Queue tasks on another pool's lanes (SendMessage only): the stable pool's sweep of the canary's approvals. */
export function grantRequeueTasks(grantee: iam.IGrantable, queues: readonly sqs.IQueue[], key: kms.IKey): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: queues.map((q) => q.queueArn) }));
  grantee.grantPrincipal.addToPrincipalPolicy(keyUse(key, 'sqs', ['kms:GenerateDataKey', 'kms:Decrypt']));
}

/**
 * Worker: receive, extend visibility (heartbeat), delete; and send on its own lanes, because a
 * message is replaced (re-sent, then the old one deleted) when a hand-back outlasts SQS's maximum
 * visibility and the approval sweep re-queues a task whose approval expired.
 */
export function grantConsumeTasks(grantee: iam.IGrantable, queues: readonly sqs.IQueue[], key: kms.IKey): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:SendMessage'],
      resources: queues.map((q) => q.queueArn),
    }),
  );
  grantee.grantPrincipal.addToPrincipalPolicy(keyUse(key, 'sqs', ['kms:Decrypt', 'kms:GenerateDataKey']));
}

/**
 * Worker's dead-letter sweeper: receive and hold (ChangeMessageVisibility), never delete, so the
 * message stays for the operator's redrive and the DLQ alarm.
 */
export function grantSweepDeadLetters(grantee: iam.IGrantable, queue: sqs.IQueue, key: kms.IKey): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility'],
      resources: [queue.queueArn],
    }),
  );
  grantee.grantPrincipal.addToPrincipalPolicy(keyUse(key, 'sqs', ['kms:Decrypt']));
}

/**
 * The item-level actions each service's code sends (checked both ways against the recorded calls
 * by test/contracts/iam-network.test.ts). TransactWriteItems is authorised per item as
 * PutItem/UpdateItem/DeleteItem/ConditionCheckItem, so it needs no action of its own.
 */
export const TABLE_ACTIONS = {
  /** Task rows, idempotency records, shared rate counters; DeleteItem undoes a row whose enqueue failed; DescribeTable is /ready. */
  intake: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:DescribeTable'],
  /** Leases, the checkpoint log (Query, fenced TransactWriteItems), task rows, tool notes. */
  worker: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'],
  /** Shared token buckets and circuit state. */
  gateway: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
} as const;

export function grantTableReadWrite(grantee: iam.IGrantable, tables: readonly dynamodb.ITable[], key: kms.IKey, actions: readonly string[]): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: [...actions],
      resources: tables.map((t) => t.tableArn),
    }),
  );
  grantee.grantPrincipal.addToPrincipalPolicy(keyUse(key, 'dynamodb', ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey']));
}

/** Read one secret's value (the runtime fetches it by ARN at start, never from the environment). */
export function grantReadSecret(grantee: iam.IGrantable, secret: secretsmanager.ISecret): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }),
  );
}

/** Read one parameter (the worker's kill switch). */
export function grantReadParameter(grantee: iam.IGrantable, parameter: ssm.IParameter): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [parameter.parameterArn] }));
}

/**
 * Intake's queue-demand publisher: PutMetricData, limited to the one namespace it writes.
 * PutMetricData has no resource-level permissions, so the resource is "*" with a namespace condition.
 */
export function grantPutMetricData(grantee: iam.IGrantable, namespace: string): iam.PolicyStatement {
  const statement = new iam.PolicyStatement({
    actions: ['cloudwatch:PutMetricData'],
    resources: ['*'],
    conditions: { StringEquals: { 'cloudwatch:namespace': namespace } },
  });
  grantee.grantPrincipal.addToPrincipalPolicy(statement);
  return statement;
}
