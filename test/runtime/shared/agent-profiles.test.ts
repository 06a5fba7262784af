import { loadIntakeConfig, loadWorkerConfig } from '../../../runtime/src/shared/config';
import { resolveBudget } from '../../../runtime/src/shared/task-budget';
import { InMemoryMetrics } from '../../../runtime/src/shared/metrics';
import { silentLogger } from '../../../runtime/src/shared/logger';
import { AgentDispatcher, UnknownAgentError } from '../../../runtime/src/worker/agent-dispatch';
import { AgentTelemetry } from '../../../runtime/src/worker/agent-telemetry';
import type { TaskRecord } from '../../../runtime/src/shared/task-model';

const queues = { QUEUE_URL_HIGH: 'http://sqs.local/000000000000/high', QUEUE_URL_NORMAL: 'http://sqs.local/000000000000/normal' };
const worker = { TASKS_TABLE: 'tasks', GATEWAY_URL: 'http://gateway:8090', ...queues };
const intake = { TASKS_TABLE: 'tasks', INTAKE_API_KEYS: '[]', ...queues };
const AGENTS = JSON.stringify([
  { name: 'assistant', default: true, tools: ['calculator'] },
  { name: 'researcher', prompts: 'researcher', tools: ['http_fetch'], model: 'claude-haiku-5-5', budget: { maxSteps: 20 } },
]);

describe('agent profiles in the environment', () => {
  it('GIVEN AGENTS WHEN the worker loads its config THEN it has both agents and the default', () => {
    const config = loadWorkerConfig({ ...worker, AGENTS });
    expect(config.agents.defaultAgent).toBe('assistant');
    expect(config.agents.agents.map((a) => [a.name, a.prompts, a.tools, a.model])).toEqual([
      ['assistant', '.', ['calculator'], undefined],
      ['researcher', 'researcher', ['http_fetch'], 'claude-haiku-5-5'],
    ]);
  });

  it('GIVEN no AGENTS WHEN the worker loads its config THEN it has one agent, default, from AGENT_TOOLS', () => {
    const config = loadWorkerConfig({ ...worker, AGENT_TOOLS: 'record_note' });
    expect(config.agents).toEqual({ defaultAgent: 'default', agents: [{ name: 'default', default: true, prompts: '.', tools: ['record_note'], mcpServers: [] }] });
  });

  it.each([
    [{ AGENTS, AGENT_TOOLS: 'calculator' }, /AGENT_TOOLS cannot be set beside AGENTS; list tools and MCP servers per agent in AGENTS/],
    [{ AGENTS: '[{"name":"a","tools":["calculator"]}]' }, /AGENTS is invalid: \(body\): no agent is the default/],
    [{ AGENTS: '[{"name":"a","default":true,"tools":["shell"]}]' }, /AGENTS is invalid: 0\.tools\.0: unknown tool "shell"/],
    [{ AGENTS: '[{"name":"a","default":true,"prompts":"../x"}]' }, /AGENTS is invalid: 0\.prompts: must be "\."/],
    [{ AGENTS: 'not json' }, /AGENTS is not valid JSON/],
  ])('GIVEN %j WHEN the worker loads its config THEN it refuses to start, naming the variable and the fix', (env, message) => {
    expect(() => loadWorkerConfig({ ...worker, ...env })).toThrow(message);
  });

  it('GIVEN INTAKE_AGENTS WHEN the intake loads its config THEN it knows the names, the default and the budgets; unset, only "default"', () => {
    const config = loadIntakeConfig({ ...intake, INTAKE_AGENTS: '[{"name":"assistant","default":true},{"name":"researcher","budget":{"maxSteps":20}}]' });
    expect(config.agents).toEqual({ defaultAgent: 'assistant', agents: [{ name: 'assistant', default: true }, { name: 'researcher', budget: { maxSteps: 20 } }] });
    expect(loadIntakeConfig(intake).agents).toEqual({ defaultAgent: 'default', agents: [{ name: 'default', default: true }] });
    expect(() => loadIntakeConfig({ ...intake, INTAKE_AGENTS: '[{"name":"a","default":true},{"name":"a"}]' })).toThrow(/INTAKE_AGENTS is invalid: 1\.name: "a" is used twice/);
  });
});

