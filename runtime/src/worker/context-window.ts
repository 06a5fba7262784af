import type Anthropic from '@anthropic-ai/sdk';

/** A rough, deterministic token estimate (4 bytes a token); the same log always gives the same number. */
export const estimateTokens = (value: unknown): number => Math.ceil(Buffer.byteLength(JSON.stringify(value), 'utf8') / 4);

export interface FittedContext {
  readonly messages: Anthropic.MessageParam[];
  /** Assistant/user turn pairs left out. */
  readonly droppedTurns: number;
  /** Tool results inside the dropped turns. */
  readonly droppedToolResults: number;
  readonly estimatedTokens: number;
}

/**
 * Trim what is sent, never what is stored: when the replayed conversation is over `budgetTokens`,
 * drop the oldest assistant turn together with the user turn holding its tool results (so every
 * tool_result still follows its tool_use), keep the task prompt and the latest exchange, and say
 * in the prompt how many turns were left out. A pure function of the log, so a resumed worker
 * sends exactly what the crashed one would have sent.
 */
export function fitContext(messages: readonly Anthropic.MessageParam[], budgetTokens: number): FittedContext {
  const sizes = messages.map(estimateTokens);
  let total = sizes.reduce((a, b) => a + b, 0);
  const first = messages[0];
  if (total <= budgetTokens || first === undefined) return { messages: [...messages], droppedTurns: 0, droppedToolResults: 0, estimatedTokens: total };
  const marker = (turns: number, results: number) =>
    `\n\n[context note: ${turns} earlier turn(s) with ${results} tool result(s) were left out to fit the context window]`;
  // Room for the marker, whose length barely changes with the counts.
  total += estimateTokens(marker(messages.length, messages.length));
  let cut = 1;
  // Keep the final assistant/user pair: the model needs its latest tool results.
  while (total > budgetTokens && cut + 2 <= messages.length - 2) {
    total -= (sizes[cut] ?? 0) + (sizes[cut + 1] ?? 0);
    cut += 2;
  }
  const droppedTurns = (cut - 1) / 2;
  if (droppedTurns === 0) return { messages: [...messages], droppedTurns: 0, droppedToolResults: 0, estimatedTokens: total };
  const droppedToolResults = messages
    .slice(1, cut)
    .reduce((n, m) => n + (Array.isArray(m.content) ? m.content.filter((b) => b.type === 'tool_result').length : 0), 0);
  const prompt = typeof first.content === 'string' ? first.content : JSON.stringify(first.content);
  return {
    messages: [{ role: 'user', content: prompt + marker(droppedTurns, droppedToolResults) }, ...messages.slice(cut)],
    droppedTurns,
    droppedToolResults,
    estimatedTokens: total,
  };
}
