import { join } from 'node:path';
import { layerViolations, readImportGraph } from './import-graph';

const ROOT = join(__dirname, '..', '..');

describe('layers point down', () => {
  const edges = readImportGraph(ROOT, ['runtime/src', 'lib', 'bin']);

  it('reads the real graph (services import shared, the CDK app imports runtime contracts)', () => {
    expect(edges).toContainEqual({ from: 'runtime/src/worker/main.ts', to: 'runtime/src/shared/config' });
    expect(edges.some((e) => e.from.startsWith('lib/') && e.to.startsWith('runtime/src/shared/'))).toBe(true);
  });

  it('has no upward or sideways import', () => {
    expect(layerViolations(edges)).toEqual([]);
  });

  it.each([
    ['runtime/src/shared/config.ts', 'runtime/src/gateway/limits-config', 'runtime/src/shared imports no service'],
    ['runtime/src/worker/main.ts', 'runtime/src/intake/api-keys', 'a service imports no other service'],
    ['runtime/src/gateway/proxy.ts', 'tools/local/stub-model', 'the image (runtime/src) imports only runtime/src'],
    ['runtime/src/healthcheck.ts', 'runtime/src/worker/consumer', 'the health check imports only shared'],
    ['lib/constructs/intake-service.ts', 'runtime/src/intake/app', 'the CDK app imports only the runtime contracts in runtime/src/shared'],
  ])('flags %s importing %s', (from, to, rule) => {
    expect(layerViolations([{ from, to }])).toEqual([{ from, to, rule }]);
  });

  it('allows imports within a layer and downwards', () => {
    expect(layerViolations([
      { from: 'runtime/src/worker/main.ts', to: 'runtime/src/worker/consumer' },
      { from: 'runtime/src/worker/main.ts', to: 'runtime/src/shared/config' },
      { from: 'lib/config/schema.ts', to: 'runtime/src/shared/gateway-limits' },
      { from: 'runtime/src/shared/config.ts', to: 'zod' },
    ])).toEqual([]);
  });
});
