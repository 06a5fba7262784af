/**
 * The workers' approval sweep against the emulators: exactly one of several racing sweeps records
 * an expiry, a decision whose queueing failed is queued by the sweep, a stale entry is dropped,
 * and the pending gauges count only what still waits.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ApprovalStore, EXPIRED_BY } from '../../../runtime/src/shared/approvals';
import { META_SK, taskPk } from '../../../runtime/src/shared/task-model';
import { silentLogger } from '../../../runtime/src/shared/logger';
import { InMemoryMetrics } from '../../../runtime/src/shared/metrics';
import { METRICS } from '../../../runtime/src/shared/metrics-contract';
import { ApprovalSweeper } from '../../../runtime/src/worker/approval-sweeper';
import { drainTaskIds, failingSendMessage, seedWaitingTask, startIntake, type IntakeHarness } from '../intake/harness';

describe('approval sweep', () => {
  let h: IntakeHarness;
  let approvals: ApprovalStore;
  const failures = { remaining: 0 };

  beforeAll(async () => {
    // The intake's SendMessage fails on demand: a decision recorded whose task was never queued.
    h = await startIntake({ wrapSqs: (sqs) => failingSendMessage(sqs, failures) });
    approvals = new ApprovalStore({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable });
  });
  afterAll(async () => {
    await h.close();
  });

  /** `requeueAfterMs` 0 lets a test see the re-queue at once; racing sweeps keep the default, as deployed. */
  const sweeper = (metrics = new InMemoryMetrics(), now: () => number = Date.now, requeueAfterMs?: number) =>
    new ApprovalSweeper({
      approvals: new ApprovalStore({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable, now }),
      sqs: h.aws.sqs,
      pool: 'stable',
      queues: h.aws.resources.queues,
      logger: silentLogger,
      metrics,
      now,
      ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
    });
  const clear = async () => {
    for (const e of await approvals.entries('stable')) await approvals.forget(e);
    await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal);
  };

  it('GIVEN an expired approval and five sweeps at once WHEN they race THEN one records the denial and the task is queued once', async () => {
    await clear();
    const { taskId, approvalId } = await seedWaitingTask(h, { expiresInMs: -1 });
    const results = await Promise.all(Array.from({ length: 5 }, () => sweeper().sweep()));
    expect(results.flatMap((r) => r.expired)).toEqual([taskId]);
    const row = await h.store.get(taskId);
    expect(row?.status).toBe('QUEUED');
    expect(row?.decisions).toEqual([{ approvalId, decision: 'deny', reason: 'expired', decidedBy: EXPIRED_BY, decidedAt: expect.any(String), requestedAt: expect.any(String) }]);
    expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).toEqual([taskId]);
    expect(await approvals.entries('stable')).toEqual([]);
  });

  it('GIVEN a decision whose SendMessage failed WHEN the sweep runs THEN it queues the task and forgets the entry', async () => {
    await clear();
    const { taskId, approvalId } = await seedWaitingTask(h);
    failures.remaining = 1;
    const res = await h.call(`/v1/tasks/${taskId}/approvals/${approvalId}`, { body: { decision: 'approve' }, key: h.keys.approver });
    // Recorded all the same: a retry would be a second decision.
    expect(res.status).toBe(200);
    expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).toEqual([]);
    expect((await approvals.entries('stable')).map((e) => [e.taskId, e.decidedAt !== undefined])).toEqual([[taskId, true]]);
    const result = await sweeper(new InMemoryMetrics(), Date.now, 0).sweep();
    expect(result.requeued).toEqual([taskId]);
    expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).toEqual([taskId]);
    expect(await approvals.entries('stable')).toEqual([]);
  });

  it('GIVEN waiting and stale entries WHEN swept THEN the gauges count only what waits, with the oldest age, and the stale entry is dropped', async () => {
    await clear();
    const t0 = Date.now();
    const a = await seedWaitingTask(h);
    const b = await seedWaitingTask(h);
    // Stale: the row moved on (cancelled) but its entry stayed behind, and it has expired.
    const stale = await seedWaitingTask(h, { expiresInMs: -1 });
    await h.aws.dynamo.send(
      new UpdateCommand({ TableName: h.aws.resources.tasksTable, Key: { pk: taskPk(stale.taskId), sk: META_SK }, UpdateExpression: 'SET #s = :c REMOVE pendingApproval', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':c': 'CANCELLED' } }),
    );
    const metrics = new InMemoryMetrics();
    const result = await sweeper(metrics, () => t0 + 90_000).sweep();
    expect(result).toMatchObject({ pending: 2, expired: [], requeued: [] });
    expect(result.oldestPendingSeconds).toBeGreaterThanOrEqual(89);
    expect(result.oldestPendingSeconds).toBeLessThanOrEqual(92);
    expect(metrics.records.find((r) => r.name === METRICS.approvalsPending)?.value).toBe(2);
    expect(metrics.records.find((r) => r.name === METRICS.approvalOldestPendingSeconds)).toMatchObject({ value: result.oldestPendingSeconds, unit: 'Seconds' });
    expect((await approvals.entries('stable')).map((e) => e.taskId).sort()).toEqual([a.taskId, b.taskId].sort());
    expect((await h.store.get(stale.taskId))?.status).toBe('CANCELLED');
  });
});
