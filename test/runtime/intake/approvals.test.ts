/**
 * The decision endpoint, POST /v1/tasks/{taskId}/approvals/{approvalId}, against the emulators:
 * who may decide (403), which approvals exist for the caller (404), that a decision is taken once
 * (409, also under concurrency) and not after expiry (409, recorded as a denial), and that a
 * decision or a cancel queues the task again on its lane.
 */
import { ApprovalStore, EXPIRED_BY, EXPIRED_REASON } from '../../../runtime/src/shared/approvals';
import { drainTaskIds, seedWaitingTask, startIntake, type IntakeHarness } from './harness';
import { errorBodySchema, taskViewSchema } from '../../../runtime/src/intake/task-view';

describe('approval decisions (intake)', () => {
  let h: IntakeHarness;
  let approvals: ApprovalStore;

  beforeAll(async () => {
    h = await startIntake();
    approvals = new ApprovalStore({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable });
  });
  afterAll(async () => {
    await h.close();
  });

  const decide = (taskId: string, approvalId: string, body: unknown, key = h.keys.approver) =>
    h.call(`/v1/tasks/${taskId}/approvals/${approvalId}`, { body, key });
  const errorOf = async (res: Response) => errorBodySchema.parse(await res.json()).error;
  const entryFor = async (taskId: string) => (await approvals.entries('stable')).find((e) => e.taskId === taskId);

  it('GIVEN a waiting task WHEN its key approves THEN 200, the decision is recorded with the key name, the row is QUEUED and its message is on the lane', async () => {
    const { taskId, approvalId } = await seedWaitingTask(h);
    const res = await decide(taskId, approvalId, { decision: 'approve', reason: 'checked the text' });
    expect(res.status).toBe(200);
    const view = taskViewSchema.parse(await res.json());
    expect(view.status).toBe('QUEUED');
    expect(view.pendingApproval).toBeUndefined();
    expect(view.decisions).toEqual([{ approvalId, decision: 'approve', reason: 'checked the text', decidedBy: 'approver', decidedAt: expect.any(String) }]);
    expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).toEqual([taskId]);
    // Queued, so the registry entry is gone: the sweep has nothing left to do for it.
    expect(await entryFor(taskId)).toBeUndefined();
  });

  it('GIVEN a decided approval WHEN anyone decides again THEN 409 naming the first decision, and nothing changes', async () => {
    const { taskId, approvalId } = await seedWaitingTask(h);
    expect((await decide(taskId, approvalId, { decision: 'deny', reason: 'no' })).status).toBe(200);
    const again = await decide(taskId, approvalId, { decision: 'approve' });
    expect(again.status).toBe(409);
    expect((await errorOf(again)).message).toMatch(/already decided: deny by API key "approver"/);
    expect((await h.store.get(taskId))?.decisions).toHaveLength(1);
  });

  it('GIVEN ten concurrent approvals of one call WHEN they race THEN exactly one is recorded (200), the rest are 409, and the task is queued once', async () => {
    const { taskId, approvalId } = await seedWaitingTask(h);
    const statuses = await Promise.all(Array.from({ length: 10 }, () => decide(taskId, approvalId, { decision: 'approve' }).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(9);
    expect((await h.store.get(taskId))?.decisions).toHaveLength(1);
    expect((await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).filter((id) => id === taskId)).toHaveLength(1);
  });

  it('GIVEN an expired approval WHEN a decision arrives THEN 409 saying it expired and counted as a denial, the denial is recorded and the task queued', async () => {
    const { taskId, approvalId } = await seedWaitingTask(h, { expiresInMs: -1000 });
    const res = await decide(taskId, approvalId, { decision: 'approve' });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).message).toMatch(/expired at .*counts as a denial/);
    const row = await h.store.get(taskId);
    expect(row?.status).toBe('QUEUED');
    expect(row?.decisions).toEqual([{ approvalId, decision: 'deny', reason: EXPIRED_REASON, decidedBy: EXPIRED_BY, decidedAt: expect.any(String) }]);
    expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).toContain(taskId);
    const later = await decide(taskId, approvalId, { decision: 'approve' });
    expect(later.status).toBe(409);
    expect((await errorOf(later)).message).toMatch(/expired with no decision and counted as a denial/);
  });

  it('GIVEN another task\'s approval, an unknown approval or another key\'s task THEN 404', async () => {
    const a = await seedWaitingTask(h);
    const b = await seedWaitingTask(h);
    const crossed = await decide(b.taskId, a.approvalId, { decision: 'approve' });
    expect(crossed.status).toBe(404);
    expect((await errorOf(crossed)).message).toMatch(new RegExp(`Task ${b.taskId} has no approval ${a.approvalId}`));
    expect((await decide(a.taskId, 'apr_000000000000000000000000', { decision: 'approve' })).status).toBe(404);
    expect((await decide(a.taskId, 'not-an-approval', { decision: 'approve' })).status).toBe(404);
    const foreign = await seedWaitingTask(h, { submittedBy: 'standard' });
    expect((await decide(foreign.taskId, foreign.approvalId, { decision: 'approve' })).status).toBe(404);
    // None of that touched the waiting rows.
    for (const t of [a, b, foreign]) expect((await h.store.get(t.taskId))?.status).toBe('WAITING_APPROVAL');
  });

  it('GIVEN a key without canApprove WHEN it decides, even on its own task THEN 403 and nothing is recorded', async () => {
    const own = await seedWaitingTask(h, { submittedBy: 'standard' });
    const res = await decide(own.taskId, own.approvalId, { decision: 'approve' }, h.keys.standard);
    expect(res.status).toBe(403);
    expect((await errorOf(res)).message).toMatch(/may not decide approvals.*canApprove/);
    expect((await h.store.get(own.taskId))?.status).toBe('WAITING_APPROVAL');
  });

  it.each([
    ['an unknown decision', { decision: 'maybe' }, /decision/],
    ['an unknown field', { decision: 'approve', by: 'me' }, /by/],
    ['an empty reason', { decision: 'deny', reason: '' }, /reason/],
    ['not JSON', '{', /not valid UTF-8 JSON/],
  ])('GIVEN %s WHEN posted THEN 400 naming what to fix', async (_what, body, message) => {
    const { taskId, approvalId } = await seedWaitingTask(h);
    const res = await decide(taskId, approvalId, body);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).message).toMatch(message);
  });

  it('GIVEN a waiting task WHEN cancelled THEN 202 CANCELLED at once, its approval entry is gone and it is queued (a worker sends the webhook); a decision after it is 404', async () => {
    const { taskId, approvalId } = await seedWaitingTask(h);
    const res = await h.call(`/v1/tasks/${taskId}`, { method: 'DELETE', key: h.keys.approver });
    expect(res.status).toBe(202);
    const view = taskViewSchema.parse(await res.json());
    expect(view.status).toBe('CANCELLED');
    expect(view.pendingApproval).toBeUndefined();
    expect(await entryFor(taskId)).toBeUndefined();
    expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).toContain(taskId);
    expect((await decide(taskId, approvalId, { decision: 'approve' })).status).toBe(404);
  });
});
