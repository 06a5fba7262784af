import { PutMetricDataCommand, type CloudWatchClient, type PutMetricDataCommandInput } from '@aws-sdk/client-cloudwatch';
import type { QueueDemand } from './queue-demand';
import { HIGH_RESOLUTION, QUEUE_DEMAND_DIMENSION, QUEUE_DEMAND_METRICS, QUEUE_DEMAND_NAMESPACE } from './queue-demand-contract';
import type { QueueDemandSink } from './queue-demand-publisher';

/**
 * The PutMetricData request for one reading: every datum high resolution (StorageResolution 1), so
 * alarms can evaluate 10-second periods; timestamped with the reading, not the put.
 */
export function putMetricDataInput(stage: string, demand: QueueDemand): PutMetricDataCommandInput {
  const common = {
    Dimensions: [{ Name: QUEUE_DEMAND_DIMENSION, Value: stage }],
    Timestamp: new Date(demand.atMs),
    StorageResolution: HIGH_RESOLUTION,
  };
  return {
    Namespace: QUEUE_DEMAND_NAMESPACE,
    MetricData: [
      { ...common, MetricName: QUEUE_DEMAND_METRICS.backlog, Value: demand.backlog, Unit: 'Count' },
      { ...common, MetricName: QUEUE_DEMAND_METRICS.inFlight, Value: demand.inFlight, Unit: 'Count' },
      ...(demand.growthPerSecond === undefined ? [] : [{ ...common, MetricName: QUEUE_DEMAND_METRICS.growthPerSecond, Value: demand.growthPerSecond, Unit: 'Count/Second' as const }]),
    ],
  };
}

/** Publishes readings to CloudWatch; one PutMetricData call per reading. */
export class CloudWatchDemandSink implements QueueDemandSink {
  constructor(
    private readonly cloudwatch: CloudWatchClient,
    private readonly stage: string,
  ) {}

  async put(demand: QueueDemand): Promise<void> {
    await this.cloudwatch.send(new PutMetricDataCommand(putMetricDataInput(this.stage, demand)));
  }
}
