/**
 * The smoke flow the release workflow and the prod-like run use, against the whole local system
 * (DynamoDB Local, fauxqs, stub model, gateway, workers, intake).
 */
import { TaskFlowError, runTaskFlow } from '../../tools/delivery/task-flow';
import type { LocalSystem } from '../../tools/local/system';
import { startTestSystem } from '../support/system';

let system: LocalSystem;

beforeAll(async () => {
  system = await startTestSystem('taskflow');
}, 90_000);

afterAll(async () => {
  await system?.stop();
});

describe('runTaskFlow', () => {
  it('GIVEN a healthy system THEN the task reaches SUCCEEDED and the model was called through the gateway', async () => {
    const lines: string[] = [];
    const before = system.stub?.calls.length ?? 0;
    const result = await runTaskFlow({ baseUrl: system.intakeUrl, apiKey: system.apiKey, pollMs: 100, timeoutMs: 30_000, log: (l) => lines.push(l) });
    expect(result.status).toBe('SUCCEEDED');
    // [tools:2] scripts two tool calls and a final answer: three model calls through the gateway.
    expect((system.stub?.calls.length ?? 0) - before).toBe(3);
    expect(lines.join('\n')).not.toContain(system.apiKey);
  });

  it('GIVEN a wrong API key THEN it fails with submit_rejected and the intake status', async () => {
    const err = await runTaskFlow({ baseUrl: system.intakeUrl, apiKey: 'not-the-key', pollMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskFlowError);
    expect((err as TaskFlowError).type).toBe('submit_rejected');
    expect((err as TaskFlowError).message).toContain('answered 401');
    expect((err as TaskFlowError).message).not.toContain('not-the-key');
  });

  it('GIVEN nothing listening THEN it fails with intake_unreachable', async () => {
    const err = await runTaskFlow({ baseUrl: 'http://127.0.0.1:9', apiKey: 'x' }).catch((e: unknown) => e);
    expect((err as TaskFlowError).type).toBe('intake_unreachable');
  });

  it('GIVEN a task that does not finish in time THEN it fails with task_timeout, never success', async () => {
    const err = await runTaskFlow({ baseUrl: system.intakeUrl, apiKey: system.apiKey, pollMs: 100, timeoutMs: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskFlowError);
    expect((err as TaskFlowError).type).toBe('task_timeout');
  });
});
