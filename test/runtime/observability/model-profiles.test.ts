import { ConfigError } from '../../../runtime/src/shared/errors';
import { DEFAULT_PRICE_TABLE, estimateCostUsd, parsePriceTable, profileFor } from '../../../runtime/src/shared/model-profiles';
import { loadObservabilityConfig, promptDirectories } from '../../../runtime/src/shared/observability-config';

describe('price table', () => {
  it('GIVEN model names WHEN looked up THEN the longest matching prefix wins', () => {
    const table = { ...DEFAULT_PRICE_TABLE, 'claude-sonnet-5': { inputUsdPerMTok: 4, outputUsdPerMTok: 20, contextWindow: 400_000 } };
    expect(profileFor(table, 'claude-sonnet-5-20260101')?.inputUsdPerMTok).toBe(4);
    expect(profileFor(table, 'claude-sonnet-4-5')?.inputUsdPerMTok).toBe(3);
    expect(profileFor(table, 'gpt-x')).toBeUndefined();
  });

  it('GIVEN usage WHEN costed THEN input and output are priced per million tokens', () => {
    // 1M input at $3 + 200k output at $15/M = 3 + 3.
    expect(estimateCostUsd(DEFAULT_PRICE_TABLE, 'claude-sonnet-5', 1_000_000, 200_000)).toBeCloseTo(6, 10);
    expect(estimateCostUsd(DEFAULT_PRICE_TABLE, 'unknown-model', 10, 10)).toBeUndefined();
  });

  it('GIVEN MODEL_PRICES JSON WHEN parsed THEN it merges over the defaults; bad input names the variable and the problem', () => {
    const table = parsePriceTable('{"my-model":{"inputUsdPerMTok":1,"outputUsdPerMTok":2,"contextWindow":1000}}');
    expect(table['my-model']).toEqual({ inputUsdPerMTok: 1, outputUsdPerMTok: 2, contextWindow: 1000 });
    expect(table['claude-opus']).toEqual(DEFAULT_PRICE_TABLE['claude-opus']);
    expect(() => parsePriceTable('{oops')).toThrow(/MODEL_PRICES is not valid JSON/);
    expect(() => parsePriceTable('{"m":{"inputUsdPerMTok":-1,"outputUsdPerMTok":2,"contextWindow":1000}}')).toThrow(ConfigError);
    expect(() => parsePriceTable('{"m":{"inputUsdPerMTok":1}}')).toThrow(/MODEL_PRICES is not a valid price table: m\.outputUsdPerMTok/);
  });
});

describe('observability config', () => {
  it('GIVEN an empty environment THEN defaults: no OTLP export, prompts from the checkout or the bundle, the default prices', () => {
    const config = loadObservabilityConfig({});
    expect(config).toEqual({ stage: 'local', prices: DEFAULT_PRICE_TABLE });
    expect(promptDirectories(config, '/app', '/app/dist')).toEqual(['/app/prompts', '/app/dist/prompts']);
    expect(promptDirectories(loadObservabilityConfig({ PROMPTS_DIR: '/etc/p' }), '/app', '/app/dist')).toEqual(['/etc/p']);
  });

  it('GIVEN the collector endpoint THEN it is kept; a non-URL names the variable', () => {
    expect(loadObservabilityConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318', STAGE: 'prod' })).toMatchObject({
      stage: 'prod',
      otlpEndpoint: 'http://localhost:4318',
    });
    expect(() => loadObservabilityConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'localhost:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT="localhost:4318"/);
  });
});
