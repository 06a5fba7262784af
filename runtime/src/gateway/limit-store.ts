import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DynamoTableOptions } from '../shared/dynamo-store';
import { isConditionalCheckFailed } from '../shared/errors';
import type { Units } from './gcra';

/** One tier's shared bucket state; `version` increments on every write (optimistic concurrency). */
export interface BucketState {
  readonly tat: Units;
  readonly version: number;
}

/** Where the replicas keep the buckets they share. */
export interface LimitStore {
  read(tier: string): Promise<BucketState>;
  /** Write `tat` if nobody wrote since `expectedVersion`; false when another replica did. */
  write(tier: string, tat: Units, expectedVersion: number): Promise<boolean>;
}

const EMPTY: BucketState = { tat: [0, 0, 0], version: 0 };

/**
 * The buckets in the gateway table: one item per tier (`pk = LIMIT#<tier>`, `sk = GCRA`) holding
 * the three TATs and a version. Every admission batch is one conditional put on that version,
 * so two replicas can never both spend the same capacity.
 */
export class DynamoLimitStore implements LimitStore {
  private readonly dynamo: DynamoDBDocumentClient;
  private readonly tableName: string;

  constructor(options: DynamoTableOptions) {
    this.dynamo = options.client;
    this.tableName = options.tableName;
  }

  private key(tier: string) {
    return { pk: `LIMIT#${tier}`, sk: 'GCRA' };
  }

  async read(tier: string): Promise<BucketState> {
    const out = await this.dynamo.send(new GetCommand({ TableName: this.tableName, Key: this.key(tier), ConsistentRead: true }));
    const item = out.Item as { tatReq?: number; tatIn?: number; tatOut?: number; version?: number } | undefined;
    if (item === undefined) return EMPTY;
    return { tat: [item.tatReq ?? 0, item.tatIn ?? 0, item.tatOut ?? 0], version: item.version ?? 0 };
  }

  async write(tier: string, tat: Units, expectedVersion: number): Promise<boolean> {
    try {
      await this.dynamo.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...this.key(tier), tatReq: tat[0], tatIn: tat[1], tatOut: tat[2], version: expectedVersion + 1 },
          ...(expectedVersion === 0
            ? { ConditionExpression: 'attribute_not_exists(pk)' }
            : { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': 'version' }, ExpressionAttributeValues: { ':v': expectedVersion } }),
        }),
      );
      return true;
    } catch (err) {
      if (isConditionalCheckFailed(err)) return false;
      throw err;
    }
  }
}

/** One process, no table: for unit tests and a gateway run without GATEWAY_TABLE. */
export class MemoryLimitStore implements LimitStore {
  private readonly states = new Map<string, BucketState>();

  read(tier: string): Promise<BucketState> {
    return Promise.resolve(this.states.get(tier) ?? EMPTY);
  }

  write(tier: string, tat: Units, expectedVersion: number): Promise<boolean> {
    const current = this.states.get(tier) ?? EMPTY;
    if (current.version !== expectedVersion) return Promise.resolve(false);
    this.states.set(tier, { tat, version: expectedVersion + 1 });
    return Promise.resolve(true);
  }
}
