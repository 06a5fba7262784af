import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { mkdtempSync, readdirSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSpanExporter, readStoredSpans, spansForTask } from '../../../runtime/src/shared/span-store';
import { GEN_AI, OPENCLAW, TRACER, inSpan } from '../../../runtime/src/shared/spans';
import { buildTree, renderTree } from '../../../runtime/src/shared/trace-tree';
import { startTracing, type TracingHandle } from '../../../runtime/src/shared/tracing';

describe('local span store and the trace tree', () => {
  const dir = mkdtempSync(join(tmpdir(), 'traces-'));
  let handle: TracingHandle;

  beforeAll(() => {
    handle = startTracing({ serviceName: 'openclaw-local', exporters: [new FileSpanExporter(dir)] });
  });
  afterAll(async () => {
    await handle.shutdown();
  });

  async function runTask(taskId: string): Promise<void> {
    const intake = trace.getTracer(TRACER.intake);
    const worker = trace.getTracer(TRACER.worker);
    await inSpan(intake, 'POST /v1/tasks', { kind: SpanKind.SERVER, attributes: { [OPENCLAW.taskId]: taskId, 'http.response.status_code': 202 } }, async () => {
      await inSpan(worker, 'invoke_agent openclaw', { attributes: { [GEN_AI.operationName]: 'invoke_agent', [OPENCLAW.taskStatus]: 'SUCCEEDED', [OPENCLAW.costUsd]: 0.0123 } }, async () => {
        await inSpan(worker, 'chat claude-sonnet-5', { attributes: { [GEN_AI.operationName]: 'chat', [GEN_AI.inputTokens]: 100, [GEN_AI.outputTokens]: 7, [GEN_AI.finishReasons]: ['tool_use'] } }, async () => {
          await inSpan(trace.getTracer(TRACER.gateway), 'POST /v1/messages', { kind: SpanKind.SERVER, attributes: { [OPENCLAW.lane]: 'normal' } }, async () => undefined);
        });
        await inSpan(worker, 'execute_tool calculator', { attributes: { [GEN_AI.operationName]: 'execute_tool', [GEN_AI.toolName]: 'calculator', [OPENCLAW.toolOutcome]: 'ok', [OPENCLAW.toolOutputBytes]: 3 } }, async () => undefined);
        await inSpan(worker, 'execute_tool record_note', { attributes: { [GEN_AI.operationName]: 'execute_tool', [GEN_AI.toolName]: 'record_note' } }, async (span) => {
          span.setStatus({ code: SpanStatusCode.ERROR, message: 'store down' });
        });
        await inSpan(worker, 'chat claude-sonnet-5', { attributes: { [GEN_AI.operationName]: 'chat', [GEN_AI.inputTokens]: 150, [GEN_AI.outputTokens]: 9, [GEN_AI.finishReasons]: ['end_turn'] } }, async () => undefined);
      });
    });
  }

  it('GIVEN two traced tasks WHEN the store is read for one THEN only its trace comes back, as a tree in start order', async () => {
    await runTask('task-a');
    await runTask('task-b');
    expect(readdirSync(dir).filter((f) => f.endsWith('.jsonl'))).toHaveLength(1);

    const all = readStoredSpans(dir);
    expect(all).toHaveLength(14);
    const spans = spansForTask(all, 'task-a');
    expect(spans).toHaveLength(7);
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);

    const [root] = buildTree(spans);
    expect(root?.span.name).toBe('POST /v1/tasks');
    expect(root?.span.scope).toBe('openclaw.intake');
    const agent = root?.children[0];
    expect(agent?.children.map((c) => c.span.name)).toEqual(['chat claude-sonnet-5', 'execute_tool calculator', 'execute_tool record_note', 'chat claude-sonnet-5']);
    expect(agent?.children[0]?.children[0]?.span).toMatchObject({ name: 'POST /v1/messages', scope: 'openclaw.gateway', kind: 'server' });
    expect(agent?.children[2]?.span).toMatchObject({ status: 'error', statusMessage: 'store down' });
  });

  it('GIVEN stored spans WHEN rendered THEN the tree shows services, timings, tokens, tools and errors', () => {
    const text = renderTree(spansForTask(readStoredSpans(dir), 'task-a'), 'task-a');
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^Task task-a: 7 spans in 1 trace\(s\)/);
    expect(lines[1]).toBe('  2 model call(s), tokens in=250 out=16; 2 tool call(s): calculator, record_note');
    expect(text).toMatch(/^POST \/v1\/tasks\s+intake\s+\+\s+0 ms\s+\d+ ms\s+http=202$/m);
    expect(text).toMatch(/^└─ invoke_agent openclaw\s+worker .*status=SUCCEEDED\s+cost=\$0\.0123$/m);
    expect(text).toMatch(/^ {3}├─ chat claude-sonnet-5\s+worker .*tokens in=100 out=7\s+finish=tool_use$/m);
    expect(text).toMatch(/^ {3}│ {2}└─ POST \/v1\/messages\s+gateway .*lane=normal$/m);
    expect(text).toMatch(/execute_tool calculator .*outcome=ok\s+output=3B/);
    expect(text).toMatch(/execute_tool record_note .*ERROR store down/);
    expect(text).toMatch(/^ {3}└─ chat claude-sonnet-5 .*finish=end_turn$/m);
  });

  it('GIVEN a torn line or a missing directory THEN reading skips it instead of failing', () => {
    appendFileSync(join(dir, 'spans-2000-01-01.jsonl'), '{"traceId":"x"\n');
    expect(readStoredSpans(dir)).toHaveLength(14);
    expect(readStoredSpans(join(dir, 'missing'))).toEqual([]);
    expect(renderTree([], 'nope')).toBe('No spans stored for task nope.');
  });
});
