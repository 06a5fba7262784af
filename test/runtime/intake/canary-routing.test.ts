import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { CanaryRouter } from '../../../runtime/src/intake/canary-router';
import { MutableCanaryShare, SsmCanaryShare } from '../../../runtime/src/intake/canary-share';
import { taskViewSchema } from '../../../runtime/src/intake/task-view';
import { canaryBucket, routeTask } from '../../../runtime/src/shared/agent-version';
import type { QueueUrls } from '../../../runtime/src/shared/config';
import { silentLogger } from '../../../runtime/src/shared/logger';
import { createTestAws } from '../../support/aws';
import { drainTaskIds, startIntake, type IntakeHarness } from './harness';

describe('agent canary routing (intake against the emulators)', () => {
  let intake: IntakeHarness;
  let candidate: QueueUrls;
  const share = new MutableCanaryShare(30);

  beforeAll(async () => {
    // The candidate's lanes live next to the stable ones on the same emulator.
    const aws = await createTestAws();
    const lane = async (name: string) => (await aws.sqs.send(new CreateQueueCommand({ QueueName: `${aws.prefix}-${name}` }))).QueueUrl as string;
    candidate = { high: await lane('candidate-high'), normal: await lane('candidate-normal') };
    aws.destroy();
    intake = await startIntakeWithCanary(candidate, share);
  });
  afterAll(async () => intake.close());

  it('GIVEN a share of 30 WHEN 80 tasks are submitted THEN each lands on its version\'s lanes, by its ID, and says so on GET', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 80; i++) {
      const res = await intake.call('/v1/tasks', i % 4 === 0 ? { body: { prompt: `task ${i}`, priority: 'high' }, key: intake.keys.vip } : { body: { prompt: `task ${i}` } });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { taskId: string }).taskId);
    }
    const expected = new Set(ids.filter((id) => routeTask(id, 30) === 'candidate'));
    const onCandidate = [...(await drainTaskIds(intake.aws.sqs, candidate.high)), ...(await drainTaskIds(intake.aws.sqs, candidate.normal))];
    const onStable = [...(await drainTaskIds(intake.aws.sqs, intake.aws.resources.queues.high)), ...(await drainTaskIds(intake.aws.sqs, intake.aws.resources.queues.normal))];
    expect(new Set(onCandidate)).toEqual(expected);
    expect(onStable.sort()).toEqual(ids.filter((id) => !expected.has(id)).sort());
    // 30 % of 80, give or take the draw.
    expect(expected.size).toBeGreaterThan(10);
    expect(expected.size).toBeLessThan(40);
    for (const [i, id] of ids.slice(0, 12).entries()) {
      const view = taskViewSchema.parse(await (await intake.call(`/v1/tasks/${id}`, i % 4 === 0 ? { key: intake.keys.vip } : {})).json());
      expect(view.agentVersion).toBe(expected.has(id) ? 'candidate' : 'stable');
    }
  });

  it('GIVEN a task routed to the candidate WHEN its Idempotency-Key is retried after the share dropped to 0 THEN the retry agrees with the first try', async () => {
    share.set(100);
    const first = await intake.call('/v1/tasks', { body: { prompt: 'retry me' }, headers: { 'idempotency-key': 'canary-retry-1' } });
    const { taskId } = (await first.json()) as { taskId: string };
    share.set(0);
    const again = await intake.call('/v1/tasks', { body: { prompt: 'retry me' }, headers: { 'idempotency-key': 'canary-retry-1' } });
    expect(((await again.json()) as { taskId: string }).taskId).toBe(taskId);
    const view = taskViewSchema.parse(await (await intake.call(`/v1/tasks/${taskId}`)).json());
    expect(view.agentVersion).toBe('candidate');
  });

  it('GIVEN a share of 0 WHEN tasks are submitted THEN none goes to the candidate', async () => {
    share.set(0);
    // What the earlier tests left on the candidate's lanes.
    await drainTaskIds(intake.aws.sqs, candidate.high);
    await drainTaskIds(intake.aws.sqs, candidate.normal);
    for (let i = 0; i < 20; i++) expect((await intake.call('/v1/tasks', { body: { prompt: `zero ${i}` } })).status).toBe(202);
    expect([...(await drainTaskIds(intake.aws.sqs, candidate.high)), ...(await drainTaskIds(intake.aws.sqs, candidate.normal))]).toEqual([]);
  });
});

