/* eslint-disable @typescript-eslint/no-explicit-any -- synthesized CloudFormation is untyped JSON (as in test/lib) */
/**
 * The at-rest cost calculator on the synthesized prod stage: every line is counted from the
 * template (no total is written here), and changing the template changes the figure by what the
 * price table says it should.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CostError, costAtRest, loadPriceTable, renderStageCost, type CostLine, type StageTemplates } from '../../tools/delivery/cost-model';
import { configFor, FIXTURE_CONFIG_DIR } from '../../tools/delivery/cost';
import { resourcesOf, synthStage, TEST_CONFIG_DIR } from '../lib/support/synth-stage';

const prod = synthStage('prod');
const prices = loadPriceTable();
const region = 'us-east-1';
const p = prices.regions[region];
if (p === undefined) throw new Error('the price table has no us-east-1');
const hours = prices.hoursPerMonth;

const clone = (): Record<string, Record<string, any>> => JSON.parse(JSON.stringify(prod.json)) as Record<string, Record<string, any>>;
const all = (templates: StageTemplates, type: string) => Object.values(templates).flatMap((t) => resourcesOf(t, type));
const line = (lines: readonly CostLine[], item: string): CostLine => {
  const found = lines.find((l) => l.item === item);
  if (found === undefined) throw new Error(`no line ${item} in ${lines.map((l) => l.item).join(', ')}`);
  return found;
};
const cost = (templates: StageTemplates) => costAtRest('prod', region, templates, prices);

/** The stable worker service's scaling target and task definition in the services stack. */
function workerParts(templates: Record<string, Record<string, any>>): { target: Record<string, any>; taskDef: Record<string, any>; service: Record<string, any> } {
  const resources = templates['services']?.['Resources'] as Record<string, { Type: string; Properties: Record<string, any> }>;
  const serviceId = Object.keys(resources).find((id) => id.startsWith('WorkerService') && resources[id]?.Type === 'AWS::ECS::Service') ?? '';
  const target = Object.values(resources).find((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget' && JSON.stringify(r.Properties['ResourceId']).includes(`"${serviceId}"`));
  const service = resources[serviceId];
  const taskDef = resources[(service?.Properties['TaskDefinition'] as { Ref: string }).Ref];
  if (target === undefined || taskDef === undefined || service === undefined) throw new Error('worker service parts not found');
  return { target: target.Properties, taskDef: taskDef.Properties, service: service.Properties };
}

describe('cost at rest, counted from the synthesized prod template', () => {
  const base = cost(prod.json);

  test('GIVEN the template WHEN priced THEN NAT gateways, Elastic IPs and KMS keys are the template\'s own resource counts', () => {
    const nats = all(prod.json, 'AWS::EC2::NatGateway').length;
    expect(nats).toBeGreaterThan(0);
    expect(line(base.lines, 'NAT gateways').quantity).toBe(nats);
    expect(line(base.lines, 'NAT gateways').monthlyUsd).toBeCloseTo(nats * p.natGatewayHour * hours, 2);
    expect(line(base.lines, 'KMS customer-managed keys').quantity).toBe(all(prod.json, 'AWS::KMS::Key').length);
    expect(line(base.lines, 'Secrets Manager secrets').quantity).toBe(all(prod.json, 'AWS::SecretsManager::Secret').length);
    expect(line(base.lines, 'CloudWatch dashboards').quantity).toBe(all(prod.json, 'AWS::CloudWatch::Dashboard').length);
  });

  test('GIVEN interface endpoints WHEN priced THEN each is charged per subnet (AZ) it sits in, gateway endpoints not at all', () => {
    const endpoints = all(prod.json, 'AWS::EC2::VPCEndpoint');
    const azs = endpoints.filter(([, e]) => e['VpcEndpointType'] === 'Interface').reduce((n, [, e]) => n + (e['SubnetIds'] as unknown[]).length, 0);
    expect(line(base.lines, 'Interface VPC endpoints').quantity).toBe(azs);
    expect(line(base.lines, 'Interface VPC endpoints').monthlyUsd).toBeCloseTo(azs * p.interfaceEndpointAzHour * hours, 2);
    expect(base.free.join(' ')).toMatch(/gateway VPC endpoints/);
  });

  test('GIVEN the worker\'s minimum raised by 2 WHEN priced THEN the worker line grows by 2 tasks of its task definition\'s size', () => {
    const changed = clone();
    const { target, taskDef } = workerParts(changed);
    target['MinCapacity'] = Number(target['MinCapacity']) + 2;
    const before = line(base.lines, 'Fargate Worker');
    const after = line(cost(changed).lines, 'Fargate Worker');
    const perTask = (Number(taskDef['Cpu']) / 1024) * p.fargate.X86_64.vcpuHour + (Number(taskDef['Memory']) / 1024) * p.fargate.X86_64.gbHour;
    expect(after.quantity).toBe(before.quantity + 2);
    expect(after.monthlyUsd - before.monthlyUsd).toBeCloseTo(2 * perTask * hours, 1);
    expect(after.basis).toMatch(/worker \+ otel-collector/);
  });

  test('GIVEN a pool scaled to 0 WHEN priced THEN it has no line, and the candidate pool (min 0 in prod) has none', () => {
    const changed = clone();
    workerParts(changed).target['MinCapacity'] = 0;
    expect(cost(changed).lines.map((l) => l.item)).not.toContain('Fargate Worker');
    expect(base.lines.map((l) => l.item).filter((i) => i.includes('Canary'))).toEqual([]);
  });

  test('GIVEN the worker on Spot (FARGATE_SPOT 3 : FARGATE 1) WHEN priced THEN the line says so and costs less', () => {
    const changed = clone();
    workerParts(changed).service['CapacityProviderStrategy'] = [
      { CapacityProvider: 'FARGATE_SPOT', Weight: 3 },
      { CapacityProvider: 'FARGATE', Weight: 1 },
    ];
    const spot = line(cost(changed).lines, 'Fargate Worker');
    expect(spot.basis).toMatch(/75 % Spot/);
    expect(spot.monthlyUsd).toBeLessThan(line(base.lines, 'Fargate Worker').monthlyUsd);
  });

  test('GIVEN one NAT gateway removed and log retention cut to 30 days WHEN priced THEN NAT and log storage fall', () => {
    const changed = clone();
    const network = changed['network']?.['Resources'] as Record<string, { Type: string; Properties: Record<string, any> }>;
    const natId = Object.keys(network).find((id) => network[id]?.Type === 'AWS::EC2::NatGateway') ?? '';
    delete network[natId];
    for (const t of Object.values(changed)) {
      for (const r of Object.values((t['Resources'] ?? {}) as Record<string, { Type: string; Properties: Record<string, any> }>)) {
        if (r.Type === 'AWS::Logs::LogGroup') r.Properties['RetentionInDays'] = 30;
      }
    }
    const after = cost(changed);
    expect(line(after.lines, 'NAT gateways').quantity).toBe(line(base.lines, 'NAT gateways').quantity - 1);
    expect(line(after.lines, 'CloudWatch Logs storage (retention)').quantity).toBeLessThan(line(base.lines, 'CloudWatch Logs storage (retention)').quantity);
  });

  test('GIVEN the bill WHEN rendered THEN the total is the sum of the lines and the price date and every item are printed', () => {
    expect(base.monthlyUsd).toBeCloseTo(base.lines.reduce((n, l) => n + l.monthlyUsd, 0), 2);
    const text = renderStageCost(base, prices, '(fixture)');
    expect(text).toContain(`list prices of ${prices.takenOn}`);
    expect(text).toContain('(fixture)');
    for (const l of base.lines) expect(text).toContain(l.item);
    expect(text).toMatch(new RegExp(`total\\s+\\$${base.monthlyUsd.toFixed(2).replace('.', '\\.')}`));
  });

  test('GIVEN a region without prices WHEN priced THEN the error names the region and the file to extend', () => {
    expect(() => costAtRest('prod', 'eu-west-3', prod.json, prices)).toThrow(CostError);
    expect(() => costAtRest('prod', 'eu-west-3', prod.json, prices)).toThrow(/eu-west-3.*tools\/delivery\/cost-prices\.json/);
  });
});

describe('price table and config choice', () => {
  test('GIVEN the committed table WHEN loaded THEN it is dated and has the stages\' region', () => {
    expect(prices.takenOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(Object.keys(prices.regions)).toContain(prod.stage.region);
  });

  test('GIVEN a table with a negative price WHEN loaded THEN the error names the key', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'openclaw-prices-')), 'prices.json');
    const broken = JSON.parse(JSON.stringify(prices)) as Record<string, any>;
    broken['regions'][region]['natGatewayHour'] = -1;
    writeFileSync(file, JSON.stringify(broken));
    expect(() => loadPriceTable(file)).toThrow(/regions\.us-east-1\.natGatewayHour/);
  });

  test('GIVEN no site config for prod WHEN the CLI picks a config THEN it uses the fixture and says so; with one it uses it silently', () => {
    const empty = mkdtempSync(join(tmpdir(), 'openclaw-noconfig-'));
    expect(configFor('prod', empty)).toEqual({ dir: FIXTURE_CONFIG_DIR, note: expect.stringMatching(/test fixture/) });
    expect(configFor('dev', empty).note).toMatch(/example values/);
    expect(configFor('prod', TEST_CONFIG_DIR)).toEqual({ dir: TEST_CONFIG_DIR });
  });
});
