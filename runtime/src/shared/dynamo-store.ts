import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Where a DynamoDB-backed store keeps its items. */
export interface DynamoTableOptions {
  /** The document client (AWS, DynamoDB Local or a test double). */
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * The shape every DynamoDB-backed store's options start with. A store that reads no clock (every
 * instant it compares comes from its caller, like the gateway's limit and breaker stores) takes
 * DynamoTableOptions instead, so it never accepts a clock it would ignore.
 */
export interface DynamoStoreOptions extends DynamoTableOptions {
  /** Epoch milliseconds; injected so tests can move time. @default Date.now */
  readonly now?: () => number;
}

/**
 * Every item of one partition (`pk`), in sort-key order, read consistently and page by page: a
 * task's row, lock, steps and intents, or a pool's approval registry.
 */
export async function queryPartition(o: DynamoTableOptions, pk: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await o.client.send(
      new QueryCommand({
        TableName: o.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ConsistentRead: true,
        ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey !== undefined);
  return items;
}
