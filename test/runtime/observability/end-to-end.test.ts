import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SpanKind } from '@opentelemetry/api';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { LocalSystem } from '../../../tools/local/system';
import { createLogger } from '../../../runtime/src/shared/logger';
import { EmfMetrics } from '../../../runtime/src/shared/metrics';
import { DIMENSIONS } from '../../../runtime/src/shared/metrics-contract';
import { PromptRegistry } from '../../../runtime/src/shared/prompt-registry';
import { FileSpanExporter } from '../../../runtime/src/shared/span-store';
import { eventually } from '../../support/aws';
import { startTestTracing, type TestTracing } from './tracing-harness';
import { startTestSystem } from '../../support/system';

interface EmfLine {
  _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  [key: string]: unknown;
}

const parseLines = <T>(lines: string[]): T[] =>
  lines.flatMap((chunk) => chunk.split('\n')).filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);

/**
 * One task through the whole local system (intake -> SQS -> worker -> gateway -> stub model ->
 * tools) with the real OpenTelemetry SDK, EMF metrics and the JSON logger, then the operator's
 * questions answered from what was recorded: the span tree, the metrics and the decision log.
 */
describe('observability end to end', () => {
  const traceDir = mkdtempSync(join(tmpdir(), 'e2e-traces-'));
  const emfLines: string[] = [];
  const logLines: string[] = [];
  const prompts = new PromptRegistry({ system: 'You are OpenClaw under test. Say why before each tool call.' });
  let tracing: TestTracing;
  let system: LocalSystem;
  let taskId: string;
  let metrics: EmfMetrics;

  beforeAll(async () => {
    tracing = startTestTracing();
    metrics = new EmfMetrics({ dimensions: { [DIMENSIONS.stage]: 'local' }, write: (line) => emfLines.push(line) });
    system = await startTestSystem('obs', { logger: createLogger({}, { write: (line) => logLines.push(line) }), metrics, prompts });
    const submit = await fetch(`${system.intakeUrl}/v1/tasks`, {
      method: 'POST',
      headers: { authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: `Multiply and record a note ${Date.now()} [tools:2]` }),
    });
    expect(submit.status).toBe(202);
    taskId = ((await submit.json()) as { taskId: string }).taskId;
    await eventually(
      async () => tracing.byName('invoke_agent openclaw').find((s) => s.attributes['openclaw.task.id'] === taskId && s.attributes['openclaw.task.status'] !== undefined),
      'the invoke_agent span to end',
      30_000,
      50,
    );
    await metrics.flush();
  });

  afterAll(async () => {
    await system.stop();
    await tracing.handle.shutdown();
  });

  const taskSpans = (): ReadableSpan[] => {
    const agent = tracing.byName('invoke_agent openclaw').find((s) => s.attributes['openclaw.task.id'] === taskId);
    if (agent === undefined) throw new Error('no invoke_agent span for the task');
    return tracing.spans().filter((s) => s.spanContext().traceId === agent.spanContext().traceId);
  };
  const parentOf = (span: ReadableSpan, spans: ReadableSpan[]) => spans.find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);

  it('GIVEN a submitted task THEN one trace runs from the intake request through the queue to the worker, its model calls, the gateway and the tools', () => {
    const spans = taskSpans();
    const intake = spans.find((s) => s.name === 'POST /v1/tasks');
    const agent = spans.find((s) => s.name === 'invoke_agent openclaw');
    expect(intake?.kind).toBe(SpanKind.SERVER);
    expect(intake?.parentSpanContext).toBeUndefined();
    expect(intake?.attributes['openclaw.task.id']).toBe(taskId);
    // The worker continued the trace from the message's traceparent, which the aws-sdk
    // instrumentation set to the SQS send span (producer, then consumer).
    const send = agent && parentOf(agent, spans);
    expect(send?.name).toMatch(/-tasks-normal send$/);
    expect(send?.kind).toBe(SpanKind.PRODUCER);
    expect(send && parentOf(send, spans)).toBe(intake);
    expect(agent?.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'openclaw.task.status': 'SUCCEEDED',
      'openclaw.task.steps': 5,
      'openclaw.task.tool_calls': 2,
      'openclaw.prompt.version': prompts.version,
      'openclaw.worker.id': 'local-worker-1',
    });

    const chats = spans.filter((s) => s.name === 'chat claude-sonnet-5');
    expect(chats).toHaveLength(3);
    for (const chat of chats) {
      expect(parentOf(chat, spans)).toBe(agent);
      expect(chat.attributes['gen_ai.usage.input_tokens']).toEqual(expect.any(Number));
      expect(chat.attributes['gen_ai.usage.output_tokens']).toEqual(expect.any(Number));
      // Under each chat span the Anthropic SDK's own call span, and under that the gateway's server span.
      const sdk = spans.filter((s) => s.name === 'anthropic.messages.create' && parentOf(s, spans) === chat);
      expect(sdk).toHaveLength(1);
      const gateway = spans.filter((s) => s.name === 'POST /v1/messages' && parentOf(s, spans) === sdk[0]);
      expect(gateway).toHaveLength(1);
      expect(gateway[0]?.attributes).toMatchObject({ 'http.response.status_code': 200, 'openclaw.lane': 'normal', 'openclaw.task.id': taskId });
    }
    expect(chats.map((c) => c.attributes['gen_ai.response.finish_reasons'])).toEqual([['tool_use'], ['tool_use'], ['end_turn']]);

    const tools = spans.filter((s) => s.attributes['gen_ai.operation.name'] === 'execute_tool');
    expect(tools.map((t) => t.name)).toEqual(['execute_tool calculator', 'execute_tool record_note']);
    for (const tool of tools) {
      expect(parentOf(tool, spans)).toBe(agent);
      expect(tool.attributes).toMatchObject({ 'openclaw.tool.outcome': 'ok', 'openclaw.tool.input_sha256': expect.stringMatching(/^[0-9a-f]{16}$/) });
    }
  });

  it('GIVEN the finished task THEN its row records the prompt version it ran with', async () => {
    const res = await fetch(`${system.intakeUrl}/v1/tasks/${taskId}`, { headers: { authorization: `Bearer ${system.apiKey}` } });
    expect(await res.json()).toMatchObject({ status: 'SUCCEEDED', promptVersion: prompts.version });
  });

  it('GIVEN the EMF lines THEN task, token, tool, cost, finish-reason and gateway metrics carry Stage, Service, PromptVersion and Model', () => {
    const lines = parseLines<EmfLine>(emfLines);
    const named = (name: string) => lines.filter((l) => l._aws.CloudWatchMetrics[0]?.Metrics.some((m) => m.Name === name));
    const succeeded = named('TasksSucceeded').filter((l) => l['taskId'] === taskId);
    expect(succeeded).toHaveLength(1);
    expect(succeeded[0]).toMatchObject({
      Stage: 'local',
      Service: 'worker',
      PromptVersion: prompts.version,
      Model: 'claude-sonnet-5',
      TasksSucceeded: 1,
      TasksFailed: 0,
      ToolCallsPerTask: 2,
      CostPerTaskUsd: expect.any(Number),
    });
    // The full set stays as alarms and queries know it; the agent gets a rollup of its own.
    expect(succeeded[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
      ['Stage', 'Service', 'PromptVersion', 'AgentVersion', 'Model'],
      ['Stage', 'Service'],
      ['Stage', 'Service', 'AgentVersion'],
      ['Stage', 'Service', 'Agent'],
    ]);
    expect(succeeded[0]?.['Agent']).toBe('default');
    expect(succeeded[0]?.['InputTokensPerTask']).toBeGreaterThan(0);

    const finish = named('FinishReasonCount').filter((l) => l['taskId'] === taskId).map((l) => l['FinishReason']);
    expect(finish.sort()).toEqual(['end_turn', 'tool_use', 'tool_use']);
    expect(named('ContextUtilisation').filter((l) => l['taskId'] === taskId)).toHaveLength(3);
    expect(named('GatewayAdmitted').filter((l) => l['Service'] === 'gateway' && l['Lane'] === 'normal').length).toBeGreaterThanOrEqual(3);
  });

  it('GIVEN the logs THEN every decision is explained: step, which tool and why, and what the model was shown', () => {
    const records = parseLines<Record<string, unknown>>(logLines).filter((r) => r['taskId'] === taskId);
    const agent = tracing.byName('invoke_agent openclaw').find((s) => s.attributes['openclaw.task.id'] === taskId);
    const replies = records.filter((r) => r['event'] === 'llm.reply');
    expect(replies).toHaveLength(3);
    expect(replies[0]).toMatchObject({
      service: 'worker',
      workerId: 'local-worker-1',
      step: 1,
      decision: 'call_tools',
      tools: ['calculator'],
      // The excerpts are user content: the deployed logger writes their length, not the text.
      why: expect.stringMatching(/^\[user content redacted: \d+ chars\]$/),
      shown: { messages: 1, estimatedTokens: expect.any(Number), lastMessage: expect.stringMatching(/^\[user content redacted: \d+ chars\]$/) },
      traceId: agent?.spanContext().traceId,
      ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(replies[2]).toMatchObject({ step: 5, decision: 'answer', tools: [], shown: { messages: 5 } });
    expect(records.filter((r) => r['event'] === 'tool.result').map((r) => r['step'])).toEqual([2, 4]);
    // The bearer key used for the request never reaches a log line.
    expect(logLines.join('')).not.toContain(system.apiKey);
  });

  it('GIVEN the spans in the local store WHEN `npm run trace -- <taskId>` runs THEN it prints the task tree', async () => {
    const store = new FileSpanExporter(traceDir);
    await new Promise<void>((resolve) => store.export(taskSpans(), () => resolve()));
    const run = promisify(execFile);
    const tsx = join(__dirname, '../../../node_modules/.bin/tsx');
    const { stdout } = await run(tsx, [join(__dirname, '../../../tools/local/trace-cli.ts'), taskId], { env: { ...process.env, TRACE_DIR: traceDir } });
    expect(stdout).toMatch(new RegExp(`^Task ${taskId}: \\d+ spans in 1 trace`));
    expect(stdout).toContain('3 model call(s)');
    expect(stdout).toContain('2 tool call(s): calculator, record_note');
    expect(stdout).toMatch(/^POST \/v1\/tasks\s+intake/m);
    // The row write and the send go out side by side, so either may be the last child.
    expect(stdout).toMatch(/^[├└]─ [\w-]+-tasks-normal send\s+aws-sdk /m);
    expect(stdout).toMatch(/^[│ ] {2}└─ invoke_agent openclaw\s+worker .*status=SUCCEEDED/m);
    expect(stdout).toMatch(/├─ execute_tool calculator\s+worker .*outcome=ok/);
    expect(stdout).toMatch(/│ {2}└─ anthropic\.messages\.create\s+sdk /);
    expect(stdout).toMatch(/│ {5}└─ POST \/v1\/messages\s+gateway .*http=200\s+lane=normal/);
    // Every DynamoDB and SQS call is a span under the request or task that made it: the intake's
    // store write, the worker's checkpoint transactions, the gateway's shared-limit writes.
    expect(stdout).toMatch(/^[├└]─ DynamoDB\.PutItem\s+aws-sdk .*http=200/m);
    expect(stdout).toMatch(/^[│ ] {5}[├└]─ DynamoDB\.TransactWriteItems\s+aws-sdk /m);
    expect(stdout).toMatch(/^[│ ] {5}│ {8}├─ DynamoDB\.\w+\s+aws-sdk /m);
    // The test's own client request and the idle long polls are not traced.
    expect(stdout).not.toMatch(/^POST\s+undici/m);
    expect(stdout).not.toContain('ReceiveMessage');
  });
});
