import { z } from 'zod';
import { OpenClawError } from '../../../../runtime/src/shared/errors';
import { loadWorkerConfig } from '../../../../runtime/src/shared/config';
import { ToolDefinitionError, ToolRegistry, defineTool, type ToolDefinition } from '../../../../runtime/src/worker/tool-registry';

const ctx = { taskId: 't', idempotencyKey: 't/u', fence: 1, signal: new AbortController().signal };

const readOnly = (overrides: Partial<Record<string, unknown>> = {}): ToolDefinition =>
  ({
    name: 'lookup',
    description: 'Look something up.',
    input: z.object({ q: z.string() }).strict(),
    risk: 'read_only',
    run: async ({ q }: { q: string }) => ({ content: `found ${q}` }),
    ...overrides,
  }) as ToolDefinition;

describe('ToolRegistry: a tool is checked when it is registered', () => {
  it.each([
    ['a name the Messages API refuses', { name: 'has space' }, /name must match/],
    ['no description', { description: ' ' }, /needs a description/],
    ['an unknown risk', { risk: 'dangerous' }, /risk "dangerous" is not one of read_only, side_effecting, requires_approval/],
    ['an input that is not an object', { input: z.string() }, /must be a z\.object/],
    ['an input with no JSON Schema form', { input: z.object({ at: z.date() }) }, /no JSON Schema form/],
    ['side effects without an idempotency contract', { risk: 'side_effecting' }, /must declare idempotency/],
    ['reconcile declared but missing', { risk: 'side_effecting', idempotency: { onInterrupted: 'reconcile' } }, /no reconcile function/],
  ])('GIVEN %s WHEN registered THEN it is refused naming the tool and the fix', (_what, overrides, message) => {
    expect(() => new ToolRegistry([readOnly(overrides)])).toThrow(ToolDefinitionError);
    expect(() => new ToolRegistry([readOnly(overrides)])).toThrow(message);
  });

  it('GIVEN two tools with one name WHEN registered THEN the second is refused', () => {
    expect(() => new ToolRegistry([readOnly(), readOnly()])).toThrow(OpenClawError);
  });

  it('GIVEN a zod input WHEN offered THEN the model gets its JSON Schema without $schema', () => {
    const [spec] = new ToolRegistry([readOnly()]).specs();
    expect(spec).toEqual({
      name: 'lookup',
      description: 'Look something up.',
      input_schema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'], additionalProperties: false },
    });
  });

  it('GIVEN input the schema refuses WHEN executed THEN the tool never runs and the model gets an error result', async () => {
    let runs = 0;
    const tool = defineTool({ ...readOnly(), input: z.object({ q: z.string() }), run: async () => ({ content: String(++runs) }) });
    const registry = new ToolRegistry([tool]);
    expect(await registry.execute(tool, { q: 3 }, ctx, 1000)).toMatchObject({ isError: true, content: expect.stringMatching(/^invalid input for lookup: q/) });
    expect(runs).toBe(0);
    expect(await registry.execute(tool, { q: 'x' }, ctx, 1000)).toEqual({ content: '1', isError: false });
  });
});

describe('AGENT_TOOLS: which tools an agent has is validated at start', () => {
  const env = { TASKS_TABLE: 'tasks', QUEUE_URL_HIGH: 'http://q/1/high', QUEUE_URL_NORMAL: 'http://q/1/normal', GATEWAY_URL: 'http://gateway:8090' };

  it('GIVEN no AGENT_TOOLS WHEN loaded THEN the defaults are offered', () => {
    expect(loadWorkerConfig(env).tools).toEqual(['calculator', 'record_note']);
  });

  it('GIVEN a list WHEN loaded THEN it is parsed in order', () => {
    expect(loadWorkerConfig({ ...env, AGENT_TOOLS: ' record_note , calculator' }).tools).toEqual(['record_note', 'calculator']);
  });

  it.each([
    ['calculator,web_search', /AGENT_TOOLS="calculator,web_search": unknown tool "web_search"; list built-in tool names, each once, from: calculator, record_note, http_fetch/],
    ['calculator,calculator', /AGENT_TOOLS="calculator,calculator": names a tool twice/],
    [' , ', /must name at least one tool/],
  ])('GIVEN AGENT_TOOLS=%j WHEN loaded THEN start fails naming the variable, the value and the fix', (value, message) => {
    expect(() => loadWorkerConfig({ ...env, AGENT_TOOLS: value })).toThrow(message);
  });
});
