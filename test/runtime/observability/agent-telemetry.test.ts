import type Anthropic from '@anthropic-ai/sdk';
import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { AgentTelemetry, inputHash } from '../../../runtime/src/worker/agent-telemetry';
import { silentLogger } from '../../../runtime/src/shared/logger';
import { InMemoryMetrics } from '../../../runtime/src/shared/metrics';
import { METRICS } from '../../../runtime/src/shared/metrics-contract';
import type { TaskRecord } from '../../../runtime/src/shared/task-model';
import type { ModelClient, ModelRequest } from '../../../runtime/src/worker/model-client';
import { z } from 'zod';
import type { ToolDefinition } from '../../../runtime/src/worker/tool-registry';
import { startTestTracing, type TestTracing } from './tracing-harness';

const task: TaskRecord = { taskId: 'task-1', status: 'RUNNING', priority: 'high', prompt: 'p', createdAt: '2026-01-01T00:00:00Z', updatedAt: '2026-01-01T00:00:00Z' };

function reply(stop: Anthropic.StopReason, content: Anthropic.ContentBlock[], input = 50_000, output = 20): Anthropic.Message {
  return {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-5',
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: { input_tokens: input, output_tokens: output, cache_creation_input_tokens: null, cache_read_input_tokens: null },
  } as unknown as Anthropic.Message;
}

const request: ModelRequest = { model: 'claude-sonnet-5', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }] };
const signal = new AbortController().signal;

