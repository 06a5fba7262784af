import { minimumCallsPerTask, runWorkerFleetBench } from '../../bench/fleet/worker-fleet';
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