/** An intake whose router sends the candidate's share to `candidate` and the rest to the harness's own lanes. */
async function startIntakeWithCanary(candidate: QueueUrls, share: MutableCanaryShare): Promise<IntakeHarness> {
  const holder: { stable?: QueueUrls } = {};
  const router = new CanaryRouter({
    get stable(): QueueUrls {
      if (holder.stable === undefined) throw new Error('stable lanes not provisioned yet');
      return holder.stable;
    },
    candidate: { queues: candidate, share },
  });
  const intake = await startIntake({ router });
  holder.stable = intake.aws.resources.queues;
  return intake;
}

describe('canary routing function', () => {
  it('puts IDs uniformly in [0, 1) and routes the share below it', () => {
    const ids = Array.from({ length: 4000 }, (_, i) => `task-${i}`);
    const buckets = ids.map(canaryBucket);
    expect(Math.min(...buckets)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...buckets)).toBeLessThan(1);
    const share = ids.filter((id) => routeTask(id, 10) === 'candidate').length / ids.length;
    expect(share).toBeGreaterThan(0.08);
    expect(share).toBeLessThan(0.12);
    expect(ids.every((id) => routeTask(id, 0) === 'stable')).toBe(true);
    expect(ids.every((id) => routeTask(id, 100) === 'candidate')).toBe(true);
    // Raising the share only adds tasks to the candidate: those at 10 stay there at 20.
    expect(ids.filter((id) => routeTask(id, 10) === 'candidate').every((id) => routeTask(id, 20) === 'candidate')).toBe(true);
  });
});

describe('SsmCanaryShare', () => {
  function fakeSsm(answers: Array<string | Error>): { ssm: Pick<SSMClient, 'send'>; calls: () => number } {
    let calls = 0;
    const ssm = {
      send: async () => {
        const a = answers[Math.min(calls, answers.length - 1)];
        calls += 1;
        if (a instanceof Error) throw a;
        return { Parameter: { Value: a } };
      },
    } as unknown as Pick<SSMClient, 'send'>;
    return { ssm, calls: () => calls };
  }

  it('GIVEN a cache of 15 s WHEN read often THEN SSM is asked once per interval and a change shows after it', async () => {
    let now = 0;
    const { ssm, calls } = fakeSsm(['10', '0']);
    const share = new SsmCanaryShare({ ssm, parameterName: '/p', logger: silentLogger, cacheMs: 15_000, now: () => now });
    expect(await Promise.all([share.current(), share.current(), share.current()])).toEqual([10, 10, 10]);
    now = 14_999;
    expect(await share.current()).toBe(10);
    expect(calls()).toBe(1);
    now = 15_000;
    expect(await share.current()).toBe(0);
    expect(calls()).toBe(2);
  });

  it('GIVEN SSM fails or answers garbage WHEN read THEN the last value is kept; a missing parameter is 0', async () => {
    let now = 0;
    const { ssm } = fakeSsm(['25', Object.assign(new Error('throttled'), { name: 'ThrottlingException' }), 'lots', Object.assign(new Error('gone'), { name: 'ParameterNotFound' })]);
    const share = new SsmCanaryShare({ ssm, parameterName: '/p', logger: silentLogger, cacheMs: 1000, now: () => now });
    expect(await share.current()).toBe(25);
    now = 1000;
    expect(await share.current()).toBe(25);
    now = 2000;
    expect(await share.current()).toBe(25);
    now = 3000;
    expect(await share.current()).toBe(0);
  });

  it('GIVEN no successful read yet WHEN SSM fails THEN the share is 0 (every task stable)', async () => {
    const { ssm } = fakeSsm([new Error('network')]);
    expect(await new SsmCanaryShare({ ssm, parameterName: '/p', logger: silentLogger }).current()).toBe(0);
  });
});
