import type Anthropic from '@anthropic-ai/sdk';
import { ReplyTooLargeError, guardReply, truncateOutput } from '../../../runtime/src/worker/step-size';

describe('checkpoint size policy', () => {
  it('GIVEN multi-byte output over the limit WHEN truncated THEN it fits in bytes, ends on a whole character and says what was cut', () => {
    const out = truncateOutput('ü'.repeat(10_000), 1000);
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(1000);
    expect(out).not.toContain('\uFFFD');
    expect(out).toMatch(/\[truncated: output was 20000 bytes, limit 1000\]$/);
    expect(truncateOutput('short', 1000)).toBe('short');
  });

  const text = (n: number): Anthropic.TextBlock => ({ type: 'text', text: 'a'.repeat(n), citations: null });
  const toolUse = (n: number): Anthropic.ToolUseBlock => ({ type: 'tool_use', id: 'toolu_1', name: 'record_note', input: { text: 'b'.repeat(n) } }) as Anthropic.ToolUseBlock;

  it('GIVEN a reply whose text is too large WHEN guarded THEN the text is shortened and the tool_use kept intact', () => {
    const guarded = guardReply('task-1', [text(500_000), toolUse(100)], 300_000);
    expect(Buffer.byteLength(JSON.stringify(guarded))).toBeLessThanOrEqual(300_000);
    expect(guarded[1]).toEqual(toolUse(100));
    expect((guarded[0] as Anthropic.TextBlock).text).toContain('[truncated: output was 500000 bytes');
  });

  it('GIVEN tool_use input alone over the limit WHEN guarded THEN a typed error names the sizes and the fix', () => {
    expect(() => guardReply('task-2', [toolUse(400_000)], 300_000)).toThrow(ReplyTooLargeError);
    expect(() => guardReply('task-2', [toolUse(400_000)], 300_000)).toThrow(/task task-2 has \d+ bytes of tool_use input, over the checkpoint limit of 300000 bytes; lower max_tokens/);
  });

  it('GIVEN a reply within the limit WHEN guarded THEN it is returned as is', () => {
    const content = [text(10), toolUse(10)];
    expect(guardReply('task-3', content, 300_000)).toBe(content);
  });
});
