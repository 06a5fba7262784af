import type Anthropic from '@anthropic-ai/sdk';
import { SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { createHash } from 'node:crypto';
import type { RunOutcome } from './checkpoint-log';
import type { ModelClient } from './model-client';
import { hasSideEffects, type ToolDefinition } from './tool-registry';
import type { Logger } from '../shared/logger';
import { DIMENSIONS, METRICS } from '../shared/metrics-contract';
import type { Metrics } from '../shared/metrics';
import { DEFAULT_PRICE_TABLE, estimateCostUsd, profileFor, type PriceTable } from '../shared/model-profiles';
import { GEN_AI, OPENCLAW, TRACER, contextFromTraceparent, inSpan, traceHeaders } from '../shared/spans';
import type { TraceCarrier } from '../shared/task-message';
import type { TaskRecord } from '../shared/task-model';
import type { AgentVersion } from '../shared/agent-version';

/**
 * The worker's observability in one place, applied as decorators so the agent loop and the tools
 * stay free of it: `invoke_agent` around a task run, `chat {model}` around each model call,
 * `execute_tool {name}` around each tool run, with the GenAI attributes, the per-task and per-call
 * EMF metrics, and the prompt version on all of them.
 */
export interface AgentTelemetryOptions {
  /** Bound to Stage and Service=worker; PromptVersion and Model are added here. */
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The prompt registry's version (hash of the prompt files). */
  readonly promptVersion: string;
  /** Model name the worker asks for; the Model dimension of per-task metrics. */
  readonly modelName: string;
  /** The worker's pool in an agent canary: the AgentVersion dimension and span attribute. @default 'stable' */
  readonly agentVersion?: AgentVersion;
  /** @default DEFAULT_PRICE_TABLE */
  readonly prices?: PriceTable;
  /** @default trace.getTracer('openclaw.worker') */
  readonly tracer?: Tracer;
  readonly workerId?: string;
  /** `gen_ai.agent.name`. @default 'openclaw' */
  readonly agentName?: string;
  /** @default performance.now */
  readonly now?: () => number;
}

/** SHA-256 (16 hex digits) of a value's JSON with sorted keys: equal inputs hash equal, whatever the key order. */
export function inputHash(value: unknown): string {
  const stable = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(stable);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, stable((v as Record<string, unknown>)[k])]));
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(stable(value)) ?? 'undefined').digest('hex').slice(0, 16);
}

/** What the consumer needs to wrap a task run: the trace span and the task metrics around it. */
export interface TaskRunObserver {
  runTask(task: TaskRecord, trace: TraceCarrier, run: () => Promise<RunOutcome>): Promise<RunOutcome>;
}

/** Runs the task as is: the consumer's default when nothing observes it. */
export const unobservedTaskRuns: TaskRunObserver = { runTask: (_task, _trace, run) => run() };

export class AgentTelemetry implements TaskRunObserver {
  private readonly tracer: Tracer;
  private readonly prices: PriceTable;
  private readonly agentName: string;
  private readonly now: () => number;
  private readonly metrics: Metrics;
  private readonly agentVersion: AgentVersion;

  constructor(private readonly options: AgentTelemetryOptions) {
    this.tracer = options.tracer ?? trace.getTracer(TRACER.worker);
    this.prices = options.prices ?? DEFAULT_PRICE_TABLE;
    this.agentName = options.agentName ?? 'openclaw';
    this.now = options.now ?? (() => performance.now());
    this.agentVersion = options.agentVersion ?? 'stable';
    this.metrics = options.metrics.with({ [DIMENSIONS.promptVersion]: options.promptVersion, [DIMENSIONS.agentVersion]: this.agentVersion });
  }

  get promptVersion(): string {
    return this.options.promptVersion;
  }

