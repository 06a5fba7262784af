import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { attachCallRecorder } from './aws-call-recorder';
import type { CallRecordSink, RecordedService } from './call-record';
import type { AwsConfig } from './config';

/** Emulators accept any credentials; AWS uses the task role's. */
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface AwsClients {
  readonly dynamo: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  /** Secrets Manager: no emulator; the SDK's own AWS_ENDPOINT_URL_SECRETS_MANAGER points it elsewhere in tests. */
  readonly secrets: SecretsManagerClient;
  /** SSM Parameter Store (kill switch, canary share); likewise AWS_ENDPOINT_URL_SSM in tests. */
  readonly ssm: SSMClient;
  /** CloudWatch metrics put directly (the queue-demand publisher's high-resolution backlog). */
  readonly cloudwatch: CloudWatchClient;
}

export interface AwsClientOptions {
  /** Whose calls these are: the task role that must allow them. */
  readonly service: RecordedService;
  /** Set only when recording is on (tests): every call is reported here. @default none, no middleware added */
  readonly sink?: CallRecordSink;
}

export function createAwsClients(config: AwsConfig, options?: AwsClientOptions): AwsClients {
  const dynamo = new DynamoDBClient({
    region: config.region,
    ...(config.dynamoEndpoint !== undefined ? { endpoint: config.dynamoEndpoint, credentials: LOCAL_CREDENTIALS } : {}),
  });
  const sqs = new SQSClient({
    region: config.region,
    ...(config.sqsEndpoint !== undefined ? { endpoint: config.sqsEndpoint, credentials: LOCAL_CREDENTIALS } : {}),
  });
  const secrets = new SecretsManagerClient({ region: config.region });
  const ssm = new SSMClient({ region: config.region });
  const cloudwatch = new CloudWatchClient({ region: config.region });
  const sink = options?.sink;
  if (options !== undefined && sink !== undefined) {
    for (const client of [dynamo, sqs, secrets, ssm, cloudwatch]) attachCallRecorder(client, { service: options.service, region: config.region, sink });
  }
  return {
    dynamo: DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }),
    sqs,
    secrets,
    ssm,
    cloudwatch,
  };
}
