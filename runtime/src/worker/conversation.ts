import type Anthropic from '@anthropic-ai/sdk';
import type { StepRecord } from '../shared/task-model';
import type { LoopKind } from './loop-detector';

/** Payload of an `llm` checkpoint: the assistant turn exactly as the model returned it. */
export interface LlmStepPayload {
  readonly content: Anthropic.ContentBlock[];
  readonly stopReason: string | null;
  readonly model: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** Payload of a `tool` checkpoint: what the model will be shown as the tool's result. */
export interface ToolStepPayload {
  readonly toolUseId: string;
  readonly name: string;
  readonly content: string;
  readonly isError: boolean;
  /** Set when the call was not run because it closed a loop (loop-detector.ts); the model got a warning. */
  readonly loop?: LoopKind;
}

export interface PendingToolUse {
  readonly id: string;
  readonly name: string;
  readonly input: unknown;
}

/** The state rebuilt from the checkpoint log: what to send next, and what is still owed. */
export interface Conversation {
  readonly messages: Anthropic.MessageParam[];
  /** Tool uses of the last assistant turn that have no recorded result yet, in order. */
  readonly pendingTools: PendingToolUse[];
  /** The last assistant turn ended without tool use: the task's answer. */
  readonly finalText?: string;
  readonly nextSeq: number;
  readonly usage: { inputTokens: number; outputTokens: number; llmCalls: number; toolCalls: number };
}

/**
 * Replay the log into a conversation. Pure: no model call and no tool run happen here, which is
 * what makes resuming after a crash free of repeated work.
 */
export function replay(prompt: string, steps: readonly StepRecord[]): Conversation {
  const messages: Anthropic.MessageParam[] = [{ role: 'user', content: prompt }];
  let results: Anthropic.ToolResultBlockParam[] = [];
  let lastUses: PendingToolUse[] = [];
  let finalText: string | undefined;
  const usage = { inputTokens: 0, outputTokens: 0, llmCalls: 0, toolCalls: 0 };
  const done = new Set<string>();

  const flush = () => {
    if (results.length > 0) messages.push({ role: 'user', content: results });
    results = [];
  };

  for (const step of steps) {
    if (step.kind === 'llm') {
      flush();
      const p = step.payload as unknown as LlmStepPayload;
      messages.push({ role: 'assistant', content: p.content as Anthropic.ContentBlockParam[] });
      usage.inputTokens += p.inputTokens;
      usage.outputTokens += p.outputTokens;
      usage.llmCalls += 1;
      lastUses = p.content
        .filter((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')
        .map((b) => ({ id: b.id, name: b.name, input: b.input }));
      finalText =
        lastUses.length === 0
          ? p.content
              .filter((b): b is Anthropic.TextBlock => b.type === 'text')
              .map((b) => b.text)
              .join('')
          : undefined;
    } else {
      const p = step.payload as unknown as ToolStepPayload;
      results.push({ type: 'tool_result', tool_use_id: p.toolUseId, content: p.content, ...(p.isError ? { is_error: true } : {}) });
      done.add(p.toolUseId);
      usage.toolCalls += 1;
    }
  }
  const pendingTools = lastUses.filter((u) => !done.has(u.id));
  if (pendingTools.length === 0) flush();
  const nextSeq = steps.length === 0 ? 1 : (steps[steps.length - 1]?.seq ?? 0) + 1;
  return { messages, pendingTools, ...(finalText !== undefined ? { finalText } : {}), nextSeq, usage };
}
