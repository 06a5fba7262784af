import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { provisionLocalResources, type LocalResources, type ProvisionOptions } from '../../tools/local/provision';

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export function emulatorEndpoints(): { dynamo: string; sqs: string } {
  const dynamo = process.env['AWS_ENDPOINT_URL_DYNAMODB'];
  const sqs = process.env['AWS_ENDPOINT_URL_SQS'];
  if (dynamo === undefined || sqs === undefined) {
    throw new Error('Emulator endpoints are not set: run tests through jest (test/support/global-setup.ts starts them)');
  }
  return { dynamo, sqs };
}

export interface TestAws {
  readonly rawDynamo: DynamoDBClient;
  readonly dynamo: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly resources: LocalResources;
  readonly prefix: string;
  destroy(): void;
}

/** Clients on the shared emulators plus a fresh, uniquely named set of tables and queues. */
export async function createTestAws(options: Partial<Omit<ProvisionOptions, 'prefix'>> = {}): Promise<TestAws> {
  const endpoints = emulatorEndpoints();
  const rawDynamo = new DynamoDBClient({ region: 'us-east-1', endpoint: endpoints.dynamo, credentials: CREDENTIALS });
  const dynamo = DynamoDBDocumentClient.from(rawDynamo, { marshallOptions: { removeUndefinedValues: true } });
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: endpoints.sqs, credentials: CREDENTIALS });
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const resources = await provisionLocalResources(rawDynamo, sqs, { prefix, ...options });
  return {
    rawDynamo,
    dynamo,
    sqs,
    resources,
    prefix,
    destroy: () => {
      dynamo.destroy();
      sqs.destroy();
    },
  };
}

/** Poll until `check` returns a value, or fail with what was last seen. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
