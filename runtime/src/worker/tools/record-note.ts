import { PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { isConditionalCheckFailed } from '../../shared/errors';
import { describeIssues } from '../../shared/zod-issues';
import type { ToolDefinition } from '../tool-registry';

const input = z.object({ text: z.string().min(1).max(10_000) });

export interface RecordNoteOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

export const notePk = (idempotencyKey: string): string => `NOTE#${idempotencyKey}`;

/**
 * A side-effecting tool: it writes a note. Every invocation is counted on the note item
 * (`invocations`), so tests can prove the system never ran it twice for one key; the note itself
 * is written only once per key, the way a keyed downstream service would behave.
 */
export function recordNoteTool(options: RecordNoteOptions): ToolDefinition {
  return {
    name: 'record_note',
    description: 'Persist a short note. Side effect: the note is stored once per call.',
    inputSchema: { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
    sideEffects: true,
    async run(raw, ctx) {
      const parsed = input.safeParse(raw);
      if (!parsed.success) return { content: `invalid input: ${describeIssues(parsed.error)}`, isError: true };
      const key = { pk: notePk(ctx.idempotencyKey), sk: 'NOTE' };
      await options.client.send(
        new UpdateCommand({
          TableName: options.tableName,
          Key: { ...key, sk: 'INVOCATIONS' },
          UpdateExpression: 'ADD invocations :one',
          ExpressionAttributeValues: { ':one': 1 },
        }),
      );
      try {
        await options.client.send(
          new PutCommand({
            TableName: options.tableName,
            Item: { ...key, taskId: ctx.taskId, text: parsed.data.text, fence: ctx.fence, createdAt: new Date().toISOString() },
            ConditionExpression: 'attribute_not_exists(pk)',
          }),
        );
        return { content: `note stored (${ctx.idempotencyKey})` };
      } catch (err) {
        if (isConditionalCheckFailed(err)) return { content: `note already stored (${ctx.idempotencyKey})` };
        throw err;
      }
    },
  };
}
