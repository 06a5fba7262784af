/**
 * The contract between the queue-demand publisher (run by the intake, which always runs) and the
 * worker fleet's fast scaling alarms in lib/. Both import this module, so a renamed metric breaks
 * the build instead of leaving an alarm on a metric nobody publishes. Dependency-free: the CDK app
 * imports it too.
 */
import { DIMENSIONS, METRIC_NAMESPACE } from './metrics-contract';

/** The namespace every OpenClaw metric uses. */
export const QUEUE_DEMAND_NAMESPACE = METRIC_NAMESPACE;

/** Published once per interval with StorageResolution 1 (high resolution), summed over both lanes. */
export const QUEUE_DEMAND_METRICS = {
  /** ApproximateNumberOfMessages: tasks waiting for a worker. */
  backlog: 'QueueBacklog',
  /** ApproximateNumberOfMessagesNotVisible: tasks a worker holds (one per busy worker). */
  inFlight: 'QueueInFlight',
  /**
   * Change of (backlog + in flight) per second since the previous reading: arrivals minus
   * completions. Times the mean task time it is the number of workers missing (or spare).
   */
  growthPerSecond: 'QueueGrowthPerSecond',
} as const;

export type QueueDemandMetricName = (typeof QUEUE_DEMAND_METRICS)[keyof typeof QUEUE_DEMAND_METRICS];

/** The only dimension: one series per stage, whichever intake replica published it. */
export const QUEUE_DEMAND_DIMENSION = DIMENSIONS.stage;

/**
 * How often the publisher reads the lanes. High-resolution alarms evaluate 10-second periods, so a
 * reading per period is what they can use; faster would only cost more PutMetricData calls.
 */
export const QUEUE_DEMAND_INTERVAL_SECONDS = 10;

/** CloudWatch's high-resolution storage (1-second granularity; periods of 10, 20, 30 s become possible). */
export const HIGH_RESOLUTION = 1;
