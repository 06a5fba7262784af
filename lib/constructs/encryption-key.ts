import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface EncryptionKeyProps {
  /** Human-readable purpose, shown as the key description and alias suffix. */
  readonly purpose: string;
  /** Alias prefix, typically `openclaw/<stage>`. */
  readonly aliasPrefix: string;
  /**
   * Let CloudWatch Logs in this account and region use the key for log groups.
   * @default false
   */
  readonly allowCloudWatchLogs?: boolean;
  /**
   * Service principals (e.g. `cloudwatch.amazonaws.com`, `events.amazonaws.com`) that publish
   * into resources encrypted with this key, such as SNS topics.
   * @default - none
   */
  readonly publisherServices?: readonly string[];
  /**
   * What happens to the key when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A customer-managed KMS key with rotation. Grants in the key policy name exact actions, never
 * `kms:*` patterns; only AWS services may create grants on it; the policy scopes CloudWatch Logs to this account's log groups through the
 * encryption context.
 */
export class EncryptionKey extends Construct {
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: EncryptionKeyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new kms.Key(this, 'Key', {
      description: `OpenClaw ${props.purpose}`,
      alias: `alias/${props.aliasPrefix}/${props.purpose}`,
      enableKeyRotation: true,
      pendingWindow: Duration.days(30),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Grants outlive the policy that allowed them: only AWS services (DynamoDB, SQS) may create
    // them, for resources they manage (Control Tower CT.KMS.PR.3).
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyGrantsExceptForAwsServices',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
      }),
    );
    if (props.allowCloudWatchLogs === true) {
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowCloudWatchLogs',
          principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
          actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:DescribeKey'],
          resources: ['*'],
          conditions: {
            ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*` },
          },
        }),
      );
    }
    for (const service of props.publisherServices ?? []) {
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal(service)],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
      );
    }
  }
}
