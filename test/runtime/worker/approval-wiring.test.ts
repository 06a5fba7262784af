import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { ConfigError } from '../../../runtime/src/shared/errors';
import { loadWorkerConfig } from '../../../runtime/src/shared/config';
import { silentLogger } from '../../../runtime/src/shared/logger';
import { startApprovalSweeper, type ApprovalSweepers } from '../../../runtime/src/worker/approval-wiring';
import { eventually } from '../../support/aws';
import { drainTaskIds, seedWaitingTask, startIntake, type IntakeHarness } from '../intake/harness';

/**
 * The worker process's approval sweeps as main.ts starts them, from the environment the template
 * sets: its own pool's, and on the stable pool the canary's (CANARY_APPROVAL_QUEUE_URLS), whose own
 * workers may have scaled to zero after a rollback. Against fauxqs and DynamoDB Local.
 */
describe('approval sweeps of a worker process', () => {
  let h: IntakeHarness;
  let candidate: { high: string; normal: string };
  const running: ApprovalSweepers[] = [];

  beforeAll(async () => {
    h = await startIntake();
    const lane = async (name: string) => (await h.aws.sqs.send(new CreateQueueCommand({ QueueName: `${h.aws.prefix}-candidate-${name}` }))).QueueUrl ?? '';
    candidate = { high: await lane('high'), normal: await lane('normal') };
  });
  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
    await h.close();
  });

  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
    TASKS_TABLE: h.aws.resources.tasksTable,
    QUEUE_URL_HIGH: h.aws.resources.queues.high,
    QUEUE_URL_NORMAL: h.aws.resources.queues.normal,
    GATEWAY_URL: 'http://127.0.0.1:9',
    APPROVAL_SWEEP_MS: '200',
    ...extra,
  });

  describe('CANARY_APPROVAL_QUEUE_URLS', () => {
    it('GIVEN the candidate\'s two lanes on a stable worker THEN the config names the candidate pool and its lanes, high first', () => {
      const config = loadWorkerConfig(env({ CANARY_APPROVAL_QUEUE_URLS: ` ${candidate.high} , ${candidate.normal}` }));
      expect(config.approvals.alsoPool).toEqual({ pool: 'candidate', queues: candidate });
      expect(loadWorkerConfig(env()).approvals.alsoPool).toBeUndefined();
    });

    it.each([
      ['one URL', () => candidate.high, /CANARY_APPROVAL_QUEUE_URLS.*must be two queue URLs, the canary pool's high lane then its normal lane/],
      ['three URLs', () => `${candidate.high},${candidate.normal},${candidate.normal}`, /CANARY_APPROVAL_QUEUE_URLS.*must be two queue URLs/],
    ])('GIVEN %s THEN the worker refuses to start, naming the variable and what it must hold', (_what, value, message) => {
      expect(() => loadWorkerConfig(env({ CANARY_APPROVAL_QUEUE_URLS: value() }))).toThrow(message);
    });

    it('GIVEN it on a candidate worker THEN the worker refuses to start: only the stable pool sweeps the candidate\'s approvals', () => {
      const set = env({ AGENT_VERSION: 'candidate', CANARY_APPROVAL_QUEUE_URLS: `${candidate.high},${candidate.normal}` });
      expect(() => loadWorkerConfig(set)).toThrow(ConfigError);
      expect(() => loadWorkerConfig(set)).toThrow(/CANARY_APPROVAL_QUEUE_URLS is for the stable pool .*unset it on AGENT_VERSION=candidate/);
    });
  });

  it('GIVEN a stable worker with the canary\'s lanes and no candidate worker running WHEN approvals of both pools expire THEN each task is denied and queued on its own pool\'s lane', async () => {
    const stableTask = await seedWaitingTask(h, { expiresInMs: -1 });
    const candidateTask = await seedWaitingTask(h, { expiresInMs: -1, agentVersion: 'candidate' });
    const config = loadWorkerConfig(env({ CANARY_APPROVAL_QUEUE_URLS: `${candidate.high},${candidate.normal}` }));
    const sweepers = startApprovalSweeper(config, { dynamo: h.aws.dynamo, sqs: h.aws.sqs, logger: silentLogger });
    running.push(sweepers);
    expect(sweepers.also).toBeDefined();
    for (const { taskId } of [stableTask, candidateTask]) {
      await eventually(async () => ((await h.store.get(taskId))?.status === 'QUEUED' ? true : undefined), `task ${taskId} queued again after its approval expired`);
      expect((await h.store.get(taskId))?.decisions).toEqual([expect.objectContaining({ decision: 'deny', reason: 'expired' })]);
    }
    const onCandidate = await eventually(async () => {
      const ids = await drainTaskIds(h.aws.sqs, candidate.normal);
      return ids.length > 0 ? ids : undefined;
    }, 'the candidate task on the candidate normal lane');
    expect(onCandidate).toEqual([candidateTask.taskId]);
    expect(await drainTaskIds(h.aws.sqs, h.aws.resources.queues.normal)).toEqual([stableTask.taskId]);
    await sweepers.stop();
  });

  it('GIVEN a stable worker without the variable WHEN a candidate approval expires THEN it is left for the candidate\'s own workers', async () => {
    const candidateTask = await seedWaitingTask(h, { expiresInMs: -1, agentVersion: 'candidate' });
    const sweepers = startApprovalSweeper(loadWorkerConfig(env()), { dynamo: h.aws.dynamo, sqs: h.aws.sqs, logger: silentLogger });
    running.push(sweepers);
    expect(sweepers.also).toBeUndefined();
    const swept = await sweepers.own.sweep();
    expect(swept.expired).not.toContain(candidateTask.taskId);
    expect((await h.store.get(candidateTask.taskId))?.status).toBe('WAITING_APPROVAL');
  });
});
