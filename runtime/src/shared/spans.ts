import {
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { errorMessage } from './errors';

/**
 * Span helpers for the services. Only @opentelemetry/api is used here: without an SDK registered
 * (tracing.ts) every call is a cheap no-op, so libraries and tests need no setup.
 */

/** Instrumentation scope per service; the span-tree CLI shows it as the span's service. */
export const TRACER = { intake: 'openclaw.intake', worker: 'openclaw.worker', gateway: 'openclaw.gateway' } as const;

/** GenAI semantic-convention attribute names (see @opentelemetry/semantic-conventions/incubating). */
export const GEN_AI = {
  operationName: 'gen_ai.operation.name',
  providerName: 'gen_ai.provider.name',
  agentName: 'gen_ai.agent.name',
  conversationId: 'gen_ai.conversation.id',
  requestModel: 'gen_ai.request.model',
  requestMaxTokens: 'gen_ai.request.max_tokens',
  responseModel: 'gen_ai.response.model',
  responseId: 'gen_ai.response.id',
  finishReasons: 'gen_ai.response.finish_reasons',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  toolType: 'gen_ai.tool.type',
} as const;

/** This project's own attributes, under one prefix. */
export const OPENCLAW = {
  taskId: 'openclaw.task.id',
  priority: 'openclaw.task.priority',
  taskStatus: 'openclaw.task.status',
  step: 'openclaw.step',
  steps: 'openclaw.task.steps',
  toolCalls: 'openclaw.task.tool_calls',
  workerId: 'openclaw.worker.id',
  leaseFence: 'openclaw.lease.fence',
  promptVersion: 'openclaw.prompt.version',
  /** `stable` or `candidate`: which worker pool the intake routed the task to. */
  agentVersion: 'openclaw.agent.version',
  /** The agent profile that runs the task (`agent` of POST /v1/tasks, or the stage's default). */
  agent: 'openclaw.agent',
  latencyMs: 'openclaw.latency_ms',
  contextUtilisation: 'openclaw.context.utilisation',
  shownMessages: 'openclaw.request.messages',
  toolInputSha256: 'openclaw.tool.input_sha256',
  toolOutputBytes: 'openclaw.tool.output_bytes',
  toolOutcome: 'openclaw.tool.outcome',
  toolSideEffects: 'openclaw.tool.side_effects',
  lane: 'openclaw.lane',
  costUsd: 'openclaw.cost_usd',
  /** Items one group-committed write carried (task rows or messages). */
  batchSize: 'openclaw.batch.size',
} as const;

export interface SpanOptions {
  readonly kind?: SpanKind;
  readonly attributes?: Attributes;
  /** Parent context; @default the active one */
  readonly parent?: Context;
  /** Spans this one also acts for (a batch write links every request it carries). @default none */
  readonly links?: Link[];
}

/**
 * Run `fn` inside a new active span; an exception sets the span's error status and is rethrown.
 * The span ends when `fn` settles, so its duration is the operation's latency.
 */
export async function inSpan<T>(tracer: Tracer, name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer.startSpan(
    name,
    { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes !== undefined ? { attributes: options.attributes } : {}), ...(options.links !== undefined ? { links: options.links } : {}) },
    parent,
  );
  const started = performance.now();
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
    span.setAttribute('error.type', err instanceof Error ? err.name : 'unknown');
    throw err;
  } finally {
    span.setAttribute(OPENCLAW.latencyMs, Math.round(performance.now() - started));
    span.end();
  }
}

/** The W3C `traceparent` of the active span; undefined when not tracing. */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier['traceparent'];
}

/**
 * For a task's queue message: name the task on the active span (so the task's trace can be found
 * by its ID) and return its trace context (traceparent, tracestate) for the worker to continue it;
 * `{}` when not tracing.
 */
export function taskTraceContext(taskId: string): { traceparent?: string; tracestate?: string } {
  trace.getActiveSpan()?.setAttribute(OPENCLAW.taskId, taskId);
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  const { traceparent, tracestate } = carrier;
  return { ...(traceparent !== undefined ? { traceparent } : {}), ...(tracestate !== undefined ? { tracestate } : {}) };
}

/** The context a remote `traceparent` (message attribute or header) continues; the active one when absent. */
export function contextFromTraceparent(traceparent: string | undefined, tracestate?: string): Context {
  if (traceparent === undefined) return context.active();
  const carrier: Record<string, string> = { traceparent, ...(tracestate !== undefined ? { tracestate } : {}) };
  return propagation.extract(context.active(), carrier);
}

/** Headers (traceparent, tracestate) that carry the active span to another service. */
export function traceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/** Trace and span IDs of the active span, for log correlation; empty when there is none. */
export function activeTraceIds(): { traceId?: string; spanId?: string } {
  const span = trace.getActiveSpan();
  if (span === undefined) return {};
  const { traceId, spanId, traceFlags } = span.spanContext();
  // An unsampled or invalid context has nothing an operator could look up.
  if (!trace.isSpanContextValid(span.spanContext()) || (traceFlags & 1) === 0) return {};
  return { traceId, spanId };
}
