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

  it('GIVEN a key without entitlements WHEN it submits THEN the row has no allowlist (every tool)', async () => {
    const { taskId } = (await (await h.call('/v1/tasks', { body: { prompt: 'hi' } })).json()) as { taskId: string };
    expect((await h.store.get(taskId))?.allowedTools).toBeUndefined();
  });
});
