import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { processFleet } from '../../bench/fleet/fleet';
import { minimumCallsPerTask, runWorkerFleetBench } from '../../bench/fleet/worker-fleet';
import { provisionLocalResources } from '../../tools/local/provision';
import { emulatorEndpoints } from '../support/aws';

/**
 * The fleet bench's own correctness (its timing figures belong to `npm run bench`): the same tasks
 * counted the same way whether the workers share this process or each runs in its own, and the
 * warm-up round kept out of what is measured.
 */
describe('worker fleet bench', () => {
  const endpoints = () => {
    const e = emulatorEndpoints();
    return { dynamoEndpoint: e.dynamo, sqsEndpoint: e.sqs };
  };
  const perTask = (calls: Readonly<Record<string, number>>, tasks: number) => Object.fromEntries(Object.entries(calls).map(([k, v]) => [k, v / tasks]));

  it.each([
    ['one process', false],
    ['own processes', true],
  ] as const)('GIVEN 3 workers in %s after warm-up rounds THEN every measured task succeeds and only its storage calls are counted', async (where, processes) => {
    const r = await runWorkerFleetBench({ ...endpoints(), workers: 3, tasks: 6, warmupTasks: 5, maxWarmupRounds: 2, warmupTolerance: 10, modelLatencyMs: 20, toolCalls: 2, processes });
    expect(r.workersIn).toBe(where);
    // A tolerance of 1000 % makes the second round steady whatever it took: two rounds of 5.
    expect(r.warmupRoundsMs).toHaveLength(2);
    expect(r.warmupSteady).toBe(true);
    expect(r.warmupTasks).toBe(10);
    const calls = perTask(r.callsByCommand, r.tasks);
    // One claim ∥ load Query, one delete and one record_note write per measured task: none of the warm-up's 10.
    expect(calls['dynamodb:QueryCommand']).toBe(1);
    expect(calls['sqs:DeleteMessageCommand']).toBe(1);
    expect(calls['dynamodb:UpdateItemCommand']).toBe(1);
    // The claim, then one fenced transaction per step (the intent and the result ride in a step's).
    expect(calls['dynamodb:TransactWriteItemsCommand']).toBe(r.stepsPerTask + 1);
    expect(r.storageCallsPerStep).toBeGreaterThanOrEqual(minimumCallsPerTask(r.stepsPerTask) / r.stepsPerTask);
    expect(r.phases.claimAndLoadMs).toBeGreaterThan(0);
    expect(r.phases.workerProcessCpuMs).toBeGreaterThan(0);
    expect(r.efficiency).toBeGreaterThan(0);
  }, 120_000);
});

describe('worker fleet bench, workers in their own processes', () => {
  it('GIVEN a running fleet WHEN one worker process dies THEN the fleet reports the failure at once, naming the worker, and closes', async () => {
    const e = emulatorEndpoints();
    const dynamo = new DynamoDBClient({ region: 'us-east-1', endpoint: e.dynamo, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const sqs = new SQSClient({ region: 'us-east-1', endpoint: e.sqs, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const resources = await provisionLocalResources(dynamo, sqs, { prefix: `fleet-fail-${Date.now().toString(36)}` });
    const fleet = await processFleet(
      2,
      { dynamoEndpoint: e.dynamo, sqsEndpoint: e.sqs, tableName: resources.tasksTable, queues: resources.queues, modelUrl: 'http://127.0.0.1:9' },
      { onEvent: () => undefined, onDelete: () => undefined },
    );
    try {
      await fleet.prepare('fail-test');
      await fleet.start();
      expect(fleet.failure()).toBeUndefined();
      process.kill(fleet.pids[1] ?? -1, 'SIGKILL');
      for (let i = 0; i < 100 && fleet.failure() === undefined; i++) await new Promise((r) => setTimeout(r, 20));
      expect(fleet.failure()?.message).toMatch(/^fleet worker process 2 exited \(code null, signal SIGKILL\)$/);
    } finally {
      await fleet.close();
      dynamo.destroy();
      sqs.destroy();
    }
  }, 60_000);
});
