import { hashApiKey, parseApiKeys } from '../../../runtime/src/shared/api-keys';
import { ConfigError } from '../../../runtime/src/shared/errors';
import { ENTITLED, startIntake, type IntakeHarness } from './harness';

const entry = (extra: Record<string, unknown>) => ({ name: 'a', sha256: hashApiKey('k'), ...extra });

describe('API key entitlements', () => {
  it('GIVEN a tool allowlist WHEN the key list is parsed THEN it is kept', () => {
    expect(parseApiKeys(JSON.stringify([entry({ entitlements: { tools: ['calculator', 'http_fetch'] } })]), 'test')[0]?.entitlements).toEqual({
      tools: ['calculator', 'http_fetch'],
    });
  });

  it.each([
    ['a name that is no tool name', { tools: ['rm -rf'] }, /0\.entitlements\.tools\.0: must be a tool name/],
    ['a tool listed twice', { tools: ['calculator', 'calculator'] }, /0\.entitlements\.tools: lists a tool twice/],
    ['an unknown entitlement', { tool: ['calculator'] }, /0\.entitlements/],
    ['a default above the ceiling', { budgets: { default: { maxSteps: 60 }, ceiling: { maxSteps: 50 } } }, /0\.entitlements\.budgets\.default\.maxSteps: default 60 is above the ceiling 50/],
    ['a negative budget', { budgets: { ceiling: { maxCostUsd: -1 } } }, /0\.entitlements\.budgets\.ceiling\.maxCostUsd/],
  ])('GIVEN %s WHEN parsed THEN a ConfigError names the key', (_what, entitlements, message) => {
    expect(() => parseApiKeys(JSON.stringify([entry({ entitlements })]), 'test')).toThrow(ConfigError);
    expect(() => parseApiKeys(JSON.stringify([entry({ entitlements })]), 'test')).toThrow(message);
  });
});

describe('intake: entitlements reach the worker on the task row', () => {
  let h: IntakeHarness;
  beforeAll(async () => {
    h = await startIntake();
  });
  afterAll(() => h.close());

  it('GIVEN a key with a tool allowlist WHEN it submits THEN the row carries the allowlist (and the view does not show it)', async () => {
    const res = await h.call('/v1/tasks', { body: { prompt: 'hi' }, key: h.keys.entitled });
    expect(res.status).toBe(202);
    const { taskId } = (await res.json()) as { taskId: string };
    expect((await h.store.get(taskId))?.allowedTools).toEqual(ENTITLED.tools);
    const view = (await (await h.call(`/v1/tasks/${taskId}`, { key: h.keys.entitled })).json()) as Record<string, unknown>;
    expect(view['allowedTools']).toBeUndefined();
  });

  it('GIVEN a key without entitlements WHEN it submits THEN the row has no allowlist (every tool) and no budget', async () => {
    const { taskId } = (await (await h.call('/v1/tasks', { body: { prompt: 'hi' } })).json()) as { taskId: string };
    expect((await h.store.get(taskId))?.allowedTools).toBeUndefined();
    expect((await h.store.get(taskId))?.budget).toBeUndefined();
  });
});

describe('intake: per-task budgets against the key\'s default and ceiling', () => {
  let h: IntakeHarness;
  beforeAll(async () => {
    h = await startIntake();
  });
  afterAll(() => h.close());

  const submit = async (budget: unknown, key = h.keys.entitled) => h.call('/v1/tasks', { body: { prompt: 'budgeted', ...(budget !== undefined ? { budget } : {}) }, key });
  const rowOf = async (res: Response) => h.store.get(((await res.json()) as { taskId: string }).taskId);

  it('GIVEN no budget WHEN submitted THEN the key\'s default applies, else its ceiling', async () => {
    const res = await submit(undefined);
    expect(res.status).toBe(202);
    expect((await rowOf(res))?.budget).toEqual({ maxSteps: 20, maxCostUsd: 1, maxDurationSeconds: 3600 });
  });

  it('GIVEN a budget below the ceiling WHEN submitted THEN it lowers (or replaces) the default per field', async () => {
    const res = await submit({ maxSteps: 10, maxTokens: 5000, maxCostUsd: 5 });
    expect(res.status).toBe(202);
    expect((await rowOf(res))?.budget).toEqual({ maxSteps: 10, maxTokens: 5000, maxCostUsd: 5, maxDurationSeconds: 3600 });
  });

  it.each([
    [{ maxSteps: 51 }, 'budget.maxSteps: 51 is above this API key\'s ceiling of 50; ask for at most 50 or leave it out'],
    [{ maxCostUsd: 5.01 }, 'budget.maxCostUsd: 5.01 is above this API key\'s ceiling of 5'],
    [{ maxDurationSeconds: 7200, maxSteps: 5 }, 'budget.maxDurationSeconds: 7200 is above this API key\'s ceiling of 3600'],
  ])('GIVEN %j WHEN submitted THEN 400 names the field and the ceiling', async (budget, message) => {
    const res = await submit(budget);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { type: string; message: string } }).error).toEqual({ type: 'invalid_request_error', message: expect.stringContaining(`Invalid task: ${message}`) });
  });

  it.each([
    [{ maxSteps: 0 }, /budget\.maxSteps/],
    [{ maxSteps: 2.5 }, /budget\.maxSteps/],
    [{ maxCostUsd: -1 }, /budget\.maxCostUsd/],
    [{ maxMoney: 1 }, /budget/],
  ])('GIVEN a malformed budget %j WHEN submitted THEN 400 names the field', async (budget, message) => {
    const res = await submit(budget);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(message);
  });

  it('GIVEN a key without budgets WHEN a budget is requested THEN it is kept as asked, and the view shows it', async () => {
    const res = await submit({ maxTokens: 100_000 }, h.keys.standard);
    expect(res.status).toBe(202);
    const { taskId } = (await res.json()) as { taskId: string };
    const view = (await (await h.call(`/v1/tasks/${taskId}`)).json()) as { budget?: unknown };
    expect(view.budget).toEqual({ maxTokens: 100_000 });
  });
});
