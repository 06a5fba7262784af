import type Anthropic from '@anthropic-ai/sdk';
import { abbreviate, describeDecision } from '../../../runtime/src/shared/decision-log';

describe('decision log fields', () => {
  const sent: Anthropic.MessageParam[] = [
    { role: 'user', content: 'Multiply 2 by 3 and note it' },
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'calculator', input: { a: 2, b: 3 } }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '6' }] },
  ];

  it('GIVEN a reply that reasons and then calls a tool THEN the reason is the text before the tool_use and the last message shown is summarised', () => {
    const reply = [
      { type: 'text', text: 'The product is known;\n now I record it.', citations: null },
      { type: 'tool_use', id: 'toolu_2', name: 'record_note', input: { text: '6' } },
      { type: 'text', text: 'after the tool', citations: null },
    ] as Anthropic.ContentBlock[];
    const fields = describeDecision(sent, reply, 'You are OpenClaw.');
    expect(fields).toEqual({
      decision: 'call_tools',
      tools: ['record_note'],
      why: 'The product is known; now I record it.',
      shown: {
        messages: 3,
        estimatedTokens: Math.ceil(Buffer.byteLength(JSON.stringify({ system: 'You are OpenClaw.', messages: sent })) / 4),
        lastMessage: 'user: [tool_result: 6]',
      },
    });
  });

  it('GIVEN a final answer THEN the decision is answer with no tools', () => {
    const fields = describeDecision(sent.slice(0, 1), [{ type: 'text', text: 'Done: 6', citations: null }] as Anthropic.ContentBlock[]);
    expect(fields).toMatchObject({ decision: 'answer', tools: [], why: 'Done: 6', shown: { messages: 1, lastMessage: 'user: Multiply 2 by 3 and note it' } });
  });

  it('abbreviate keeps short text and cuts long text, saying how much was cut', () => {
    expect(abbreviate('a  b\n c')).toBe('a b c');
    expect(abbreviate('x'.repeat(250), 240)).toBe(`${'x'.repeat(240)}… (+10 chars)`);
  });
});
