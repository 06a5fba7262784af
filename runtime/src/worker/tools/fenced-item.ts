import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { FencedError, isConditionalCheckFailed } from '../../shared/errors';
import type { ToolContext } from '../tool-registry';

/** Where a keyed side effect lives: one item per idempotency key. */
export interface FencedItemOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly key: (idempotencyKey: string) => Record<string, string>;
}

/**
 * The write a fenced, keyed side effect makes (record_note, publish_announcement): one atomic
 * UpdateItem stores `fields` (first write wins, per attribute), counts the invocation and keeps the
 * highest lease fence seen, refusing a lower one. A former owner that froze between its lease
 * check and the call would otherwise redo the effect after its successor reconciled "not performed".
 * Returns how many times the key was invoked (1 the first time).
 */
export async function writeFencedItem(
  o: FencedItemOptions,
  tool: string,
  fields: Readonly<Record<string, string>>,
  ctx: ToolContext,
): Promise<number> {
  const names = Object.keys(fields);
  const firstWins = names.map((_, i) => `#f${i} = if_not_exists(#f${i}, :f${i})`).join(', ');
  try {
    const out = await o.client.send(
      new UpdateCommand({
        TableName: o.tableName,
        Key: o.key(ctx.idempotencyKey),
        UpdateExpression: `SET ${firstWins}, taskId = :task, fence = :fence ADD invocations :one`,
        ConditionExpression: 'attribute_not_exists(fence) OR fence <= :fence',
        ExpressionAttributeNames: Object.fromEntries(names.map((n, i) => [`#f${i}`, n])),
        ExpressionAttributeValues: {
          ...Object.fromEntries(names.map((n, i) => [`:f${i}`, fields[n]])),
          ':task': ctx.taskId,
          ':fence': ctx.fence,
          ':one': 1,
        },
        ReturnValues: 'UPDATED_NEW',
      }),
      { abortSignal: ctx.signal },
    );
    return Number(out.Attributes?.['invocations'] ?? 1);
  } catch (err) {
    if (!isConditionalCheckFailed(err)) throw err;
    throw new FencedError(`${tool} ${ctx.idempotencyKey}: fence ${ctx.fence} is older than the stored one; a newer lease owner handled this call`, {
      taskId: ctx.taskId,
      fence: ctx.fence,
    });
  }
}

/** The item a keyed side effect wrote, if it happened (its `reconcile`). */
export async function readFencedItem(o: FencedItemOptions, idempotencyKey: string, ctx: ToolContext): Promise<Record<string, unknown> | undefined> {
  const out = await o.client.send(new GetCommand({ TableName: o.tableName, Key: o.key(idempotencyKey), ConsistentRead: true }), { abortSignal: ctx.signal });
  return out.Item;
}
