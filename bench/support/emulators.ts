import { startDynamoDbLocal, startFauxqs, type RunningEmulator } from '../../tools/local/emulators';

export interface BenchEmulators {
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  /** Process IDs of the emulators this call started (unset for endpoints given), to read their CPU time. */
  readonly pids: { readonly dynamo?: number; readonly sqs?: number };
  stop(): Promise<void>;
}

/** Use the given endpoints, or start DynamoDB Local and fauxqs on free loopback ports. */
export async function benchEmulators(given: { dynamoEndpoint?: string; sqsEndpoint?: string } = {}): Promise<BenchEmulators> {
  const started: RunningEmulator[] = [];
  const dynamoLocal = given.dynamoEndpoint === undefined ? await startDynamoDbLocal() : undefined;
  const fauxqs = given.sqsEndpoint === undefined ? await startFauxqs() : undefined;
  for (const e of [dynamoLocal, fauxqs]) if (e !== undefined) started.push(e);
  return {
    dynamoEndpoint: given.dynamoEndpoint ?? dynamoLocal?.endpoint ?? '',
    sqsEndpoint: given.sqsEndpoint ?? fauxqs?.endpoint ?? '',
    pids: { ...(dynamoLocal?.process.pid !== undefined ? { dynamo: dynamoLocal.process.pid } : {}), ...(fauxqs?.process.pid !== undefined ? { sqs: fauxqs.process.pid } : {}) },
    stop: async () => void (await Promise.all(started.map((e) => e.stop()))),
  };
}