  /**
   * Run one attempt at a task inside `invoke_agent`, continuing the trace the intake started (the
   * message's trace attributes), and record the task metrics and the prompt version on its outcome.
   */
  async runTask(task: TaskRecord, trace: TraceCarrier, run: () => Promise<RunOutcome>): Promise<RunOutcome> {
    const model = this.options.modelName;
    const dims = { [DIMENSIONS.model]: model };
    const props = { taskId: task.taskId, ...(this.options.workerId !== undefined ? { workerId: this.options.workerId } : {}) };
    const started = this.now();
    this.metrics.emit([{ name: METRICS.tasksStarted, value: 1 }], dims, props);
    return inSpan(
      this.tracer,
      `invoke_agent ${this.agentName}`,
      {
        parent: contextFromTraceparent(trace.traceparent, trace.tracestate),
        attributes: {
          [GEN_AI.operationName]: 'invoke_agent',
          [GEN_AI.agentName]: this.agentName,
          [GEN_AI.providerName]: 'anthropic',
          [GEN_AI.requestModel]: model,
          [GEN_AI.conversationId]: task.taskId,
          [OPENCLAW.taskId]: task.taskId,
          [OPENCLAW.priority]: task.priority,
          [OPENCLAW.promptVersion]: this.options.promptVersion,
          [OPENCLAW.agentVersion]: this.agentVersion,
          ...(this.options.workerId !== undefined ? { [OPENCLAW.workerId]: this.options.workerId } : {}),
        },
      },
      async (span) => {
        const outcome = await run();
        const usage = outcome.fields.usage;
        const inputTokens = usage?.inputTokens ?? 0;
        const outputTokens = usage?.outputTokens ?? 0;
        const toolCalls = usage?.toolCalls ?? 0;
        const cost = estimateCostUsd(this.prices, model, inputTokens, outputTokens);
        span.setAttributes({
          [OPENCLAW.taskStatus]: outcome.status,
          [OPENCLAW.steps]: outcome.fields.steps ?? 0,
          [OPENCLAW.toolCalls]: toolCalls,
          [GEN_AI.inputTokens]: inputTokens,
          [GEN_AI.outputTokens]: outputTokens,
          ...(cost !== undefined ? { [OPENCLAW.costUsd]: cost } : {}),
        });
        if (outcome.status === 'FAILED') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.fields.error?.message ?? 'failed' });
        // A task suspended for an approval has not finished: its completion is counted by the run that finishes it.
        if (outcome.status === 'WAITING_APPROVAL') return { ...outcome, fields: { ...outcome.fields, promptVersion: this.options.promptVersion } };
        // Zeros as well as ones, so the Average of TasksSucceeded is the completion rate.
        this.metrics.emit(
          [
            { name: METRICS.tasksSucceeded, value: outcome.status === 'SUCCEEDED' ? 1 : 0 },
            { name: METRICS.tasksFailed, value: outcome.status === 'FAILED' ? 1 : 0 },
            { name: METRICS.taskDurationMs, value: Math.round(this.now() - started), unit: 'Milliseconds' },
            { name: METRICS.inputTokensPerTask, value: inputTokens },
            { name: METRICS.outputTokensPerTask, value: outputTokens },
            { name: METRICS.toolCallsPerTask, value: toolCalls },
            ...(cost !== undefined ? [{ name: METRICS.costPerTaskUsd, value: cost, unit: 'None' as const }] : []),
          ],
          dims,
          { ...props, status: outcome.status, ...(outcome.fields.error !== undefined ? { errorType: outcome.fields.error.type } : {}) },
        );
        return { ...outcome, fields: { ...outcome.fields, promptVersion: this.options.promptVersion } };
      },
    );
  }

  /**
   * A task given up after its last receive (the consumer marks it FAILED for the DLQ): its runs
   * threw instead of returning an outcome, so runTask never counted it.
   */
  taskAbandoned(taskId: string, error: Error): void {
    this.metrics.emit(
      [
        { name: METRICS.tasksSucceeded, value: 0 },
        { name: METRICS.tasksFailed, value: 1 },
      ],
      { [DIMENSIONS.model]: this.options.modelName },
      { taskId, status: 'FAILED', errorType: 'poison', error: error.message },
    );
  }

  /**
   * A task's message came back and this worker took the task up again (an earlier attempt failed
   * or its worker died). Queue age ignores messages received
   * 3+ times on standard queues, so this is where a task looping toward the DLQ shows.
   */
  taskRedelivered(taskId: string, receiveCount: number): void {
    this.metrics.emit([{ name: METRICS.messageReceiveCount, value: receiveCount }], {}, { taskId });
  }

  /** The model port wrapped in `chat {model}` spans that carry the trace on to the gateway. */
  instrumentModel(inner: ModelClient): ModelClient {
    return {
      create: (request, callOptions) => {
        const taskId = callOptions.headers?.['x-openclaw-task-id'];
        return inSpan(
          this.tracer,
          `chat ${request.model}`,
          {
            kind: SpanKind.CLIENT,
            attributes: {
              [GEN_AI.operationName]: 'chat',
              [GEN_AI.providerName]: 'anthropic',
              [GEN_AI.requestModel]: request.model,
              [GEN_AI.requestMaxTokens]: request.max_tokens,
              [OPENCLAW.shownMessages]: request.messages.length,
              [OPENCLAW.promptVersion]: this.options.promptVersion,
              ...(taskId !== undefined ? { [OPENCLAW.taskId]: taskId } : {}),
            },
          },
          async (span) => {
            const reply = await inner.create(request, { ...callOptions, headers: { ...callOptions.headers, ...traceHeaders() } });
            const finish = reply.stop_reason ?? 'unknown';
            const usedContext = contextTokens(reply.usage);
            const window = profileFor(this.prices, reply.model)?.contextWindow ?? profileFor(this.prices, request.model)?.contextWindow;
            const utilisation = window === undefined ? undefined : (100 * usedContext) / window;
            span.setAttributes({
              [GEN_AI.responseModel]: reply.model,
              [GEN_AI.responseId]: reply.id,
              [GEN_AI.finishReasons]: [finish],
              [GEN_AI.inputTokens]: reply.usage.input_tokens,
              [GEN_AI.outputTokens]: reply.usage.output_tokens,
              ...(utilisation !== undefined ? { [OPENCLAW.contextUtilisation]: utilisation } : {}),
            });
            const dims = { [DIMENSIONS.model]: request.model };
            const props = taskId !== undefined ? { taskId } : {};
            if (utilisation !== undefined) this.metrics.emit([{ name: METRICS.contextUtilisation, value: utilisation, unit: 'Percent' }], dims, props);
            this.metrics.emit([{ name: METRICS.finishReason, value: 1 }], { ...dims, [DIMENSIONS.finishReason]: finish }, props);
            return reply;
          },
        );
      },
    };
  }

  /** A tool whose runs are `execute_tool {name}` spans: input hash, output size and outcome, never the content. */
  instrumentTool(tool: ToolDefinition): ToolDefinition {
    const run: ToolDefinition['run'] = (input, ctx) =>
      inSpan(
        this.tracer,
        `execute_tool ${tool.name}`,
        {
          attributes: {
            [GEN_AI.operationName]: 'execute_tool',
            [GEN_AI.toolName]: tool.name,
            [GEN_AI.toolType]: 'function',
            [GEN_AI.toolCallId]: ctx.idempotencyKey.slice(ctx.idempotencyKey.indexOf('/') + 1),
            [OPENCLAW.taskId]: ctx.taskId,
            [OPENCLAW.toolInputSha256]: inputHash(input),
            [OPENCLAW.toolSideEffects]: hasSideEffects(tool),
          },
        },
        async (span) => {
          try {
            const result = await tool.run(input, ctx);
            span.setAttributes({ [OPENCLAW.toolOutputBytes]: Buffer.byteLength(result.content, 'utf8'), [OPENCLAW.toolOutcome]: result.isError === true ? 'error' : 'ok' });
            if (result.isError === true) span.setStatus({ code: SpanStatusCode.ERROR, message: 'tool reported an error' });
            return result;
          } catch (err) {
            span.setAttribute(OPENCLAW.toolOutcome, 'exception');
            throw err;
          }
        },
      );
    return { ...tool, run };
  }
}

/** Everything that occupied the context window on this call, cache reads and writes included. */
function contextTokens(usage: Anthropic.Usage): number {
  return usage.input_tokens + (usage.cache_creation_input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0);
}
