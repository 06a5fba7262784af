import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentProfile } from '../../../runtime/src/shared/agent-profiles';
import { EmfMetrics } from '../../../runtime/src/shared/metrics';
import { DIMENSIONS } from '../../../runtime/src/shared/metrics-contract';
import { PromptRegistry } from '../../../runtime/src/shared/prompt-registry';
import { TaskStore } from '../../../runtime/src/shared/task-store';
import type { TaskRecord } from '../../../runtime/src/shared/task-model';
import type { LocalSystem } from '../../../tools/local/system';
import { eventually } from '../../support/aws';
import { startTestSystem } from '../../support/system';
import { startTestTracing, type TestTracing } from '../observability/tracing-harness';

interface EmfLine {
  _aws: { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] };
  [key: string]: unknown;
}

/**
 * Agent profiles end to end on the emulators: the real intake and worker, the gateway and the stub
 * model, which records the system prompt, the tools and the model each call carried. Two agents
 * with their own prompts folders, tools, models and default budget.
 */
describe('agent profiles', () => {
  const root = mkdtempSync(join(tmpdir(), 'agent-prompts-'));
  writeFileSync(join(root, 'system.md'), 'You are the assistant under test.');
  mkdirSync(join(root, 'researcher'));
  writeFileSync(join(root, 'researcher', 'system.md'), 'You are the researcher under test: cite your sources.');
  const profiles: AgentProfile[] = [
    { name: 'assistant', default: true, prompts: '.', tools: ['calculator', 'record_note'] },
    { name: 'researcher', prompts: 'researcher', tools: ['http_fetch', 'record_note'], model: 'claude-haiku-5-5', modelTier: 'haiku', budget: { maxSteps: 7 } },
  ];
  const versions = { assistant: PromptRegistry.forAgent(root, '.', 'assistant').version, researcher: PromptRegistry.forAgent(root, 'researcher', 'researcher').version };
  const emfLines: string[] = [];
  let tracing: TestTracing;
  let system: LocalSystem;

  const headers = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${system.apiKey}`, 'content-type': 'application/json', ...extra });
  const submit = (body: Record<string, unknown>, extra: Record<string, string> = {}) =>
    fetch(`${system.intakeUrl}/v1/tasks`, { method: 'POST', headers: headers(extra), body: JSON.stringify(body) });
  const finished = (taskId: string) =>
    eventually(
      async () => {
        const task = (await (await fetch(`${system.intakeUrl}/v1/tasks/${taskId}`, { headers: headers() })).json()) as TaskRecord;
        return task.status === 'SUCCEEDED' || task.status === 'FAILED' ? task : undefined;
      },
      `task ${taskId} to finish`,
      30_000,
      50,
    );
  // The gateway does not pass the task ID upstream: the stub's calls are told apart by their (unique) prompt.
  const callsOf = (prompt: string) => (system.stub?.calls ?? []).filter((c) => c.prompt === prompt);

  beforeAll(async () => {
    tracing = startTestTracing();
    const metrics = new EmfMetrics({ dimensions: { [DIMENSIONS.stage]: 'local' }, write: (line) => emfLines.push(line) });
    system = await startTestSystem('agents', { agents: { profiles, promptsRoot: root }, metrics });
  });

  afterAll(async () => {
    await system.stop();
    await tracing.handle.shutdown();
  });

  it('GIVEN no agent WHEN a task runs THEN the default agent runs it: its system prompt, its tools, the stage model, its prompt version', async () => {
    const prompt = `Multiply and note ${Date.now()} [tools:2]`;
    const res = await submit({ prompt });
    expect(res.status).toBe(202);
    const { taskId } = (await res.json()) as { taskId: string };
    const task = await finished(taskId);
    expect(task).toMatchObject({ status: 'SUCCEEDED', agent: 'assistant', promptVersion: versions.assistant });
    const calls = callsOf(prompt);
    expect(calls.length).toBe(3);
    for (const call of calls) {
      expect(call.system).toBe('You are the assistant under test.');
      expect(call.tools).toEqual(['calculator', 'record_note']);
      expect(call.model).toBe('claude-sonnet-5');
    }
  });

  it('GIVEN agent "researcher" WHEN the task runs THEN its own prompt, tools, model, prompt version and default budget apply', async () => {
    const prompt = `Research nothing yet ${Date.now()} [tools:0]`;
    const res = await submit({ agent: 'researcher', prompt });
    expect(res.status).toBe(202);
    const { taskId } = (await res.json()) as { taskId: string };
    const task = await finished(taskId);
    expect(task).toMatchObject({ status: 'SUCCEEDED', agent: 'researcher', promptVersion: versions.researcher, budget: { maxSteps: 7 } });
    expect(versions.researcher).not.toBe(versions.assistant);
    const [call] = callsOf(prompt);
    expect(call?.system).toBe('You are the researcher under test: cite your sources.');
    expect(call?.tools).toEqual(['http_fetch', 'record_note']);
    expect(call?.model).toBe('claude-haiku-5-5');
  });

  it('GIVEN a budget in the request WHEN it names the researcher THEN the request wins over the agent\'s default', async () => {
    const res = await submit({ agent: 'researcher', prompt: `Short ${Date.now()} [tools:0]`, budget: { maxSteps: 3 } });
    const { taskId } = (await res.json()) as { taskId: string };
    expect((await finished(taskId)).budget).toEqual({ maxSteps: 3 });
  });

  it('GIVEN an unknown agent WHEN submitted THEN 400 lists the valid agents and the default, and nothing is queued', async () => {
    const before = system.stub?.calls.length ?? 0;
    const res = await submit({ agent: 'writer', prompt: 'hello' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.message).toBe('Invalid task: agent: "writer" is not an agent of this deployment; use one of assistant (default), researcher, or leave it out for the default');
    expect(system.stub?.calls.length ?? 0).toBe(before);
  });

  it('GIVEN one Idempotency-Key WHEN the agent changes THEN it is a conflicting body (422); naming the default equals leaving it out', async () => {
    const key = `agents-${Date.now()}`;
    const prompt = `Idempotent ${key} [tools:0]`;
    const first = await submit({ prompt }, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    const { taskId } = (await first.json()) as { taskId: string };
    const sameDefault = await submit({ prompt, agent: 'assistant' }, { 'idempotency-key': key });
    expect(sameDefault.status).toBe(202);
    expect(sameDefault.headers.get('idempotent-replayed')).toBe('true');
    expect(((await sameDefault.json()) as { taskId: string }).taskId).toBe(taskId);
    const other = await submit({ prompt, agent: 'researcher' }, { 'idempotency-key': key });
    expect(other.status).toBe(422);
  });

  it('GIVEN a key allowlist on the task WHEN its agent runs THEN the model is offered the tools both allow', async () => {
    // As the intake writes a task of a key with entitlements.tools (the local key has none).
    const store = new TaskStore({ client: system.dynamo, tableName: system.resources.tasksTable });
    const taskId = `agents-allow-${Date.now()}`;
    const at = new Date().toISOString();
    await store.create({ taskId, status: 'QUEUED', priority: 'normal', agent: 'assistant', allowedTools: ['record_note', 'http_fetch'], prompt: `Allowed only ${taskId} [tools:1]`, submittedBy: 'local-dev', createdAt: at, updatedAt: at });
    await system.sqs.send(new SendMessageCommand({ QueueUrl: system.resources.queues.normal, MessageBody: JSON.stringify({ taskId }) }));
    await eventually(async () => ((await store.get(taskId))?.status === 'SUCCEEDED' ? true : undefined), 'the allowlisted task to finish', 30_000, 50);
    const calls = callsOf(`Allowed only ${taskId} [tools:1]`);
    expect(calls.length).toBe(2);
    for (const call of calls) expect(call.tools).toEqual(['record_note']);
  });

  it('GIVEN finished tasks THEN their metrics carry the Agent in a [Stage, Service, Agent] set beside the existing sets, and their spans openclaw.agent', async () => {
    const researched = await submit({ agent: 'researcher', prompt: `Metrics ${Date.now()} [tools:0]` });
    const { taskId } = (await researched.json()) as { taskId: string };
    await finished(taskId);
    const span = await eventually(
      async () => tracing.byName('invoke_agent openclaw').find((s) => s.attributes['openclaw.task.id'] === taskId && s.attributes['openclaw.task.status'] !== undefined),
      'the invoke_agent span to end',
      10_000,
      50,
    );
    expect(span.attributes['openclaw.agent']).toBe('researcher');
    expect(span.attributes['openclaw.prompt.version']).toBe(versions.researcher);
    const chat = tracing.byName('chat claude-haiku-5-5').find((s) => s.attributes['openclaw.task.id'] === taskId);
    expect(chat?.attributes['openclaw.agent']).toBe('researcher');

    const line = await eventually(
      async () =>
        emfLines
          .flatMap((chunk) => chunk.split('\n'))
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as EmfLine)
          .find((l) => l['taskId'] === taskId && l._aws.CloudWatchMetrics[0]?.Metrics.some((m) => m.Name === 'TasksSucceeded')),
      'the task metrics line',
      10_000,
      50,
    );
    expect(line).toMatchObject({ Agent: 'researcher', PromptVersion: versions.researcher, Model: 'claude-haiku-5-5', TasksSucceeded: 1 });
    expect(line._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([
      ['Stage', 'Service', 'PromptVersion', 'AgentVersion', 'Model'],
      ['Stage', 'Service'],
      ['Stage', 'Service', 'AgentVersion'],
      ['Stage', 'Service', 'Agent'],
    ]);
  });
});
