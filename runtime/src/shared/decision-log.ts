import type Anthropic from '@anthropic-ai/sdk';

/** Longest text kept from a message or a reason in a decision log line. */
const SHOWN_CHARS = 240;

/** Cut text to `max` characters and say how much was left out, so a log line stays one screen wide. */
export function abbreviate(text: string, max = SHOWN_CHARS): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max)}… (+${flat.length - max} chars)`;
}

/** One line for a message: its text, the tools it asked for, the tool results it carries. */
function summarise(message: Anthropic.MessageParam | undefined): string {
  if (message === undefined) return '';
  if (typeof message.content === 'string') return `${message.role}: ${message.content}`;
  const parts = message.content.map((block) => {
    switch (block.type) {
      case 'text':
        return block.text;
      case 'tool_use':
        return `[tool_use ${block.name}]`;
      case 'tool_result': {
        const content = typeof block.content === 'string' ? block.content : JSON.stringify(block.content ?? '');
        return `[tool_result${block.is_error === true ? ' error' : ''}: ${content}]`;
      }
      default:
        return `[${block.type}]`;
    }
  });
  return `${message.role}: ${parts.join(' ')}`;
}

export interface DecisionFields {
  /** `call_tools` when the reply asks for tools, `answer` when it ends the task. */
  readonly decision: 'call_tools' | 'answer';
  readonly tools: string[];
  /** The model's text before its first tool_use: why it chose the tool. */
  readonly why: string;
  /** What the model was shown. */
  readonly shown: { readonly messages: number; readonly estimatedTokens: number; readonly lastMessage: string };
}

/**
 * The abbreviated state behind one model decision, for the `llm.reply` log line: what was sent
 * (message count, a token estimate, the last message) and what came back (tools and the reason
 * given before them). Content is abbreviated; the logger's redaction still applies.
 */
export function describeDecision(
  sent: readonly Anthropic.MessageParam[],
  reply: readonly Anthropic.ContentBlock[],
  system?: string,
): DecisionFields {
  const firstTool = reply.findIndex((b) => b.type === 'tool_use');
  const textBefore = (firstTool === -1 ? reply : reply.slice(0, firstTool))
    .filter((b): b is Anthropic.TextBlock => b.type === 'text')
    .map((b) => b.text)
    .join(' ');
  const tools = reply.filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use').map((b) => b.name);
  const estimatedTokens = Math.ceil(Buffer.byteLength(JSON.stringify({ system: system ?? '', messages: sent }), 'utf8') / 4);
  return {
    decision: tools.length > 0 ? 'call_tools' : 'answer',
    tools,
    why: abbreviate(textBefore),
    shown: { messages: sent.length, estimatedTokens, lastMessage: abbreviate(summarise(sent[sent.length - 1])) },
  };
}
