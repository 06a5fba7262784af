import type Anthropic from '@anthropic-ai/sdk';
import { estimateTokens, fitContext } from '../../../runtime/src/worker/context-window';

/** prompt, then `turns` assistant(tool_use)/user(tool_result) pairs, each result `size` characters. */
function conversation(turns: number, size: number): Anthropic.MessageParam[] {
  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: 'the task [tools:9]' }];
  for (let i = 0; i < turns; i += 1) {
    messages.push({ role: 'assistant', content: [{ type: 'tool_use', id: `t${i}`, name: 'calculator', input: { a: i } }] });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: `t${i}`, content: 'x'.repeat(size) }] });
  }
  return messages;
}

describe('fitContext: trim what is sent, deterministically, never breaking tool pairs', () => {
  it('GIVEN a conversation under budget WHEN fitted THEN it is sent unchanged', () => {
    const messages = conversation(3, 100);
    expect(fitContext(messages, 10_000)).toEqual({ messages, droppedTurns: 0, droppedToolResults: 0, estimatedTokens: estimateTokens(messages[0]) + messages.slice(1).reduce((n, m) => n + estimateTokens(m), 0) });
  });

  it('GIVEN a conversation over budget WHEN fitted THEN the oldest pairs go, the prompt says how many, and every tool_result still follows its tool_use', () => {
    const messages = conversation(10, 400);
    const fitted = fitContext(messages, 700);
    expect(fitted.droppedTurns).toBeGreaterThan(0);
    expect(fitted.estimatedTokens).toBeLessThanOrEqual(700);
    expect(fitted.messages[0]?.content).toContain(`${fitted.droppedTurns} earlier turn(s) with ${fitted.droppedToolResults} tool result(s) were left out`);
    expect(fitted.droppedToolResults).toBe(fitted.droppedTurns);
    const roles = fitted.messages.map((m) => m.role);
    roles.forEach((role, i) => expect(role).toBe(i % 2 === 0 ? 'user' : 'assistant'));
    const second = fitted.messages[1]?.content as Anthropic.ToolUseBlockParam[];
    const third = fitted.messages[2]?.content as Anthropic.ToolResultBlockParam[];
    expect(third[0]?.tool_use_id).toBe(second[0]?.id);
    // The latest exchange is always kept.
    expect(fitted.messages.at(-1)).toEqual(messages.at(-1));
    // Pure: the same log gives the same request (a resumed worker sends what the crashed one would have).
    expect(fitContext(messages, 700)).toEqual(fitted);
    // The stored conversation is untouched.
    expect(messages).toHaveLength(21);
  });

  it('GIVEN a budget smaller than the latest exchange WHEN fitted THEN it keeps the prompt and the last pair rather than sending nothing', () => {
    const fitted = fitContext(conversation(4, 4000), 10);
    expect(fitted.messages).toHaveLength(3);
    expect(fitted.droppedTurns).toBe(3);
  });
});
