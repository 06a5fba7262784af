import type Anthropic from '@anthropic-ai/sdk';
import { describeDecision } from '../shared/decision-log';
import { FencedError, errorMessage } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { ApprovalDecision, PendingApproval, StepKind, StepRecord, TaskRecord } from '../shared/task-model';
import type { CheckpointLog, RunOutcome, TaskOutcome, ToolIntent } from './checkpoint-log';
import { approvalIdFor, EXPIRED_BY } from '../shared/approvals';
import { fitContext } from './context-window';
import { DEFAULT_LOOP_THRESHOLDS, detectLoop, loopWarnings, type LoopThresholds } from './loop-detector';
import { noopMetrics, type Metrics } from '../shared/metrics';
import { DIMENSIONS, METRICS } from '../shared/metrics-contract';
import { DEFAULT_PRICE_TABLE, type PriceTable } from '../shared/model-profiles';
import { exhaustedBudget, maxTokensWithin, measureUsage } from './budget-meter';
import { replay, type LlmStepPayload, type PendingToolUse, type ToolStepPayload } from './conversation';
import type { LeaseHandle } from './lease';
import type { ModelClient } from './model-client';
import { DEFAULT_MAX_REPLY_BYTES, DEFAULT_MAX_TOOL_OUTPUT_BYTES, ReplyTooLargeError, guardReply, truncateOutput } from './step-size';
import { CheckpointPipeline } from './checkpoint-pipeline';
import { DrainingError } from './worker-errors';
import { ProviderWeatherError } from './provider-weather';
import { hasSideEffects, type TaskTools, type ToolContext, type ToolRegistry, type ToolResult } from './tool-registry';

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
  /** Largest LLM reply recorded as one checkpoint (see step-size.ts). @default 300000 */
  readonly maxReplyBytes?: number;
  /** Estimated input tokens above which the oldest turns are left out of the request (never the log). @default 150000 */
  readonly contextTokens?: number;
  readonly system?: string;
  /** @default Date.now */
  readonly now?: () => number;
  /** Prices for the cost budget (and `usage.costUsd`). @default DEFAULT_PRICE_TABLE */
  readonly prices?: PriceTable;
  /** When repeated tool calls count as a loop. @default DEFAULT_LOOP_THRESHOLDS */
  readonly loopThresholds?: Partial<LoopThresholds>;
  /** Guardrail metrics (loops caught, budgets exceeded), bound to Stage and Service. @default noopMetrics */
  readonly metrics?: Metrics;
  /** How long a person has to decide on a `requires_approval` call; no decision by then is a denial. @default DEFAULT_APPROVAL_TIMEOUT_MS (24 h) */
  readonly approvalTimeoutMs?: number;
}

/** @default of `approvalTimeoutMs` and of APPROVAL_TIMEOUT_SECONDS. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 24 * 3600 * 1000;

export interface RunContext {
  readonly task: TaskRecord;
  readonly lease: () => LeaseHandle;
  readonly signal: AbortSignal;
  /** Read at every step boundary; true stops the task as CANCELLED. */
  readonly isCancelled: () => Promise<boolean>;
  /** True once the worker drains: the loop stops at the next step boundary, everything so far checkpointed. */
  readonly draining?: () => boolean;
  /**
   * The task's steps and intents as the caller already read them (CheckpointLog.load, with the
   * lease), so the loop does not read them again. @default read from the log
   */
  readonly preloaded?: { readonly steps: readonly StepRecord[]; readonly intents: ReadonlyMap<number, ToolIntent> };
}

/** What the model is told about a call a person denied (or no one decided on in time). */
function deniedMessage(tool: string, d: ApprovalDecision): string {
  if (d.decidedBy === EXPIRED_BY) {
    return `tool "${tool}" was not run: it needed a person's approval (${d.approvalId}) and no one decided before the approval expired, which counts as a denial`;
  }
  return `tool "${tool}" was not run: a person denied the approval (${d.approvalId}); reason: ${d.reason ?? 'none given'}`;
}

