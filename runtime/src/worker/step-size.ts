import type Anthropic from '@anthropic-ai/sdk';
import { OpenClawError } from '../shared/errors';

/**
 * Size policy for checkpoints. A step item must stay well under DynamoDB's 400 KB item limit,
 * and whatever the model is shown must be exactly what the checkpoint holds (so a replay sends
 * the same conversation). So sizes are enforced before the model or the log sees anything:
 * - tool output: truncated to `maxToolOutputBytes`, with a marker saying how much was cut;
 * - LLM reply: text blocks truncated to fit `maxReplyBytes`; if the tool_use inputs alone exceed
 *   it, the reply cannot be recorded faithfully and the task fails with `reply_too_large`.
 */
export const DEFAULT_MAX_TOOL_OUTPUT_BYTES = 65_536;
export const DEFAULT_MAX_REPLY_BYTES = 300_000;

export class ReplyTooLargeError extends OpenClawError {
  constructor(taskId: string, bytes: number, limit: number) {
    super(
      'reply_too_large',
      `The model's reply for task ${taskId} has ${bytes} bytes of tool_use input, over the checkpoint limit of ${limit} bytes; lower max_tokens or raise maxReplyBytes (at most ~350000)`,
      { taskId, bytes, limit },
    );
  }
}

/** Truncate to a byte budget on a character boundary and say what was cut. */
export function truncateOutput(text: string, maxBytes: number): string {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return text;
  const marker = `\n[truncated: output was ${bytes} bytes, limit ${maxBytes}]`;
  let cut = Buffer.from(text, 'utf8').subarray(0, Math.max(0, maxBytes - Buffer.byteLength(marker))).toString('utf8');
  // A cut inside a multi-byte character decodes to U+FFFD; drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut + marker;
}

const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');

/** Fit a reply's content into `maxBytes` by shortening its text blocks; see the policy above. */
export function guardReply(taskId: string, content: Anthropic.ContentBlock[], maxBytes: number): Anthropic.ContentBlock[] {
  if (jsonBytes(content) <= maxBytes) return content;
  const texts = content.filter((b) => b.type === 'text').length;
  const fixedBytes = jsonBytes(content.filter((b) => b.type !== 'text'));
  // Each text block also costs its JSON envelope; 256 bytes each is generous.
  const perText = texts === 0 ? 0 : Math.floor((maxBytes - fixedBytes - texts * 256) / texts);
  if (perText < 1024) throw new ReplyTooLargeError(taskId, fixedBytes, maxBytes);
  return content.map((b) => (b.type === 'text' ? { ...b, text: truncateOutput(b.text, perText) } : b));
}
