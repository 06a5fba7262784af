import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** The shape every DynamoDB-backed store's options start with. */
export interface DynamoStoreOptions {
  /** The document client (AWS, DynamoDB Local or a test double). */
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Epoch milliseconds; injected so tests can move time. @default Date.now */
  readonly now?: () => number;
}
