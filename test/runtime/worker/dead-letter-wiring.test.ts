import { CreateQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { loadWorkerConfig } from '../../../runtime/src/shared/config';
import { DEAD_LETTERED } from '../../../runtime/src/shared/dead-letter-rows';
import { silentLogger } from '../../../runtime/src/shared/logger';
import { TaskStore } from '../../../runtime/src/shared/task-store';
import { startDeadLetterSweeper, type DeadLetterSweepers } from '../../../runtime/src/worker/dead-letter-wiring';
import { createTestAws, type TestAws } from '../../support/aws';

/**
 * The worker process's sweepers as main.ts starts them, from the environment the template sets:
 * its own lanes' DLQ (DEAD_LETTER_QUEUE_URL) and another pool's (EXTRA_DEAD_LETTER_QUEUE_URLS, the
 * canary's on the stable pool), against fauxqs and DynamoDB Local.
 */
describe('dead-letter sweepers of a worker process', () => {
  let aws: TestAws;
  let store: TaskStore;
  let candidateDlq: string;
  const running: DeadLetterSweepers[] = [];

  beforeAll(async () => {
    aws = await createTestAws({ visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
    store = new TaskStore({ client: aws.dynamo, tableName: aws.resources.tasksTable });
    candidateDlq = (await aws.sqs.send(new CreateQueueCommand({ QueueName: `${aws.prefix}-candidate-dlq` }))).QueueUrl ?? '';
  });

  afterAll(async () => {
    await Promise.all(running.map((s) => s.stop()));
    aws?.destroy();
  });

  function env(extra: Record<string, string>): Record<string, string> {
    return {
      TASKS_TABLE: aws.resources.tasksTable,
      QUEUE_URL_HIGH: aws.resources.queues.high,
      QUEUE_URL_NORMAL: aws.resources.queues.normal,
      GATEWAY_URL: 'http://127.0.0.1:9',
      DEAD_LETTER_QUEUE_URL: aws.resources.dlqUrl,
      DEAD_LETTER_SWEEP_MS: '200',
      ...extra,
    };
  }

  function start(extra: Record<string, string>): DeadLetterSweepers {
    const config = loadWorkerConfig(env(extra));
    const sweepers = startDeadLetterSweeper({ ...config, maxReceiveCount: 3 }, { dynamo: aws.dynamo, sqs: aws.sqs, logger: silentLogger });
    if (sweepers === undefined) throw new Error('no sweeper started');
    running.push(sweepers);
    return sweepers;
  }

  async function deadLetteredTask(queueUrl: string): Promise<string> {
    const taskId = randomUUID();
    const now = new Date().toISOString();
    await store.create({ taskId, status: 'RUNNING', priority: 'normal', prompt: `dlq ${taskId}`, createdAt: now, updatedAt: now, attempts: 3 });
    await aws.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ taskId }) }));
    return taskId;
  }

  async function statusWithin(taskId: string, ms: number): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const row = await store.require(taskId);
      if (row.status !== 'RUNNING' || Date.now() > deadline) return row.status === 'FAILED' ? `FAILED:${row.error?.type ?? ''}` : row.status;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('GIVEN EXTRA_DEAD_LETTER_QUEUE_URLS WHEN parsed THEN the extra queues are listed apart from the own DLQ (duplicates of it dropped)', () => {
    const config = loadWorkerConfig(env({ EXTRA_DEAD_LETTER_QUEUE_URLS: ` ${candidateDlq} , ${aws.resources.dlqUrl}` }));
    expect(config.deadLetter).toEqual({ queueUrl: aws.resources.dlqUrl, sweepMs: 200, alsoQueueUrls: [candidateDlq] });
    expect(() => loadWorkerConfig(env({ EXTRA_DEAD_LETTER_QUEUE_URLS: 'not-a-url' }))).toThrow(/EXTRA_DEAD_LETTER_QUEUE_URLS/);
  });

  it('GIVEN only its own DLQ WHEN a task is dead-lettered in another pool\'s DLQ THEN it stays RUNNING (the gap the extra queue closes)', async () => {
    const sweepers = start({});
    expect(sweepers.sweepers).toHaveLength(1);
    const other = await deadLetteredTask(candidateDlq);
    expect(await statusWithin(other, 1500)).toBe('RUNNING');
    await sweepers.stop();
  });

  it('GIVEN the stable pool\'s environment with the canary\'s DLQ WHEN tasks are dead-lettered in both THEN both end FAILED dead_lettered', async () => {
    const sweepers = start({ EXTRA_DEAD_LETTER_QUEUE_URLS: candidateDlq });
    expect(sweepers.sweepers).toHaveLength(2);
    const own = await deadLetteredTask(aws.resources.dlqUrl);
    const candidate = await deadLetteredTask(candidateDlq);
    expect(await statusWithin(own, 10_000)).toBe(`FAILED:${DEAD_LETTERED}`);
    expect(await statusWithin(candidate, 10_000)).toBe(`FAILED:${DEAD_LETTERED}`);
    await sweepers.stop();
  });
});
