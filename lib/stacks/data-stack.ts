import { Duration, SecretValue, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { unsetSecretValue } from '../../runtime/src/shared/secret-source';
import { EMPTY_WEBHOOK_SIGNING_KEYS } from '../../runtime/src/shared/webhook-signing-keys';
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
  /** Anthropic API key; created unset, its value is put out of band (`aws secretsmanager put-secret-value`). */
  readonly anthropicSecret: secretsmanager.ISecret;
  /** Intake client API keys (JSON); created unset, put out of band. */
  readonly apiKeysSecret: secretsmanager.ISecret;
  /** Webhook-signing keys (API-key name -> signing key, JSON); the worker's only secret. */
  readonly webhookSigningSecret: secretsmanager.ISecret;

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
    // Each secret starts with a value its reader recognises: OPENCLAW_UNSET (the Anthropic key and the
    // API keys, which only an operator can provide: the service starts and answers not-ready, naming
    // the secret and the command, until they are put) or a valid empty document (webhook-signing
    // keys). Never CloudFormation's random string, which no reader can tell from a real value. Not a
    // secret, so plain text in the template is fine. The AWS managed key is enough: readers are
    // already limited to one task role each by IAM.
    const anthropicSecret = new secretsmanager.Secret(this, 'AnthropicApiKey', {
      description: `OpenClaw ${config.stage}: Anthropic API key, read by the gateway at run time`,
      secretStringValue: SecretValue.unsafePlainText(unsetSecretValue('the Anthropic API key')),
      removalPolicy,
    });
    const apiKeysSecret = new secretsmanager.Secret(this, 'IntakeApiKeys', {
      description: `OpenClaw ${config.stage}: intake client API keys (JSON), read by intake at run time`,
      secretStringValue: SecretValue.unsafePlainText(unsetSecretValue('the intake API keys (JSON array)')),
      removalPolicy,
    });
    // Starts as "{}", a value the worker accepts: it signs for nobody until keys are added, and
    // re-reads the secret, so a client's key added later signs its next webhook without a restart.
    const webhookSigningSecret = new secretsmanager.Secret(this, 'WebhookSigningKeys', {
      description: `OpenClaw ${config.stage}: webhook-signing keys by API-key name (JSON), read by the worker`,
      secretStringValue: SecretValue.unsafePlainText(EMPTY_WEBHOOK_SIGNING_KEYS),
      removalPolicy,
    });
    this.anthropicSecret = secretRef(anthropicSecret);
    this.apiKeysSecret = secretRef(apiKeysSecret);
    this.webhookSigningSecret = secretRef(webhookSigningSecret);
    for (const secret of [anthropicSecret, apiKeysSecret, webhookSigningSecret]) {
      Validations.of(secret).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: 'Third-party credentials: the Anthropic key, client API keys and webhook-signing keys are issued to or shared with parties outside AWS and rotated with them (runbook), so no rotation Lambda can rotate them.',
      });
    }
  }
}
