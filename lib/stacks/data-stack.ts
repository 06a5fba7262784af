import { Duration, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config';
import { secretRef } from '../constructs/as-interface';
import { EncryptionKey } from '../constructs/encryption-key';
import { TaskQueues } from '../constructs/task-queues';
import { TaskStore } from '../constructs/task-store';
import { removalPolicyFor } from './stage-policies';

export interface DataStackProps extends StackProps {
  readonly config: StageConfig;
}

/** Durable state: task queues and DLQ, the tasks and gateway tables, their key, and the secrets. */
export class DataStack extends Stack {
  readonly dataKey: kms.IKey;
  readonly queues: TaskQueues;
  readonly store: TaskStore;
  /** Anthropic API key; its value is set out of band (`aws secretsmanager put-secret-value`). */
  readonly anthropicSecret: secretsmanager.ISecret;
  /** Intake client API keys (JSON); set out of band. */
  readonly apiKeysSecret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, props);
    const { config } = props;
    const removalPolicy = removalPolicyFor(config);
    this.dataKey = new EncryptionKey(this, 'DataKey', { purpose: 'data', aliasPrefix: `openclaw/${config.stage}`, removalPolicy }).key;
    this.queues = new TaskQueues(this, 'Queues', {
      encryptionKey: this.dataKey,
      visibilityTimeout: Duration.seconds(config.data.visibilityTimeoutSeconds),
      maxReceiveCount: config.data.maxReceiveCount,
      dlqRetention: Duration.days(config.data.dlqRetentionDays),
      removalPolicy,
    });
    this.store = new TaskStore(this, 'Store', {
      encryptionKey: this.dataKey,
      deletionProtection: config.data.deletionProtection,
      removalPolicy,
    });
    // The generated value is a placeholder nobody can use; operators put the real key. The AWS
    // managed key is enough: readers are already limited to one task role each by IAM.
    const anthropicSecret = new secretsmanager.Secret(this, 'AnthropicApiKey', {
      description: `OpenClaw ${config.stage}: Anthropic API key, read by the gateway at start`,
      removalPolicy,
    });
    const apiKeysSecret = new secretsmanager.Secret(this, 'IntakeApiKeys', {
      description: `OpenClaw ${config.stage}: intake client API keys (JSON), read by intake at start`,
      removalPolicy,
    });
    this.anthropicSecret = secretRef(anthropicSecret);
    this.apiKeysSecret = secretRef(apiKeysSecret);
    for (const secret of [anthropicSecret, apiKeysSecret]) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'Third-party credentials: the Anthropic key and client API keys are issued outside AWS and rotated there (runbook), so no rotation Lambda can rotate them.',
      });
    }
  }
}