/** Time spent waiting for decisions, from each decision's request to its decision. */
function waitedForApprovalMs(decisions: readonly ApprovalDecision[] | undefined): number {
  let waited = 0;
  for (const d of decisions ?? []) {
    const ms = d.requestedAt === undefined ? 0 : Date.parse(d.decidedAt) - Date.parse(d.requestedAt);
    if (Number.isFinite(ms) && ms > 0) waited += ms;
  }
  return waited;
}

/** runTool's answer when the call must wait for a person: the task is suspended, nothing recorded as a step. */
interface AwaitApproval {
  readonly awaitApproval: PendingApproval;
}

const outcomeUnknown = (key: string): string =>
  `outcome unknown: this call (idempotency key ${key}) was started but the worker stopped before its result was recorded, ` +
  'and the tool cannot confirm whether it took effect. It was not re-run, to avoid doing it twice; check before retrying it.';

/**
 * The agent loop: replay the checkpoints, then alternate model calls and tool runs, checkpointing
 * each result under the lease before moving on. Work that has a checkpoint is never redone, and a
 * side-effecting tool announces itself (a fenced intent) before it runs.
 */
export class AgentLoop {
  private readonly maxTokens: number;
  private readonly maxSteps: number;
  private readonly maxToolOutputBytes: number;
  private readonly maxReplyBytes: number;
  private readonly contextTokens: number;
  private readonly loopThresholds: LoopThresholds;
  private readonly metrics: Metrics;
  private readonly prices: PriceTable;
  private readonly now: () => number;
  private readonly approvalTimeoutMs: number;

  constructor(private readonly options: AgentLoopOptions) {
    this.maxTokens = options.maxTokens ?? 4096;
    this.maxSteps = options.maxSteps ?? 50;
    this.maxToolOutputBytes = options.maxToolOutputBytes ?? DEFAULT_MAX_TOOL_OUTPUT_BYTES;
    this.maxReplyBytes = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
    this.contextTokens = options.contextTokens ?? 150_000;
    this.loopThresholds = { ...DEFAULT_LOOP_THRESHOLDS, ...options.loopThresholds };
    this.metrics = options.metrics ?? noopMetrics;
    this.prices = options.prices ?? DEFAULT_PRICE_TABLE;
    this.now = options.now ?? Date.now;
    this.approvalTimeoutMs = options.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS;
  }

  /**
   * Run the task to an outcome. Checkpoints whose next action has no side effect are written beside
   * it (checkpoint-pipeline.ts); every one of them is durable before this returns or throws, so the
   * caller's result write, release or hand-back always comes after the last step.
   */
  async run(ctx: RunContext): Promise<RunOutcome> {
    const pipeline = new CheckpointPipeline(ctx.signal);
    try {
      const outcome = await this.runSteps(ctx, pipeline);
      await pipeline.flush();
      return outcome;
    } catch (err) {
      await pipeline.settle();
      // A failed background write aborted whatever was in flight: its error, not the abort, is the cause.
      throw pipeline.failure ?? err;
    }
  }