describe('AgentTelemetry', () => {
  let tracing: TestTracing;
  let metrics: InMemoryMetrics;
  let telemetry: AgentTelemetry;

  beforeAll(() => {
    tracing = startTestTracing();
  });
  afterAll(async () => {
    await tracing.handle.shutdown();
  });
  beforeEach(() => {
    tracing.exporter.reset();
    metrics = new InMemoryMetrics();
    telemetry = new AgentTelemetry({
      metrics: metrics.with({ Stage: 'test', Service: 'worker' }),
      logger: silentLogger,
      promptVersion: 'p-123456789abc',
      modelName: 'claude-sonnet-5',
      workerId: 'w-1',
    });
  });

  it('GIVEN a model call inside a task WHEN it returns THEN a chat span under invoke_agent carries the GenAI attributes and the gateway gets its traceparent', async () => {
    const seenHeaders: Record<string, string>[] = [];
    const model = telemetry.instrumentModel({
      create: async (_req, options) => {
        seenHeaders.push({ ...options.headers });
        return reply('tool_use', [{ type: 'text', text: 'I will compute.', citations: null }]);
      },
    } as ModelClient);

    const outcome = await telemetry.runTask(task, {}, async () => {
      await model.create(request, { signal, headers: { 'x-openclaw-task-id': 'task-1' } });
      return { status: 'SUCCEEDED', fields: { usage: { inputTokens: 1_000_000, outputTokens: 100_000, llmCalls: 1, toolCalls: 3 }, steps: 4 } };
    });

    const agent = tracing.one('invoke_agent openclaw');
    const chat = tracing.one('chat claude-sonnet-5');
    expect(chat.parentSpanContext?.spanId).toBe(agent.spanContext().spanId);
    expect(chat.kind).toBe(SpanKind.CLIENT);
    expect(chat.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-sonnet-5',
      'gen_ai.request.max_tokens': 1024,
      'gen_ai.response.model': 'claude-sonnet-5',
      'gen_ai.response.id': 'msg_1',
      'gen_ai.response.finish_reasons': ['tool_use'],
      'gen_ai.usage.input_tokens': 50_000,
      'gen_ai.usage.output_tokens': 20,
      'openclaw.context.utilisation': 25,
      'openclaw.task.id': 'task-1',
      'openclaw.prompt.version': 'p-123456789abc',
    });
    expect(typeof chat.attributes['openclaw.latency_ms']).toBe('number');
    // The header the gateway continues the trace from names the chat span.
    expect(seenHeaders[0]?.['traceparent']).toBe(`00-${chat.spanContext().traceId}-${chat.spanContext().spanId}-01`);
    expect(seenHeaders[0]?.['x-openclaw-task-id']).toBe('task-1');

    expect(agent.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'openclaw',
      'openclaw.task.id': 'task-1',
      'openclaw.task.status': 'SUCCEEDED',
      'openclaw.task.steps': 4,
      'openclaw.worker.id': 'w-1',
      'gen_ai.usage.input_tokens': 1_000_000,
      'openclaw.cost_usd': 4.5,
    });
    expect(outcome.fields.promptVersion).toBe('p-123456789abc');

    expect(metrics.sum(METRICS.tasksStarted)).toBe(1);
    expect(metrics.sum(METRICS.tasksSucceeded, { PromptVersion: 'p-123456789abc', Model: 'claude-sonnet-5' })).toBe(1);
    expect(metrics.sum(METRICS.tasksFailed)).toBe(0);
    expect(metrics.sum(METRICS.toolCallsPerTask)).toBe(3);
    expect(metrics.sum(METRICS.costPerTaskUsd)).toBeCloseTo(4.5, 10);
    expect(metrics.sum(METRICS.contextUtilisation)).toBe(25);
    expect(metrics.find(METRICS.finishReason, { FinishReason: 'tool_use' })).toHaveLength(1);
    expect(metrics.find(METRICS.tasksSucceeded)[0]?.dimensions).toEqual({ Stage: 'test', Service: 'worker', PromptVersion: 'p-123456789abc', AgentVersion: 'stable', Model: 'claude-sonnet-5' });
  });

  it('GIVEN the intake traceparent WHEN a task runs THEN invoke_agent continues that trace as a child of the intake span', async () => {
    const intakeSpan = trace.getTracer('t').startSpan('POST /v1/tasks');
    const tp = `00-${intakeSpan.spanContext().traceId}-${intakeSpan.spanContext().spanId}-01`;
    intakeSpan.end();
    await telemetry.runTask(task, { traceparent: tp }, async () => ({ status: 'FAILED', fields: { error: { type: 'max_steps', message: 'too many' } } }));
    const agent = tracing.one('invoke_agent openclaw');
    expect(agent.spanContext().traceId).toBe(intakeSpan.spanContext().traceId);
    expect(agent.parentSpanContext?.spanId).toBe(intakeSpan.spanContext().spanId);
    expect(agent.status).toEqual({ code: SpanStatusCode.ERROR, message: 'too many' });
    expect(metrics.sum(METRICS.tasksFailed)).toBe(1);
    expect(metrics.find(METRICS.tasksFailed)[0]?.properties).toMatchObject({ taskId: 'task-1', status: 'FAILED', errorType: 'max_steps' });
  });

  it('GIVEN a run that throws WHEN recorded THEN the span has error status, and no success or failure is counted', async () => {
    await expect(telemetry.runTask(task, {}, async () => Promise.reject(new Error('lease lost')))).rejects.toThrow('lease lost');
    const agent = tracing.one('invoke_agent openclaw');
    expect(agent.status.code).toBe(SpanStatusCode.ERROR);
    expect(agent.attributes['error.type']).toBe('Error');
    expect(metrics.find(METRICS.tasksSucceeded)).toEqual([]);
    expect(metrics.find(METRICS.tasksFailed)).toEqual([]);
  });

  it('GIVEN a tool WHEN run through the instrumented definition THEN execute_tool records name, call id, input hash, output size and outcome', async () => {
    const reconciled: string[] = [];
    const tool: ToolDefinition = {
      name: 'calculator',
      description: 'd',
      input: z.object({}).loose(),
      risk: 'side_effecting',
      run: async (input) => ({ content: `=${JSON.stringify(input)}`, isError: (input as { a: number }).a < 0 }),
      idempotency: {
        onInterrupted: 'reconcile',
        reconcile: async (key) => {
          reconciled.push(key);
          return { performed: false };
        },
      },
    };
    const wrapped = telemetry.instrumentTool(tool);
    const ctx = { taskId: 'task-1', idempotencyKey: 'task-1/toolu_9', fence: 1, signal };
    await wrapped.run({ b: 2, a: 1 }, ctx);
    await wrapped.run({ a: -1 }, ctx);
    if (wrapped.risk !== 'read_only' && wrapped.idempotency.onInterrupted === 'reconcile') await wrapped.idempotency.reconcile('task-1/toolu_9', ctx);

    const [ok, bad] = tracing.byName('execute_tool calculator');
    expect(ok?.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'calculator',
      'gen_ai.tool.call.id': 'toolu_9',
      'openclaw.tool.input_sha256': inputHash({ a: 1, b: 2 }),
      'openclaw.tool.output_bytes': Buffer.byteLength('={"b":2,"a":1}'),
      'openclaw.tool.outcome': 'ok',
      'openclaw.tool.side_effects': true,
    });
    expect(bad?.attributes['openclaw.tool.outcome']).toBe('error');
    expect(bad?.status.code).toBe(SpanStatusCode.ERROR);
    expect(wrapped.risk).toBe('side_effecting');
    expect(reconciled).toEqual(['task-1/toolu_9']);
  });

  it('GIVEN a tool that throws THEN the outcome is exception and the error propagates', async () => {
    const wrapped = telemetry.instrumentTool({ name: 'boom', description: '', input: z.object({}), risk: 'read_only', run: async () => Promise.reject(new Error('kaput')) });
    await expect(wrapped.run({}, { taskId: 't', idempotencyKey: 't/u', fence: 1, signal })).rejects.toThrow('kaput');
    expect(tracing.one('execute_tool boom').attributes['openclaw.tool.outcome']).toBe('exception');
  });

  it('inputHash ignores key order and tells different inputs apart', () => {
    expect(inputHash({ a: 1, b: [1, { d: 2, c: 3 }] })).toBe(inputHash({ b: [1, { c: 3, d: 2 }], a: 1 }));
    expect(inputHash({ a: 1 })).not.toBe(inputHash({ a: 2 }));
    expect(inputHash(undefined)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('GIVEN no active span THEN nothing leaks into the root context', () => {
    expect(trace.getSpan(context.active())).toBeUndefined();
  });
});
