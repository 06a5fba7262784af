import { startDynamoDbLocal, startFauxqs, type RunningEmulator } from '../../tools/local/emulators';

declare global {
  // Shared between globalSetup and globalTeardown (same process).
  var __OPENCLAW_EMULATORS__: RunningEmulator[] | undefined;
}

/** One DynamoDB Local and one fauxqs for the whole run; tests provision their own tables and queues. */
export default async function globalSetup(): Promise<void> {
  const [dynamo, sqs] = await Promise.all([startDynamoDbLocal(), startFauxqs()]);
  globalThis.__OPENCLAW_EMULATORS__ = [dynamo, sqs];
  process.env['AWS_ENDPOINT_URL_DYNAMODB'] = dynamo.endpoint;
  process.env['AWS_ENDPOINT_URL_SQS'] = sqs.endpoint;
}