  private async runSteps(ctx: RunContext, pipeline: CheckpointPipeline): Promise<RunOutcome> {
    const { task } = ctx;
    // Honoured by the model call and the tools: aborts on the caller's signal or a failed background write.
    const signal = pipeline.signal;
    const steps: StepRecord[] = ctx.preloaded !== undefined ? [...ctx.preloaded.steps] : await this.options.log.list(task.taskId);
    // The model's final answer, held back so it is written with the result in one transaction.
    let finalStep: StepRecord | undefined;
    // The step whose side-effecting tool's intent went in with the step before it (see planIntent).
    let intentFor: number | undefined;
    /**
     * Checkpoint step `seq`. With the intent of a side-effecting call that runs next, the write is
     * awaited (with every earlier one): the call must not start before its intent is durable.
     * Otherwise it goes out in the background, chained after the earlier writes, and the loop moves
     * on with the drafted step; whatever has a side effect flushes the pipeline first (runTool).
     */
    const appendStep = async (seq: number, kind: StepKind, payload: Record<string, unknown>): Promise<StepRecord> => {
      const step = this.options.log.draft(ctx.lease(), seq, kind, payload);
      const planned = this.planIntent(tools, task, [...steps, step]);
      pipeline.enqueue(() => this.options.log.write(ctx.lease(), step, planned));
      if (planned !== undefined) {
        await pipeline.flush();
        intentFor = planned.seq;
      }
      return step;
    };
    const logger = this.options.logger.child({ taskId: task.taskId });
    if (steps.length > 0) logger.info('task.resumed', { fromStep: steps.length });
    // The task's tool policy: what its API key may use, fixed at intake.
    const tools = this.options.tools.forTask(task.allowedTools);
    // Budgets count time from the task's first start, on whichever worker that was, less the time
    // it waited for people's approvals (hours are normal there, and no worker ran it meanwhile).
    const startedAt = Date.parse(task.startedAt ?? task.createdAt) + waitedForApprovalMs(task.decisions);
    // Only the step a previous owner was in when it died can carry its intent.
    const firstSeq = replay(task.prompt, steps).nextSeq;

    for (;;) {
      const convo = replay(task.prompt, steps);
      const used = measureUsage(steps, startedAt, this.now(), this.prices);
      const usage = { ...convo.usage, costUsd: Math.round(used.maxCostUsd * 1e6) / 1e6 };
      // Before the abort and drain checks: a final answer in hand is recorded, not thrown away.
      if (convo.finalText !== undefined) {
        return { status: 'SUCCEEDED', fields: { result: convo.finalText, usage, steps: steps.length }, ...(finalStep !== undefined ? { finalStep } : {}) };
      }
      signal.throwIfAborted();
      // A tool whose intent is already recorded runs before the drain stops the loop, so its intent is
      // never left without an attempt (which the next owner would have to report as outcome unknown).
      if (ctx.draining?.() === true && intentFor !== convo.nextSeq) throw new DrainingError(task.taskId);
      const failed = (type: string, message: string): TaskOutcome => ({ status: 'FAILED', fields: { usage, steps: steps.length, error: { type, message } } });
      const next = convo.pendingTools[0];
      // Checked before each model call (tool steps in between are short), one read per turn.
      if (next === undefined && (await ctx.isCancelled())) {
        return { status: 'CANCELLED', fields: { usage, steps: steps.length, error: { type: 'cancelled', message: 'cancelled by request' } } };
      }
      const exhausted = exhaustedBudget(task.budget, used);
      if (exhausted !== undefined) {
        logger.warn('budget.exceeded', { budget: exhausted.budget, limit: exhausted.limit, used: exhausted.used, steps: steps.length });
        this.metrics.emit([{ name: METRICS.budgetExceeded, value: 1 }], { [DIMENSIONS.budget]: exhausted.budget }, { taskId: task.taskId, budget: exhausted.budget, limit: exhausted.limit, used: exhausted.used });
        const { message, ...which } = exhausted;
        return { status: 'FAILED', fields: { usage, steps: steps.length, error: { type: 'budget_exceeded', message, ...which } } };
      }
      if (steps.length >= this.maxSteps) return failed('max_steps', `stopped after ${this.maxSteps} steps without a final answer`);

      const stepLogger = logger.child({ step: convo.nextSeq });
      if (next !== undefined) {
        const loop = detectLoop(steps, next.id, this.loopThresholds);
        if (loop !== undefined) {
          // First finding: warn the model with an error result, the call not run. A second: the task ends.
          const final = loopWarnings(steps) > 0;
          stepLogger.warn('loop.detected', { tool: next.name, kind: loop.kind, final });
          this.metrics.emit([{ name: METRICS.loopsDetected, value: 1 }], {}, { taskId: task.taskId, kind: loop.kind, final });
          if (final) return failed('loop_detected', loop.message);
          const warning: ToolStepPayload = { toolUseId: next.id, name: next.name, content: loop.message, isError: true, loop: loop.kind };
          steps.push(await appendStep(convo.nextSeq, 'tool', { ...warning }));
          continue;
        }
        const payload = await this.runTool(tools, task.taskId, convo.nextSeq, next, { ...ctx, signal }, pipeline, stepLogger, convo.nextSeq === firstSeq, intentFor === convo.nextSeq);
        if ('awaitApproval' in payload) {
          // The tool_use is checkpointed (its LLM step); the decision comes back on the task row.
          stepLogger.info('tool.approval_requested', { tool: next.name, approvalId: payload.awaitApproval.approvalId, expiresAt: payload.awaitApproval.expiresAt });
          return { status: 'WAITING_APPROVAL', pendingApproval: payload.awaitApproval, fields: { usage, steps: steps.length } };
        }
        steps.push(await appendStep(convo.nextSeq, 'tool', { ...payload }));
        continue;
      }

      const sent = fitContext(convo.messages, this.contextTokens);
      if (sent.droppedTurns > 0) stepLogger.info('context.trimmed', { droppedTurns: sent.droppedTurns, estimatedTokens: sent.estimatedTokens });
      const lease = ctx.lease();
      this.assertLeaseLive(lease);
      const reply = await this.options.model.create(
        {
          model: this.options.modelName,
          // A token budget also caps what one reply may add.
          max_tokens: maxTokensWithin(task.budget, used, this.maxTokens),
          messages: sent.messages,
          tools: tools.specs() as Anthropic.Tool[],
          ...(this.options.system !== undefined ? { system: this.options.system } : {}),
        },
        // The fence lets the gateway's logs tell a thawed former owner's call from its successor's.
        { signal, headers: { 'x-openclaw-priority': task.priority, 'x-openclaw-task-id': task.taskId, 'x-openclaw-fence': String(lease.fence) } },
      );
      let content: Anthropic.ContentBlock[];
      try {
        content = guardReply(task.taskId, reply.content, this.maxReplyBytes);
      } catch (err) {
        if (err instanceof ReplyTooLargeError) return failed(err.type, err.message);
        throw err;
      }
      const payload: LlmStepPayload = {
        content,
        stopReason: reply.stop_reason,
        model: reply.model,
        inputTokens: reply.usage.input_tokens,
        outputTokens: reply.usage.output_tokens,
      };
      stepLogger.info('llm.reply', {
        stopReason: reply.stop_reason,
        toolUses: content.filter((b) => b.type === 'tool_use').map((b) => (b as Anthropic.ToolUseBlock).name),
        inputTokens: payload.inputTokens,
        outputTokens: payload.outputTokens,
        // The abbreviated state behind the decision: what the model was shown, what it chose and why.
        ...describeDecision(sent.messages, content, this.options.system),
      });
      const step = this.options.log.draft(ctx.lease(), convo.nextSeq, 'llm', { ...payload });
      if (replay(task.prompt, [...steps, step]).finalText !== undefined) {
        finalStep = step;
        steps.push(step);
        continue;
      }
      steps.push(await appendStep(convo.nextSeq, 'llm', { ...payload }));
    }
  }

