import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { FencedError, isConditionalCheckFailed } from '../../shared/errors';
import { defineTool, type ToolDefinition } from '../tool-registry';

const input = z
  .object({
    audience: z.string().min(1).max(200).describe('Who receives it, e.g. "all customers"'),
    text: z.string().min(1).max(5000).describe('The announcement, at most 5000 characters'),
  })
  .strict();

export interface PublishAnnouncementOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

export const announcementPk = (idempotencyKey: string): string => `ANNOUNCEMENT#${idempotencyKey}`;
/** The announcement and its invocation counter share one item, like record_note's. */
export const ANNOUNCEMENT_SK = 'PUBLISHED';

/**
 * The demo of a tool that needs a person's approval (risk `requires_approval`): "publishing" an
 * announcement to an audience is the kind of irreversible, outward-facing act a model must not do
 * alone. The worker suspends the task when the model calls it and runs it only after an approval,
 * exactly once per call: it is keyed by the call's idempotency key (first write wins, an
 * invocation counter proves it) and honours the lease fence, so `reconcile` can tell after a crash
 * whether it happened.
 */
export function publishAnnouncementTool(options: PublishAnnouncementOptions): ToolDefinition {
  const now = options.now ?? (() => new Date());
  const key = (idempotencyKey: string) => ({ pk: announcementPk(idempotencyKey), sk: ANNOUNCEMENT_SK });
  return defineTool({
    name: 'publish_announcement',
    description: 'Publish an announcement to an audience. Irreversible side effect: a person must approve each call before it runs.',
    input,
    risk: 'requires_approval',
    async run({ audience, text }, ctx) {
      let out;
      try {
        out = await options.client.send(
          new UpdateCommand({
            TableName: options.tableName,
            Key: key(ctx.idempotencyKey),
            UpdateExpression:
              'SET audience = if_not_exists(audience, :audience), #text = if_not_exists(#text, :text), taskId = :task, fence = :fence, publishedAt = if_not_exists(publishedAt, :now) ADD invocations :one',
            ConditionExpression: 'attribute_not_exists(fence) OR fence <= :fence',
            ExpressionAttributeNames: { '#text': 'text' },
            ExpressionAttributeValues: { ':audience': audience, ':text': text, ':task': ctx.taskId, ':fence': ctx.fence, ':now': now().toISOString(), ':one': 1 },
            ReturnValues: 'UPDATED_NEW',
          }),
          { abortSignal: ctx.signal },
        );
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
        throw new FencedError(`publish_announcement ${ctx.idempotencyKey}: fence ${ctx.fence} is older than the announcement's; a newer lease owner handled this call`, {
          taskId: ctx.taskId,
          fence: ctx.fence,
        });
      }
      const invocations = Number(out.Attributes?.['invocations'] ?? 1);
      return { content: invocations > 1 ? `announcement already published (${ctx.idempotencyKey})` : `announcement published to ${audience} (${ctx.idempotencyKey})` };
    },
    idempotency: {
      onInterrupted: 'reconcile',
      async reconcile(idempotencyKey, ctx) {
        const out = await options.client.send(new GetCommand({ TableName: options.tableName, Key: key(idempotencyKey), ConsistentRead: true }), { abortSignal: ctx.signal });
        if (out.Item === undefined) return { performed: false };
        return { performed: true, result: { content: `announcement published to ${String(out.Item['audience'])} (${idempotencyKey})` } };
      },
    },
  });
}
