import { formatIntakeBench, runIntakeBench } from '../../../bench/intake/run';
import { emulatorEndpoints } from '../../support/aws';

describe('intake under a burst (correctness; the timing figures are printed, not asserted)', () => {
  it('GIVEN 500 submissions at 100 concurrent connections, to the batching intake and to one with INTAKE_BATCH_WRITES=off THEN every one is accepted, stored once and queued exactly once', async () => {
    const endpoints = emulatorEndpoints();
    const result = await runIntakeBench({ total: 500, concurrency: 100, dynamoEndpoint: endpoints.dynamo, sqsEndpoint: endpoints.sqs });
    process.stdout.write(`${formatIntakeBench(result)}\n`);
    expect(result.statuses).toEqual({ '202': 500 });
    expect(result.unbatched?.statuses).toEqual({ '202': 500 });
    expect(result.exactlyOnce).toEqual({
      rowsInTable: 1000,
      messagesInQueue: 1000,
      acceptedMissingFromTable: 0,
      acceptedMissingFromQueue: 0,
      duplicateMessages: 0,
      orphanMessages: 0,
      unexpectedMessages: 0,
      unexpectedRows: 0,
      ok: true,
    });
  }, 170_000);
});