  /**
   * A worker that was frozen (GC pause, stopped VM) wakes with work in hand; its heartbeat timer may
   * not have fired yet. Refuse to start a model call or a tool on a lease that has already lapsed:
   * the writes would be fenced anyway, but the call itself would be wasted or, for a tool, a side
   * effect outside the lease.
   */
  private assertLeaseLive(lease: LeaseHandle): void {
    const now = this.now();
    if (now >= lease.expiresAt) {
      throw new FencedError(`Lease on task ${lease.taskId} lapsed ${now - lease.expiresAt} ms ago (fence ${lease.fence}); not starting new work`, {
        taskId: lease.taskId,
        fence: lease.fence,
      });
    }
  }

  /**
   * The intent to record with the step just drafted (last of `steps`): the next pending tool call's,
   * when it is one that will run and has side effects. Written in the same transaction as that
   * step, it saves the intent's own round trip; the call runs right after (the drain waits for it).
   */
  private planIntent(tools: TaskTools, task: TaskRecord, steps: readonly StepRecord[]): { seq: number; intent: { toolUseId: string; name: string; idempotencyKey: string } } | undefined {
    const convo = replay(task.prompt, steps);
    const next = convo.pendingTools[0];
    if (next === undefined || convo.finalText !== undefined) return undefined;
    const resolved = tools.resolve(next.name);
    if ('refused' in resolved || resolved.tool.risk === 'requires_approval' || !hasSideEffects(resolved.tool)) return undefined;
    if (detectLoop(steps, next.id, this.loopThresholds) !== undefined) return undefined;
    return { seq: convo.nextSeq, intent: { toolUseId: next.id, name: next.name, idempotencyKey: `${task.taskId}/${next.id}` } };
  }

