import { PutCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { minimumCallsPerTask } from '../../bench/fleet/worker-fleet';
import { UpstreamRateLimit } from '../../bench/ratelimit/upstream-limit';
import { renderTable } from '../../bench/report/table';
import { CallCounter } from '../../bench/support/call-counter';
import { timelineSvg, niceMax } from '../../bench/sim/svg-plot';
import { createTestAws } from '../support/aws';

describe('CallCounter', () => {
  it('GIVEN a middleware on the raw DynamoDB and SQS clients THEN document-client and SQS calls are counted per command', async () => {
    const aws = await createTestAws();
    try {
      const counter = new CallCounter();
      counter.attach(aws.rawDynamo, 'dynamodb');
      counter.attach(aws.sqs, 'sqs');
      const Key = { pk: 'TASK#x', sk: 'META' };
      await aws.dynamo.send(new PutCommand({ TableName: aws.resources.tasksTable, Item: { ...Key, n: 1 } }));
      await aws.dynamo.send(new GetCommand({ TableName: aws.resources.tasksTable, Key }));
      await aws.dynamo.send(new GetCommand({ TableName: aws.resources.tasksTable, Key }));
      await aws.sqs.send(new SendMessageCommand({ QueueUrl: aws.resources.queues.normal, MessageBody: '{}' }));
      expect(counter.snapshot()).toEqual({ 'dynamodb:GetItemCommand': 2, 'dynamodb:PutItemCommand': 1, 'sqs:SendMessageCommand': 1 });
      expect(counter.total()).toBe(4);
      expect(counter.totalMs()).toBeGreaterThan(0);
      counter.reset();
      expect(counter.total()).toBe(0);
    } finally {
      aws.destroy();
    }
  });
});

describe('UpstreamRateLimit', () => {
  it('GIVEN a minute of burst THEN it accepts that many, refuses with retry-after, and refills continuously', () => {
    let now = 0;
    const limit = new UpstreamRateLimit(60, () => now); // 1 per second
    for (let i = 0; i < 60; i++) expect(limit.intercept()).toBeUndefined();
    const refused = limit.intercept();
    expect(refused).toMatchObject({ status: 429, headers: { 'retry-after': '1' } });
    expect(limit.level()).toBe(0);
    now = 2500;
    expect(limit.intercept()).toBeUndefined();
    expect(limit.intercept()).toBeUndefined();
    expect(limit.intercept()?.status).toBe(429);
    expect({ accepted: limit.accepted, rejected: limit.rejected }).toEqual({ accepted: 62, rejected: 2 });
    expect(limit.acceptedBetween(1, 3000)).toBe(2);
  });
});

describe('report helpers', () => {
  it('counts the design minimum as steps plus receive, lease, replay, result and delete', () => {
    expect(minimumCallsPerTask(5)).toBe(10);
  });

  it('renders aligned rows', () => {
    const out = renderTable([{ bench: 'b', measured: '1', baseline: '2', ratio: '0.5×' }]).split('\n');
    expect(out).toHaveLength(3);
    expect(new Set(out.map((l) => l.length)).size).toBe(1);
    expect(out[2]).toContain('0.5×');
  });

  it('draws one panel per run with the three series', () => {
    const timeline = [0, 60, 120].map((t) => ({ t, visible: t, running: 2, desired: 3, busy: 1, starting: 0 }));
    const svg = timelineSvg([{ title: 'a <b>', timeline, highlight: [60, 120] }, { title: 'c', timeline }]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<path /g)).toHaveLength(6);
    expect(svg).toContain('a &lt;b&gt;');
    expect(niceMax(0)).toBe(1);
    expect(niceMax(321)).toBe(500);
    expect(niceMax(10791)).toBe(20000);
  });
});