describe('budgets with an agent default', () => {
  it('GIVEN an agent default WHEN resolved THEN the request wins, then the agent (capped by the key ceiling), then the key default, then the ceiling', () => {
    const key = { default: { maxSteps: 10, maxTokens: 5000 }, ceiling: { maxSteps: 30, maxCostUsd: 2 } };
    expect(resolveBudget(undefined, key, { maxSteps: 20 })).toEqual({ budget: { maxSteps: 20, maxTokens: 5000, maxCostUsd: 2 } });
    expect(resolveBudget(undefined, key, { maxSteps: 50, maxCostUsd: 5 })).toEqual({ budget: { maxSteps: 30, maxTokens: 5000, maxCostUsd: 2 } });
    expect(resolveBudget({ maxSteps: 5 }, key, { maxSteps: 20 })).toEqual({ budget: { maxSteps: 5, maxTokens: 5000, maxCostUsd: 2 } });
    expect(resolveBudget({ maxSteps: 31 }, key, { maxSteps: 20 })).toEqual({ overCeiling: { field: 'maxSteps', requested: 31, ceiling: 30 } });
    expect(resolveBudget(undefined, undefined, { maxDurationSeconds: 60 })).toEqual({ budget: { maxDurationSeconds: 60 } });
  });
});

describe('AgentDispatcher', () => {
  const telemetry = (agent: string, metrics: InMemoryMetrics) => new AgentTelemetry({ metrics, logger: silentLogger, promptVersion: `p-${agent}`, modelName: 'm', agent });
  const task = (agent: string | undefined): TaskRecord => ({ taskId: 't1', status: 'RUNNING', priority: 'normal', prompt: 'p', createdAt: '', updatedAt: '', ...(agent !== undefined ? { agent } : {}) });
  const ran: string[] = [];
  const metrics = new InMemoryMetrics();
  const runner = (name: string) => ({
    name,
    promptVersion: `p-${name}`,
    telemetry: telemetry(name, metrics),
    loop: { run: async () => (ran.push(name), { status: 'SUCCEEDED' as const, fields: {} }) },
  });
  const dispatcher = new AgentDispatcher([runner('assistant'), runner('researcher')], 'assistant');
  const ctx = (t: TaskRecord) => ({ task: t, lease: () => ({ taskId: 't1', owner: 'w', fence: 1, expiresAt: Date.now() + 60_000 }), signal: new AbortController().signal, isCancelled: async () => false });

  it('GIVEN tasks with and without an agent WHEN run THEN each runs with its agent, the default for none, and records that agent\'s prompt version', async () => {
    await dispatcher.run(ctx(task('researcher')));
    await dispatcher.run(ctx(task(undefined)));
    expect(ran).toEqual(['researcher', 'assistant']);
    const outcome = await dispatcher.runTask(task('researcher'), {}, async () => ({ status: 'SUCCEEDED', fields: {} }));
    expect(outcome.fields.promptVersion).toBe('p-researcher');
    expect(metrics.find('TasksSucceeded', { Agent: 'researcher' })).toHaveLength(1);
    expect(metrics.find('TasksSucceeded', { Agent: 'assistant' })).toHaveLength(0);
  });

  it('GIVEN a task naming an agent this worker does not run WHEN run THEN it fails as the task\'s fault, naming the agents it runs', async () => {
    await expect(dispatcher.run(ctx(task('ghost')))).rejects.toThrow(UnknownAgentError);
    await expect(dispatcher.run(ctx(task('ghost')))).rejects.toThrow(/names agent "ghost", which this worker does not run \(it runs assistant, researcher\)/);
  });
});