  private async runTool(
    tools: TaskTools,
    taskId: string,
    seq: number,
    use: PendingToolUse,
    ctx: RunContext,
    pipeline: CheckpointPipeline,
    logger: Logger,
    mayHaveIntent: boolean,
    intentRecorded = false,
  ): Promise<ToolStepPayload | AwaitApproval> {
    const result = (r: ToolResult): ToolStepPayload => ({
      toolUseId: use.id,
      name: use.name,
      content: truncateOutput(r.content, this.maxToolOutputBytes),
      isError: r.isError === true,
    });
    const resolved = tools.resolve(use.name);
    if ('refused' in resolved) {
      logger.warn('tool.refused', { tool: use.name, reason: resolved.refused });
      return result({ content: resolved.message, isError: true });
    }
    const { tool } = resolved;
    const idempotencyKey = `${taskId}/${use.id}`;
    const toolCtx: ToolContext = { taskId, idempotencyKey, fence: ctx.lease().fence, signal: ctx.signal };
    if (tool.risk === 'requires_approval') {
      // Never run unattended: the decision (recorded on the row before the task was queued again) decides.
      const approvalId = approvalIdFor(idempotencyKey);
      const decision = (ctx.task.decisions ?? []).find((d) => d.approvalId === approvalId);
      if (decision === undefined) {
        const requestedAt = this.now();
        return {
          awaitApproval: {
            approvalId,
            tool: use.name,
            input: use.input,
            requestedAt: new Date(requestedAt).toISOString(),
            expiresAt: new Date(requestedAt + this.approvalTimeoutMs).toISOString(),
          },
        };
      }
      if (decision.decision === 'deny') {
        logger.info('tool.approval_denied', { tool: use.name, approvalId, decidedBy: decision.decidedBy });
        return result({ content: deniedMessage(use.name, decision), isError: true });
      }
      // Approved: from here on it is a side-effecting call like any other (intent, fence, reconcile).
      logger.info('tool.approved', { tool: use.name, approvalId, decidedBy: decision.decidedBy });
    }

    if (hasSideEffects(tool)) {
      // The barrier: nothing with an effect outside (intent, reconcile, the call) starts before
      // every earlier checkpoint is durable and the lease held for all of them.
      await pipeline.flush();
      const intent = !mayHaveIntent ? undefined : ctx.preloaded !== undefined ? ctx.preloaded.intents.get(seq) : await this.options.log.getIntent(taskId, seq);
      if (intent?.toolUseId === use.id) {
        // A previous owner announced this call and died before recording its result.
        if (tool.idempotency.onInterrupted === 'outcome_unknown') {
          logger.warn('tool.outcome_unknown', { tool: use.name, idempotencyKey, intentFence: intent.fence });
          return result({ content: outcomeUnknown(idempotencyKey), isError: true });
        }
        const found = await tool.idempotency.reconcile(idempotencyKey, toolCtx);
        logger.info('tool.reconciled', { tool: use.name, idempotencyKey, performed: found.performed });
        if (found.performed) return result(found.result);
        // The downstream system says it never happened: running it now cannot do it twice.
      } else if (!intentRecorded) {
        await this.options.log.recordIntent(ctx.lease(), seq, { toolUseId: use.id, name: use.name, idempotencyKey });
      }
    }

    this.assertLeaseLive(ctx.lease());
    try {
      const out = result(await this.options.tools.execute(tool, use.input, toolCtx, this.maxToolOutputBytes));
      logger.info('tool.result', { tool: use.name, idempotencyKey, risk: tool.risk, isError: out.isError, bytes: out.content.length });
      return out;
    } catch (err) {
      // Aborts and fences propagate: the lease is gone or we are draining, and the step must not be recorded.
      // A tool source that is down (an MCP server) is weather: the task is handed back, not failed.
      if (ctx.signal.aborted || err instanceof FencedError || err instanceof ProviderWeatherError) throw err;
      logger.warn('tool.error', { tool: use.name, idempotencyKey, error: errorMessage(err) });
      return result({ content: `tool failed: ${truncateOutput(errorMessage(err), 2048)}`, isError: true });
    }
  }
}
