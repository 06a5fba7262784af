import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ToolRegistry, defineTool } from '../../../../runtime/src/worker/tool-registry';
import { LeaseManager } from '../../../../runtime/src/worker/lease';
import type { StubRequest } from '../../../../tools/local/stub-model';
import { createWorkerHarness, type WorkerHarness } from '../harness';

const tool = (name: string) => defineTool({ name, description: `The ${name} tool.`, input: z.object({}), risk: 'read_only', run: async () => ({ content: name }) });

describe('tool policy at the seam where tools are registered', () => {
  const registry = new ToolRegistry([tool('calculator'), tool('record_note'), tool('http_fetch')]);

  it('GIVEN no allowlist WHEN a task\'s tools are offered THEN every registered tool is', () => {
    expect(registry.forTask(undefined).specs().map((s) => s.name)).toEqual(['calculator', 'record_note', 'http_fetch']);
  });

  it('GIVEN an allowlist WHEN offered THEN only allowed tools reach the model, and names the worker lacks are ignored', () => {
    expect(registry.forTask(['http_fetch', 'calculator', 'shell']).specs().map((s) => s.name)).toEqual(['calculator', 'http_fetch']);
  });

  it('GIVEN an allowlist WHEN the model calls a tool outside it anyway THEN the call is refused, not run', () => {
    const tools = registry.forTask(['calculator']);
    expect(tools.resolve('calculator')).toEqual({ tool: registry.get('calculator') });
    expect(tools.resolve('record_note')).toEqual({ refused: 'not_allowed', message: expect.stringContaining('tool "record_note" is not allowed for this task (its API key may use: calculator)') });
    expect(tools.resolve('nope')).toEqual({ refused: 'unknown_tool', message: 'unknown tool "nope"' });
  });

  it('GIVEN an empty allowlist WHEN offered THEN no tool is', () => {
    expect(registry.forTask([]).specs()).toEqual([]);
    expect(registry.forTask([]).resolve('calculator')).toMatchObject({ refused: 'not_allowed' });
  });
});

describe('tool policy in the worker', () => {
  let h: WorkerHarness;
  const offered = new Map<string, string[][]>();
  beforeAll(async () => {
    h = await createWorkerHarness({
      stub: {
        intercept: (call, request: StubRequest) => {
          if (call.taskId !== undefined) offered.set(call.taskId, [...(offered.get(call.taskId) ?? []), (request.tools ?? []).map((t) => t.name)]);
          return undefined;
        },
      },
    });
  });
  afterAll(() => h.close());

  it('GIVEN a task allowed only calculator, resumed where the model had asked for record_note WHEN run THEN record_note is refused, never run, and never offered', async () => {
    const taskId = randomUUID();
    const toolUseId = `toolu_${randomUUID().slice(0, 8)}`;
    const now = new Date().toISOString();
    await h.store.create({ taskId, status: 'QUEUED', priority: 'normal', prompt: `policy ${taskId} [tools:2]`, allowedTools: ['calculator'], createdAt: now, updatedAt: now });
    // The model's earlier reply asked for a tool the task may not use (e.g. a guessed name); its worker then stopped.
    const leases = new LeaseManager({ client: h.aws.dynamo, tableName: h.aws.resources.tasksTable });
    const lease = await leases.acquire(taskId, 'earlier-worker');
    if (lease === undefined) throw new Error('no lease');
    await h.log.append(lease, 1, 'llm', {
      content: [{ type: 'tool_use', id: toolUseId, name: 'record_note', input: { text: 'not allowed' } }],
      stopReason: 'tool_use',
      model: 'claude-test',
      inputTokens: 10,
      outputTokens: 5,
    });
    await leases.release(lease);
    const worker = h.worker();
    await worker.start();
    await h.aws.sqs.send(new SendMessageCommand({ QueueUrl: h.aws.resources.queues.normal, MessageBody: JSON.stringify({ taskId }) }));
    let done = await h.status(taskId);
    for (let i = 0; i < 200 && (done?.status === 'QUEUED' || done?.status === 'RUNNING'); i += 1) {
      await new Promise((r) => setTimeout(r, 100));
      done = await h.status(taskId);
    }
    await worker.stop(5000);
    expect(done?.status).toBe('SUCCEEDED');
    const steps = await h.steps(taskId);
    expect(steps[1]?.payload).toMatchObject({ toolUseId, name: 'record_note', isError: true, content: expect.stringContaining('is not allowed for this task') });
    expect(await h.noteInvocations(`${taskId}/${toolUseId}`)).toBe(0);
    // Every request of this task offered calculator only; the stub then called it (an allowed tool) once.
    expect(offered.get(taskId)?.length).toBeGreaterThan(0);
    for (const names of offered.get(taskId) ?? []) expect(names).toEqual(['calculator']);
    expect(steps.filter((s) => s.kind === 'tool').map((s) => s.payload['name'])).toEqual(['record_note', 'calculator']);
  });
});
