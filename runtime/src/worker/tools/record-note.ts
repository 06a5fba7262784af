import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { FencedError, isConditionalCheckFailed } from '../../shared/errors';
import { defineTool, type ToolDefinition } from '../tool-registry';

const input = z.object({ text: z.string().min(1).max(10_000).describe('The note, at most 10000 characters') }).strict();

export interface RecordNoteOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

export const notePk = (idempotencyKey: string): string => `NOTE#${idempotencyKey}`;
/** The note and its invocation counter share one item, so "note exists" and "was invoked" never disagree. */
export const NOTE_SK = 'INVOCATIONS';

/**
 * A side-effecting tool: it writes a note. One atomic UpdateItem stores the note (first write
 * wins) and counts the invocation (`invocations`), so tests can prove the system never ran it
 * twice for one key, and `reconcile` can tell whether an interrupted call took effect.
 *
 * The note honours the lease fence the way a fenced downstream should: it keeps the highest fence
 * it has seen and refuses a lower one. A former owner that froze between its lease check and the
 * call would otherwise store the note again after its successor reconciled "not performed" and ran it.
 */
export function recordNoteTool(options: RecordNoteOptions): ToolDefinition {
  const now = options.now ?? (() => new Date());
  const key = (idempotencyKey: string) => ({ pk: notePk(idempotencyKey), sk: NOTE_SK });
  return defineTool({
    name: 'record_note',
    description: 'Persist a short note. Side effect: the note is stored once per call.',
    input,
    risk: 'side_effecting',
    async run({ text }, ctx) {
      let out;
      try {
        out = await options.client.send(
          new UpdateCommand({
            TableName: options.tableName,
            Key: key(ctx.idempotencyKey),
            UpdateExpression:
              'SET #text = if_not_exists(#text, :text), taskId = :task, fence = :fence, createdAt = if_not_exists(createdAt, :now) ADD invocations :one',
            ConditionExpression: 'attribute_not_exists(fence) OR fence <= :fence',
            ExpressionAttributeNames: { '#text': 'text' },
            ExpressionAttributeValues: { ':text': text, ':task': ctx.taskId, ':fence': ctx.fence, ':now': now().toISOString(), ':one': 1 },
            ReturnValues: 'UPDATED_NEW',
          }),
          { abortSignal: ctx.signal },
        );
      } catch (err) {
        if (!isConditionalCheckFailed(err)) throw err;
        throw new FencedError(`record_note ${ctx.idempotencyKey}: fence ${ctx.fence} is older than the note's; a newer lease owner handled this call`, {
          taskId: ctx.taskId,
          fence: ctx.fence,
        });
      }
      const invocations = Number(out.Attributes?.['invocations'] ?? 1);
      return { content: invocations > 1 ? `note already stored (${ctx.idempotencyKey})` : `note stored (${ctx.idempotencyKey})` };
    },
    idempotency: {
      onInterrupted: 'reconcile',
      async reconcile(idempotencyKey, ctx) {
        const out = await options.client.send(
          new GetCommand({ TableName: options.tableName, Key: key(idempotencyKey), ConsistentRead: true }),
          { abortSignal: ctx.signal },
        );
        if (out.Item === undefined) return { performed: false };
        return { performed: true, result: { content: `note stored (${idempotencyKey})` } };
      },
    },
  });
}
