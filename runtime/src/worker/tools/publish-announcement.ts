import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { defineTool, type ToolDefinition } from '../tool-registry';
import { readFencedItem, writeFencedItem } from './fenced-item';

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
  const item = { client: options.client, tableName: options.tableName, key: (k: string) => ({ pk: announcementPk(k), sk: ANNOUNCEMENT_SK }) };
  return defineTool({
    name: 'publish_announcement',
    description: 'Publish an announcement to an audience. Irreversible side effect: a person must approve each call before it runs.',
    input,
    risk: 'requires_approval',
    async run({ audience, text }, ctx) {
      const invocations = await writeFencedItem(item, 'publish_announcement', { audience, text, publishedAt: now().toISOString() }, ctx);
      return { content: invocations > 1 ? `announcement already published (${ctx.idempotencyKey})` : `announcement published to ${audience} (${ctx.idempotencyKey})` };
    },
    idempotency: {
      onInterrupted: 'reconcile',
      async reconcile(idempotencyKey, ctx) {
        const found = await readFencedItem(item, idempotencyKey, ctx);
        if (found === undefined) return { performed: false };
        return { performed: true, result: { content: `announcement published to ${String(found['audience'])} (${idempotencyKey})` } };
      },
    },
  });
}
