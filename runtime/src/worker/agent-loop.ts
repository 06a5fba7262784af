import type Anthropic from '@anthropic-ai/sdk';
import { OpenClawError, errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { StepRecord, TaskRecord } from '../shared/task-model';
import type { CheckpointLog, TaskOutcome } from './checkpoint-log';
import { replay, type LlmStepPayload, type ToolStepPayload } from './conversation';
import type { LeaseHandle } from './lease';
import type { ModelClient } from './model-client';
import type { ToolRegistry } from './tool-registry';

export class TaskCancelledError extends OpenClawError {
  constructor(taskId: string) {
    super('cancelled', `Task ${taskId} was cancelled`, { taskId });
  }
}

export interface AgentLoopOptions {
  readonly model: ModelClient;
  readonly tools: ToolRegistry;
  readonly log: CheckpointLog;
  readonly logger: Logger;
  /** Model name sent to the gateway (which may route it elsewhere). */
  readonly modelName: string;
  /** @default 4096 */
  readonly maxTokens?: number;
  /** Steps (LLM replies plus tool results) before the task fails as runaway. @default 50 */
  readonly maxSteps?: number;
  /**
   * Tool output above this size is truncated before the model or the checkpoint sees it, so the
   * replayed conversation equals the original and no step item nears DynamoDB's 400 KB limit.
   * @default 65536
   */
  readonly maxToolOutputBytes?: number;
  readonly system?: string;
}

export interface RunContext {
  readonly task: TaskRecord;
  readonly lease: () => LeaseHandle;
  readonly signal: AbortSignal;
  /** Read at every step boundary; true stops the task as CANCELLED. */
  readonly isCancelled: () => Promise<boolean>;
}

/** Truncate to a byte budget on a character boundary and say what was cut. */
export function truncateOutput(text: string, maxBytes: number): string {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= maxBytes) return text;
  const marker = `\n[truncated: tool output was ${bytes} bytes, limit ${maxBytes}]`;
  let cut = Buffer.from(text, 'utf8').subarray(0, Math.max(0, maxBytes - Buffer.byteLength(marker))).toString('utf8');
  // A cut inside a multi-byte character decodes to U+FFFD; drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return cut + marker;
}

/**
 * The agent loop: replay the checkpoints, then alternate model calls and tool runs, checkpointing
 * each result under the lease before moving on. Work that has a checkpoint is never redone.
 */
export class AgentLoop {
  private readonly maxTokens: number;
  private readonly maxSteps: number;
  private readonly maxToolOutputBytes: number;

  constructor(private readonly options: AgentLoopOptions) {
    this.maxTokens = options.maxTokens ?? 4096;
    this.maxSteps = options.maxSteps ?? 50;
    this.maxToolOutputBytes = options.maxToolOutputBytes ?? 65_536;
  }

  async run(ctx: RunContext): Promise<TaskOutcome> {
    const { task } = ctx;
    const steps: StepRecord[] = await this.options.log.list(task.taskId);
    const logger = this.options.logger.child({ taskId: task.taskId });
    if (steps.length > 0) logger.info('task.resumed', { fromStep: steps.length });

    for (;;) {
      ctx.signal.throwIfAborted();
      const convo = replay(task.prompt, steps);
      const usage = { ...convo.usage };
      if (convo.finalText !== undefined) {
        return { status: 'SUCCEEDED', fields: { result: convo.finalText, usage, steps: steps.length } };
      }
      if (await ctx.isCancelled()) {
        return { status: 'CANCELLED', fields: { usage, steps: steps.length, error: { type: 'cancelled', message: 'cancelled by request' } } };
      }
      if (steps.length >= this.maxSteps) {
        return {
          status: 'FAILED',
          fields: { usage, steps: steps.length, error: { type: 'max_steps', message: `stopped after ${this.maxSteps} steps without a final answer` } },
        };
      }

      const next = convo.pendingTools[0];
      if (next !== undefined) {
        const payload = await this.runTool(task.taskId, next.id, next.name, next.input, ctx, logger.child({ step: convo.nextSeq }));
        steps.push(await this.options.log.append(ctx.lease(), convo.nextSeq, 'tool', { ...payload }));
        continue;
      }

      const reply = await this.options.model.create(
        {
          model: this.options.modelName,
          max_tokens: this.maxTokens,
          messages: convo.messages,
          tools: this.options.tools.specs() as Anthropic.Tool[],
          ...(this.options.system !== undefined ? { system: this.options.system } : {}),
        },
        { signal: ctx.signal, headers: { 'x-openclaw-priority': task.priority, 'x-openclaw-task-id': task.taskId } },
      );
      const payload: LlmStepPayload = {
        content: reply.content,
        stopReason: reply.stop_reason,
        model: reply.model,
        inputTokens: reply.usage.input_tokens,
        outputTokens: reply.usage.output_tokens,
      };
      logger.info('llm.reply', {
        step: convo.nextSeq,
        stopReason: reply.stop_reason,
        toolUses: reply.content.filter((b) => b.type === 'tool_use').map((b) => (b as Anthropic.ToolUseBlock).name),
        inputTokens: payload.inputTokens,
        outputTokens: payload.outputTokens,
      });
      steps.push(await this.options.log.append(ctx.lease(), convo.nextSeq, 'llm', { ...payload }));
    }
  }

  private async runTool(taskId: string, toolUseId: string, name: string, input: unknown, ctx: RunContext, logger: Logger): Promise<ToolStepPayload> {
    if (!this.options.tools.has(name)) {
      return { toolUseId, name, content: `unknown tool "${name}"`, isError: true };
    }
    const tool = this.options.tools.get(name);
    const idempotencyKey = `${taskId}/${toolUseId}`;
    try {
      const result = await tool.run(input, { taskId, idempotencyKey, fence: ctx.lease().fence, signal: ctx.signal });
      const content = truncateOutput(result.content, this.maxToolOutputBytes);
      logger.info('tool.result', { tool: name, idempotencyKey, sideEffects: tool.sideEffects, isError: result.isError === true, bytes: content.length });
      return { toolUseId, name, content, isError: result.isError === true };
    } catch (err) {
      // Aborts propagate: the lease is gone or we are draining, and the step must not be recorded.
      if (ctx.signal.aborted) throw err;
      logger.warn('tool.error', { tool: name, idempotencyKey, error: errorMessage(err) });
      return { toolUseId, name, content: `tool failed: ${truncateOutput(errorMessage(err), 2048)}`, isError: true };
    }
  }
}
