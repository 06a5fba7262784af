import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { AwsConfig } from './config';

/** Emulators accept any credentials; AWS uses the task role's. */
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface AwsClients {
  readonly dynamo: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
}

export interface AwsClientOptions {
  /**
   * Sockets each client keeps open (keep-alive) per endpoint. The SDK's own default is 50, and a
   * request beyond it queues inside the client: a service with more calls in flight (the intake at
   * a few hundred concurrent submissions) sizes it to its concurrency. @default 50
   */
  readonly maxSockets?: number;
}

/** Keep-alive agents with `maxSockets`, one pair per client so neither starves the other. */
function requestHandler(maxSockets: number) {
  return { httpAgent: new HttpAgent({ keepAlive: true, maxSockets }), httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }) };
}

export function createAwsClients(config: AwsConfig, options: AwsClientOptions = {}): AwsClients {
  const maxSockets = options.maxSockets ?? 50;
  const dynamo = new DynamoDBClient({
    region: config.region,
    requestHandler: requestHandler(maxSockets),
    ...(config.dynamoEndpoint !== undefined ? { endpoint: config.dynamoEndpoint, credentials: LOCAL_CREDENTIALS } : {}),
  });
  const sqs = new SQSClient({
    region: config.region,
    requestHandler: requestHandler(maxSockets),
    ...(config.sqsEndpoint !== undefined ? { endpoint: config.sqsEndpoint, credentials: LOCAL_CREDENTIALS } : {}),
  });
  return {
    dynamo: DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }),
    sqs,
  };
}
