import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { putMetricDataInput } from '../../../runtime/src/shared/cloudwatch-demand-sink';
import type { LogFields, Logger } from '../../../runtime/src/shared/logger';
import { QueueDemandTracker, type QueueDemand } from '../../../runtime/src/shared/queue-demand';
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

describe('QueueDemandTracker', () => {
  it('GIVEN a first reading WHEN observed THEN it has counts but no growth (no rate from one point)', () => {
    const demand = new QueueDemandTracker(25_000).observe({ atMs: 0, backlog: 7, inFlight: 3 });
    expect(demand).toEqual({ atMs: 0, backlog: 7, inFlight: 3 });
  });

  it('GIVEN two readings 10 s apart WHEN observed THEN growth is the change of backlog + in flight per second', () => {
    const tracker = new QueueDemandTracker(25_000);
    tracker.observe({ atMs: 1_000, backlog: 10, inFlight: 40 });
    // 60 arrived, 20 finished: (30 + 60) - (10 + 40) = 40 more in 10 s.
    expect(tracker.observe({ atMs: 11_000, backlog: 30, inFlight: 60 }).growthPerSecond).toBeCloseTo(4, 9);
    expect(tracker.observe({ atMs: 21_000, backlog: 0, inFlight: 50 }).growthPerSecond).toBeCloseTo(-4, 9);
  });

  it('GIVEN a reading after a long gap WHEN observed THEN no growth is reported (a rate over minutes would hide a spike)', () => {
    const tracker = new QueueDemandTracker(25_000);
    tracker.observe({ atMs: 0, backlog: 0, inFlight: 0 });
    expect(tracker.observe({ atMs: 60_000, backlog: 500, inFlight: 40 }).growthPerSecond).toBeUndefined();
  });
});

describe('putMetricDataInput', () => {
  it('GIVEN a reading WHEN built THEN every datum is high resolution, in the contract namespace, timestamped with the reading', () => {
    const input = putMetricDataInput('prod', { atMs: Date.UTC(2026, 10, 27, 9), backlog: 12, inFlight: 40, growthPerSecond: 1.5 });
    expect(input.Namespace).toBe(QUEUE_DEMAND_NAMESPACE);
    expect(input.MetricData?.map((d) => [d.MetricName, d.Value])).toEqual([
      [QUEUE_DEMAND_METRICS.backlog, 12],
      [QUEUE_DEMAND_METRICS.inFlight, 40],
      [QUEUE_DEMAND_METRICS.growthPerSecond, 1.5],
    ]);
    for (const d of input.MetricData ?? []) {
      expect(d.StorageResolution).toBe(HIGH_RESOLUTION);
      expect(d.Timestamp?.toISOString()).toBe('2026-11-27T09:00:00.000Z');
      expect(d.Dimensions).toEqual([{ Name: 'Stage', Value: 'prod' }]);
    }
  });

  it('GIVEN a first reading (no growth) WHEN built THEN no growth datum is sent rather than a made-up 0', () => {
    const input = putMetricDataInput('prod', { atMs: 0, backlog: 1, inFlight: 2 });
    expect(input.MetricData?.map((d) => d.MetricName)).toEqual([QUEUE_DEMAND_METRICS.backlog, QUEUE_DEMAND_METRICS.inFlight]);
  });
});

describe('QueueDemandPublisher against the SQS emulator', () => {
  let aws: TestAws;
  beforeAll(async () => {
    aws = await createTestAws();
  });
  afterAll(() => aws.destroy());

  it('GIVEN messages waiting and held in both lanes WHEN it publishes twice THEN it sums the lanes and reports the growth per second', async () => {
    const sink = new MemorySink();
    let now = 1_000_000;
    const publisher = new QueueDemandPublisher({
      sqs: aws.sqs,
      queueUrls: [aws.resources.queues.high, aws.resources.queues.normal],
      sink,
      logger: recordingLogger([]),
      now: () => now,
    });
    await send(aws, aws.resources.queues.high, 5);
    await send(aws, aws.resources.queues.normal, 4);
    const held = await aws.sqs.send(new ReceiveMessageCommand({ QueueUrl: aws.resources.queues.normal, MaxNumberOfMessages: 3, VisibilityTimeout: 300 }));
    const heldCount = held.Messages?.length ?? 0;
    expect(heldCount).toBeGreaterThan(0);

    const first = await publisher.publishOnce();
    expect(first).toEqual({ atMs: 1_000_000, backlog: 9 - heldCount, inFlight: heldCount });

    await send(aws, aws.resources.queues.high, 12);
    now += 10_000;
    const second = await publisher.publishOnce();
    expect(second?.backlog).toBe(21 - heldCount);
    expect(second?.growthPerSecond).toBeCloseTo(1.2, 9);
    expect(sink.published).toHaveLength(2);
  });

  it('GIVEN a lane that does not exist WHEN it publishes THEN nothing is put and the failure is logged with the queue', async () => {
    const sink = new MemorySink();
    const lines: { event: string; fields: LogFields }[] = [];
    const missing = `${aws.resources.queues.high}-missing`;
    const publisher = new QueueDemandPublisher({ sqs: aws.sqs, queueUrls: [missing], sink, logger: recordingLogger(lines) });
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
