import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { putMetricDataInput } from '../../../runtime/src/shared/cloudwatch-demand-sink';
import type { LogFields, Logger } from '../../../runtime/src/shared/logger';
import { ArrivalCounter, type QueueDemand } from '../../../runtime/src/shared/queue-demand';
import { countArrivals } from '../../../runtime/src/intake/arrival-count';
import { HIGH_RESOLUTION, QUEUE_DEMAND_METRICS, QUEUE_DEMAND_NAMESPACE } from '../../../runtime/src/shared/queue-demand-contract';
import { QueueDemandPublisher, type QueueDemandSink } from '../../../runtime/src/shared/queue-demand-publisher';
import { createTestAws, type TestAws } from '../../support/aws';

class MemorySink implements QueueDemandSink {
  readonly published: QueueDemand[] = [];
  async put(demand: QueueDemand): Promise<void> {
    this.published.push(demand);
  }
}

function recordingLogger(lines: { event: string; fields: LogFields }[]): Logger {
  const log = (event: string, fields: LogFields = {}) => void lines.push({ event, fields });
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  return logger;
}

async function send(aws: TestAws, queueUrl: string, count: number): Promise<void> {
  for (let sent = 0; sent < count; sent += 10) {
    const n = Math.min(10, count - sent);
    await aws.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Array.from({ length: n }, (_, i) => ({ Id: `m${sent + i}`, MessageBody: JSON.stringify({ taskId: `t${sent + i}` }) })),
      }),
    );
  }
}

describe('ArrivalCounter', () => {
  it('GIVEN tasks added WHEN taken THEN it hands over the count since the last take and starts again at 0', () => {
    const counter = new ArrivalCounter();
    counter.add(3);
    counter.add(2);
    counter.add(-1); // not an arrival
    expect(counter.take()).toBe(5);
    expect(counter.take()).toBe(0);
  });
});

describe('putMetricDataInput', () => {
  it('GIVEN a reading WHEN built THEN every datum is high resolution, in the contract namespace, timestamped with the reading', () => {
    const input = putMetricDataInput('prod', { atMs: Date.UTC(2026, 10, 27, 9), backlog: 12, inFlight: 40, arrivals: 7 });
    expect(input.Namespace).toBe(QUEUE_DEMAND_NAMESPACE);
    expect(input.MetricData?.map((d) => [d.MetricName, d.Value])).toEqual([
      [QUEUE_DEMAND_METRICS.backlog, 12],
      [QUEUE_DEMAND_METRICS.inFlight, 40],
      [QUEUE_DEMAND_METRICS.arrivals, 7],
    ]);
    for (const d of input.MetricData ?? []) {
      expect(d.StorageResolution).toBe(HIGH_RESOLUTION);
      expect(d.Timestamp?.toISOString()).toBe('2026-11-27T09:00:00.000Z');
      expect(d.Dimensions).toEqual([{ Name: 'Stage', Value: 'prod' }]);
    }
  });

  it('GIVEN no arrivals WHEN built THEN 0 is sent (a Sum over replicas must not read a quiet replica as missing)', () => {
    const input = putMetricDataInput('prod', { atMs: 0, backlog: 1, inFlight: 2, arrivals: 0 });
    expect(input.MetricData?.find((d) => d.MetricName === QUEUE_DEMAND_METRICS.arrivals)?.Value).toBe(0);
  });
});

describe('QueueDemandPublisher against the SQS emulator', () => {
  let aws: TestAws;
  beforeAll(async () => {
    aws = await createTestAws();
  });
  afterAll(() => aws.destroy());

  it('GIVEN tasks sent to both lanes and some held by a worker WHEN it publishes THEN it sums the lanes and counts each sent task once', async () => {
    const sink = new MemorySink();
    const arrivals = new ArrivalCounter();
    const lanes = [aws.resources.queues.high, aws.resources.queues.normal];
    countArrivals(aws.sqs, lanes, arrivals);
    let now = 1_000_000;
    const publisher = new QueueDemandPublisher({ sqs: aws.sqs, queueUrls: lanes, sink, arrivals, logger: recordingLogger([]), now: () => now });
    await send(aws, aws.resources.queues.high, 5);
    await send(aws, aws.resources.queues.normal, 4);
    const held = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: aws.resources.queues.normal, MaxNumberOfMessages: 3, VisibilityTimeout: 300 }));
    const heldCount = held.Messages?.length ?? 0;
    expect(heldCount).toBeGreaterThan(0);

    const first = await publisher.publishOnce();
    // GetQueueAttributes (the publisher's own read) on the same client is not an arrival.
    expect(first).toEqual({ atMs: 1_000_000, backlog: 9 - heldCount, inFlight: heldCount, arrivals: 9 });

    await send(aws, aws.resources.queues.high, 12);
    now += 10_000;
    const second = await publisher.publishOnce();
    expect(second).toEqual({ atMs: 1_010_000, backlog: 21 - heldCount, inFlight: heldCount, arrivals: 12 });
    expect(sink.published).toHaveLength(2);
  });

  it('GIVEN a put that fails WHEN it publishes again THEN the arrivals of the lost datum are carried into the next', async () => {
    const arrivals = new ArrivalCounter();
    const published: QueueDemand[] = [];
    let failNext = true;
    const sink: QueueDemandSink = {
      put: async (demand) => {
        if (failNext) {
          failNext = false;
          throw new Error('throttled');
        }
        published.push(demand);
      },
    };
    const publisher = new QueueDemandPublisher({ sqs: aws.sqs, queueUrls: [aws.resources.queues.high], sink, arrivals, logger: recordingLogger([]) });
    arrivals.add(4);
    expect(await publisher.publishOnce()).toBeUndefined();
    arrivals.add(3);
    expect((await publisher.publishOnce())?.arrivals).toBe(7);
    expect(published).toHaveLength(1);
  });

  it('GIVEN a lane that does not exist WHEN it publishes THEN nothing is put and the failure is logged with the queue', async () => {
    const sink = new MemorySink();
    const lines: { event: string; fields: LogFields }[] = [];
    const missing = `${aws.resources.queues.high}-missing`;
    const publisher = new QueueDemandPublisher({ sqs: aws.sqs, queueUrls: [missing], sink, arrivals: new ArrivalCounter(), logger: recordingLogger(lines) });
    expect(await publisher.publishOnce()).toBeUndefined();
    expect(sink.published).toHaveLength(0);
    expect(lines.map((l) => l.event)).toEqual(['queue_demand.publish_failed']);
    expect(String(lines[0]?.fields['error'])).toContain(missing);
  });

  it('GIVEN a started publisher WHEN stopped THEN it has published at least once and publishes no more', async () => {
    const sink = new MemorySink();
    const publisher = new QueueDemandPublisher({
      sqs: aws.sqs,
      queueUrls: [aws.resources.queues.high],
      sink,
      arrivals: new ArrivalCounter(),
      logger: recordingLogger([]),
      intervalMs: 1000,
    });
    publisher.start();
    await publisher.stop();
    const count = sink.published.length;
    expect(count).toBe(1);
    await new Promise((r) => setTimeout(r, 1200));
    expect(sink.published).toHaveLength(count);
  });
});
