import { loadGatewayConfig } from '../../../runtime/src/shared/config';
import { ConfigError } from '../../../runtime/src/shared/errors';
import { parseGatewayLimitsJson, tierOf } from '../../../runtime/src/shared/gateway-limits';
import { routeModel } from '../../../runtime/src/gateway/routing';

describe('GATEWAY_LIMITS and routing policy', () => {
  it('GIVEN no GATEWAY_LIMITS WHEN loaded THEN the three current model tiers, lane shares and a 30 s breaker window apply', () => {
    const config = loadGatewayConfig({ TASKS_TABLE: 'tasks' });
    expect(Object.keys(config.limits.tiers).sort()).toEqual(['haiku', 'opus', 'sonnet']);
    expect(config.limits.lanes).toEqual({ high: 1, normal: 0.8, batch: 0.6 });
    expect(config.limits.breaker.windowMs).toBe(30_000);
    expect(tierOf(config.limits, 'claude-haiku-5-5')).toBe('haiku');
    expect(tierOf(config.limits, 'claude-opus-5-20261101')).toBe('opus');
    expect(tierOf(config.limits, 'some-future-model')).toBe('sonnet');
  });

  it('GIVEN a tier with a negative limit WHEN loaded THEN the error names the field', () => {
    const bad = JSON.stringify({ tiers: { sonnet: { models: ['claude-sonnet-5'], rpm: -1, itpm: 10, otpm: 10 } } });
    expect(() => loadGatewayConfig({ TASKS_TABLE: 'tasks', GATEWAY_LIMITS: bad })).toThrow(/tiers\.sonnet\.rpm/);
  });

  it('GIVEN lane ceilings out of order or a missing fallback tier WHEN parsed THEN the error says what to change', () => {
    expect(() => parseGatewayLimitsJson('{"lanes":{"high":0.5,"normal":0.8}}')).toThrow(/high >= normal >= batch/);
    expect(() => parseGatewayLimitsJson('{"tiers":{"haiku":{"models":["claude-haiku-5-5"],"rpm":1,"itpm":1,"otpm":1}}}')).toThrow(/fallbackTier.*"sonnet" is not one of the tiers \(haiku\)/);
    expect(() => parseGatewayLimitsJson('{oops')).toThrow(ConfigError);
  });

  it('GIVEN routing rules WHEN requests match by intent, max_tokens or system prompt THEN the first matching rule picks the model', () => {
    const rules = parseGatewayLimitsJson(
      JSON.stringify({ routing: [{ intent: 'classification', model: 'claude-haiku-5-5' }, { maxTokensAtMost: 64, systemIncludes: 'label', model: 'claude-haiku-5-5' }] }),
    ).routing;
    expect(routeModel(rules, { model: 'claude-sonnet-5', maxTokens: 4096, intent: 'classification' })).toEqual({ model: 'claude-haiku-5-5', routed: true });
    expect(routeModel(rules, { model: 'claude-sonnet-5', maxTokens: 32, system: [{ type: 'text', text: 'Return one label.' }] }).model).toBe('claude-haiku-5-5');
    expect(routeModel(rules, { model: 'claude-sonnet-5', maxTokens: 32, system: 'Write an essay.' })).toEqual({ model: 'claude-sonnet-5', routed: false });
    expect(routeModel(rules, { model: 'claude-opus-5', maxTokens: 4096 })).toEqual({ model: 'claude-opus-5', routed: false });
  });
});
