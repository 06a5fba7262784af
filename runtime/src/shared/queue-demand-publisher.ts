import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { errorMessage, OpenClawError } from './errors';
import type { Logger } from './logger';
import { QUEUE_DEMAND_INTERVAL_SECONDS } from './queue-demand-contract';
import { QueueDemandTracker, type QueueDemand, type QueueReading } from './queue-demand';

/** Where readings go: CloudWatch in AWS (cloudwatch-demand-sink.ts), memory in tests. */
export interface QueueDemandSink {
  put(demand: QueueDemand): Promise<void>;
}

/** A lane's attributes could not be read or were not numbers. */
export class QueueDemandReadError extends OpenClawError {
  constructor(message: string, context: Record<string, unknown>, cause?: unknown) {
    super('queue_demand_read_error', message, context, cause === undefined ? undefined : { cause });
  }
}

export interface QueueDemandPublisherOptions {
  readonly sqs: SQSClient;
  /** The lanes whose messages the worker fleet consumes (summed). */
  readonly queueUrls: readonly string[];
  readonly sink: QueueDemandSink;
  readonly logger: Logger;
  /** @default QUEUE_DEMAND_INTERVAL_SECONDS × 1000 */
  readonly intervalMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

const ATTRIBUTES = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] as const;

/**
 * Reads the lanes directly (GetQueueAttributes) every interval and publishes backlog, in-flight and
 * growth as high-resolution metrics, so the fleet's scale-out alarms see a spike within seconds
 * instead of after SQS's own one-minute metrics and their delay. A failed read or put is logged
 * and skipped: the next interval tries again, and the alarms treat the gap as missing data.
 */
export class QueueDemandPublisher {
  private readonly tracker: QueueDemandTracker;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: QueueDemandPublisherOptions) {
    this.intervalMs = options.intervalMs ?? QUEUE_DEMAND_INTERVAL_SECONDS * 1000;
    this.now = options.now ?? Date.now;
    // Two missed intervals and the rate would describe the past, not now.
    this.tracker = new QueueDemandTracker(this.intervalMs * 2.5);
  }

  /** Sum of both attributes over the lanes, read now. */
  async read(): Promise<QueueReading> {
    const atMs = this.now();
    let backlog = 0;
    let inFlight = 0;
    for (const queueUrl of this.options.queueUrls) {
      let attributes: Record<string, string> | undefined;
      try {
        attributes = (await this.options.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...ATTRIBUTES] }))).Attributes;
      } catch (err) {
        throw new QueueDemandReadError(`GetQueueAttributes failed for ${queueUrl}: ${errorMessage(err)}`, { queueUrl }, err);
      }
      const visible = Number(attributes?.['ApproximateNumberOfMessages']);
      const held = Number(attributes?.['ApproximateNumberOfMessagesNotVisible']);
      if (!Number.isFinite(visible) || !Number.isFinite(held)) {
        throw new QueueDemandReadError(`GetQueueAttributes for ${queueUrl} returned no message counts`, { queueUrl, attributes });
      }
      backlog += visible;
      inFlight += held;
    }
    return { atMs, backlog, inFlight };
  }

  /** One reading, published. Returns what was published, or undefined when the read or put failed. */
  async publishOnce(): Promise<QueueDemand | undefined> {
    try {
      const demand = this.tracker.observe(await this.read());
      await this.options.sink.put(demand);
      return demand;
    } catch (err) {
      this.options.logger.warn('queue_demand.publish_failed', { error: errorMessage(err) });
      return undefined;
    }
  }

  /** Publish now and then every interval until stop(). */
  start(): void {
    if (this.timer !== undefined || this.running !== undefined) return;
    this.stopped = false;
    const tick = (): void => {
      this.running = this.publishOnce().then(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs).unref();
      });
    };
    tick();
  }

  /** Stop the loop and wait for a publish in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
