import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { requireProp } from '../errors';

/**
 * How long the lanes keep a message (the SQS maximum). The stage config checks that task rows
 * outlive a message's lane plus DLQ time, so a redriven message still finds its row.
 */
export const LANE_RETENTION_DAYS = 14;

export interface TaskQueuesProps {
  /** Key for server-side encryption of all three queues. */
  readonly encryptionKey: kms.IKey;
  /**
   * How long a received task stays invisible; the worker heartbeats inside it.
   * @default Duration.seconds(300)
   */
  readonly visibilityTimeout?: Duration;
  /**
   * Receives before a task moves to the dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * How long the DLQ keeps messages for inspection and redrive.
   * @default Duration.days(14)
   */
  readonly dlqRetention?: Duration;
  /**
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The two priority lanes (high, normal) that intake sends to and workers consume, and the one
 * dead-letter queue both redrive into. All three are KMS-encrypted and refuse plain HTTP.
 */
export class TaskQueues extends Construct {
  readonly high: sqs.Queue;
  readonly normal: sqs.Queue;
  readonly deadLetter: sqs.Queue;
  /** Both task queues, high first: the worker polls in this order. */
  readonly taskQueues: readonly sqs.Queue[];

  constructor(scope: Construct, id: string, props: TaskQueuesProps) {
    super(scope, id);
    const visibilityTimeout = props.visibilityTimeout ?? Duration.seconds(300);
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    const dlqRetention = props.dlqRetention ?? Duration.days(14);
    requireProp(
      visibilityTimeout.toSeconds() >= 30 && visibilityTimeout.toSeconds() <= 43200,
      'TaskQueues',
      'visibilityTimeout',
      `${visibilityTimeout.toSeconds()}s`,
      'use 30 s to 12 h; the worker heartbeat period must fit inside it at least twice',
    );
    requireProp(
      Number.isInteger(maxReceiveCount) && maxReceiveCount >= 1 && maxReceiveCount <= 1000,
      'TaskQueues',
      'maxReceiveCount',
      maxReceiveCount,
      'use an integer from 1 to 1000 (5 tolerates a deploy or two without dead-lettering live work)',
    );
    requireProp(
      dlqRetention.toSeconds() >= 60 && dlqRetention.toSeconds() <= Duration.days(14).toSeconds(),
      'TaskQueues',
      'dlqRetention',
      `${dlqRetention.toSeconds()}s`,
      'SQS keeps messages for 1 minute to 14 days',
    );
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const common = {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.encryptionKey,
      // Reuse data keys for 5 minutes: one KMS call per 5 minutes per consumer instead of per message.
      dataKeyReuse: Duration.minutes(5),
      enforceSSL: true,
      removalPolicy,
    };
    this.deadLetter = new sqs.Queue(this, 'DeadLetter', { ...common, retentionPeriod: dlqRetention });
    const deadLetterQueue = { queue: this.deadLetter, maxReceiveCount };
    // Tasks outlive a busy hour or a bad deploy in the queue: keep them for the SQS maximum.
    const lane = { ...common, visibilityTimeout, retentionPeriod: Duration.days(LANE_RETENTION_DAYS), deadLetterQueue };
    this.high = new sqs.Queue(this, 'High', lane);
    this.normal = new sqs.Queue(this, 'Normal', lane);
    this.taskQueues = [this.high, this.normal];
  }
}
