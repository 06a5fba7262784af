import { startDynamoDbLocal, startFauxqs, type RunningEmulator } from '../../tools/local/emulators';

export interface BenchEmulators {
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  stop(): Promise<void>;
}

/** Use the given endpoints, or start DynamoDB Local and fauxqs on free loopback ports. */
export async function benchEmulators(given: { dynamoEndpoint?: string; sqsEndpoint?: string } = {}): Promise<BenchEmulators> {
  const started: RunningEmulator[] = [];
  const dynamo = given.dynamoEndpoint ?? (started[started.push(await startDynamoDbLocal()) - 1] as RunningEmulator).endpoint;
  const sqs = given.sqsEndpoint ?? (started[started.push(await startFauxqs()) - 1] as RunningEmulator).endpoint;
  return { dynamoEndpoint: dynamo, sqsEndpoint: sqs, stop: async () => void (await Promise.all(started.map((e) => e.stop()))) };
}
