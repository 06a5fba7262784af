import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { AwsConfig } from './config';

/** Emulators accept any credentials; AWS uses the task role's. */
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface AwsClients {
  readonly dynamo: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
}

export function createAwsClients(config: AwsConfig): AwsClients {
  const dynamo = new DynamoDBClient({
    region: config.region,
    ...(config.dynamoEndpoint !== undefined ? { endpoint: config.dynamoEndpoint, credentials: LOCAL_CREDENTIALS } : {}),
  });
  const sqs = new SQSClient({
    region: config.region,
    ...(config.sqsEndpoint !== undefined ? { endpoint: config.sqsEndpoint, credentials: LOCAL_CREDENTIALS } : {}),
  });
  return {
    dynamo: DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }),
    sqs,
  };
}
