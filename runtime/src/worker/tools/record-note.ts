import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { defineTool, type ToolDefinition } from '../tool-registry';
import { readFencedItem, writeFencedItem } from './fenced-item';

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
  const item = { client: options.client, tableName: options.tableName, key: (k: string) => ({ pk: notePk(k), sk: NOTE_SK }) };
  return defineTool({
    name: 'record_note',
    description: 'Persist a short note. Side effect: the note is stored once per call.',
    input,
    risk: 'side_effecting',
    async run({ text }, ctx) {
      const invocations = await writeFencedItem(item, 'record_note', { text, createdAt: now().toISOString() }, ctx);
      return { content: invocations > 1 ? `note already stored (${ctx.idempotencyKey})` : `note stored (${ctx.idempotencyKey})` };
    },
    idempotency: {
      onInterrupted: 'reconcile',
      async reconcile(idempotencyKey, ctx) {
        if ((await readFencedItem(item, idempotencyKey, ctx)) === undefined) return { performed: false };
        return { performed: true, result: { content: `note stored (${idempotencyKey})` } };
      },
    },
  });
}
