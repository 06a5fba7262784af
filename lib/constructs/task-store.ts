import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { tableRef } from './as-interface';
import { TASK_TTL_ATTRIBUTE } from '../../runtime/src/shared/task-retention';

export interface TaskStoreProps {
  /** Key for server-side encryption of both tables. */
  readonly encryptionKey: kms.IKey;
  /**
   * Refuse DeleteTable (prod).
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** Attribute the runtime writes epoch seconds into (its own constant); DynamoDB deletes expired items eventually. */
export const TTL_ATTRIBUTE = TASK_TTL_ATTRIBUTE;

/**
 * The durable state of the system. `tasks` holds task rows, leases and the checkpoint log
 * (`pk`/`sk`); `gateway` holds the rate-limit buckets and breaker state that gateway replicas
 * share. TTL only cleans up: the runtime compares timestamps in its conditions (docs/architecture.md, "Traps the worker is built to avoid", 4).
 */
export class TaskStore extends Construct {
  readonly tasksTable: dynamodb.ITable;
  readonly gatewayTable: dynamodb.ITable;

  constructor(scope: Construct, id: string, props: TaskStoreProps) {
    super(scope, id);
    const common: dynamodb.TableProps = {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.encryptionKey,
      timeToLiveAttribute: TTL_ATTRIBUTE,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    };
    this.tasksTable = tableRef(new dynamodb.Table(this, 'Tasks', common));
    this.gatewayTable = tableRef(new dynamodb.Table(this, 'Gateway', common));
  }
}
