import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { LocalSystem } from '../../tools/local/system';
import { notePk } from '../../runtime/src/worker/tools/record-note';
import { eventually } from '../support/aws';
import { startTestSystem } from '../support/system';

describe('end to end: intake -> queue -> worker -> gateway -> stub model -> tools', () => {
  let system: LocalSystem;

  beforeAll(async () => {
    system = await startTestSystem('e2e', { workers: 2, stubLatencyMs: 150 });
  });

  afterAll(async () => {
    await system.stop();
  });

  const auth = () => ({ authorization: `Bearer ${system.apiKey}` });

  it('GIVEN a submitted prompt WHEN the workers run it THEN it goes QUEUED -> RUNNING -> SUCCEEDED through the tool loop', async () => {
    const prompt = `Multiply and record a note ${Date.now()} [tools:2]`;
    const submit = await fetch(`${system.intakeUrl}/v1/tasks`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: JSON.stringify({ prompt }),
    });
    expect(submit.status).toBe(202);
    const accepted = (await submit.json()) as { taskId: string; status: string; statusUrl: string };
    expect(accepted.status).toBe('QUEUED');
    expect(accepted.statusUrl).toBe(`/v1/tasks/${accepted.taskId}`);

    const seen: string[] = [accepted.status];
    const final = await eventually(async () => {
      const res = await fetch(`${system.intakeUrl}${accepted.statusUrl}`, { headers: auth() });
      const body = (await res.json()) as { status: string; result?: string; usage?: { toolCalls: number; llmCalls: number }; steps?: number };
      if (seen[seen.length - 1] !== body.status) seen.push(body.status);
      return body.status === 'SUCCEEDED' || body.status === 'FAILED' ? body : undefined;
    }, 'the task to finish', 30_000, 25);

    expect(seen).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    expect(final.usage).toMatchObject({ toolCalls: 2, llmCalls: 3 });
    expect(final.steps).toBe(5);
    // The calculator's answer (2 * 3) reached the model and came back in the final text.
    expect(final.result).toContain('Results: 6 | note stored');

    // The model saw 0, then 1, then 2 tool results: the loop LLM -> tool -> LLM ran.
    const calls = (system.stub?.calls ?? []).filter((c) => c.prompt === prompt);
    expect(calls.map((c) => c.toolResults)).toEqual([0, 1, 2]);

    // The side-effecting tool ran exactly once for its key.
    const noteKey = /note stored \(([^)]+)\)/.exec(final.result ?? '')?.[1] as string;
    const invocations = await system.dynamo.send(
      new GetCommand({ TableName: system.resources.tasksTable, Key: { pk: notePk(noteKey), sk: 'INVOCATIONS' } }),
    );
    expect(invocations.Item?.['invocations']).toBe(1);
  });

  it('GIVEN no bearer token WHEN submitting THEN 401 with the stable error body', async () => {
    const res = await fetch(`${system.intakeUrl}/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x' }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { type: 'authentication_error', message: expect.stringContaining('Bearer') } });
  });
});
