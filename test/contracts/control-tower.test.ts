/**
 * The AWS Control Tower proactive controls (cfn-guard, lib/control-tower.ts) run in every synth
 * next to cdk-nag: synthStage throws on any unacknowledged finding. These tests pin the findings
 * that were fixed rather than acknowledged, and prove an unacknowledged one fails the synth.
 */
import * as logs from 'aws-cdk-lib/aws-logs';
import { buildApp } from '../../lib/app';
import { DEPLOY_STAGES } from '../../lib/config';
import { TEST_DIGEST, resourcesOf, synthStage, testApp } from '../lib/support/synth-stage';

type Resource = { Type: string; DeletionPolicy?: string };

describe.each(DEPLOY_STAGES)('Control Tower controls, stage %s', (name) => {
  const synthesized = synthStage(name);

  test('GIVEN every task definition WHEN read THEN every container has a hard memory limit (CT.ECS.PR.7)', () => {
    const containers = resourcesOf(synthesized.json.services, 'AWS::ECS::TaskDefinition').flatMap(([, p]) => p['ContainerDefinitions'] as Array<Record<string, unknown>>);
    const tasks = resourcesOf(synthesized.json.services, 'AWS::ECS::TaskDefinition').length;
    expect(tasks).toBeGreaterThanOrEqual(3); // intake, gateway, worker (and the canary's candidate worker)
    expect(containers.length).toBe(2 * tasks); // app + collector in each task
    for (const c of containers) expect({ container: c['Name'], memory: typeof c['Memory'] }).toEqual({ container: c['Name'], memory: 'number' });
    const collectors = containers.filter((c) => c['Name'] === 'otel-collector');
    expect(collectors.map((c) => c['Memory'])).toEqual(Array.from({ length: tasks }, () => 128));
  });

  test('GIVEN every KMS key WHEN read THEN only AWS services may create grants on it (CT.KMS.PR.3)', () => {
    const keys = (['network', 'data', 'observability'] as const).flatMap((k) => resourcesOf(synthesized.json[k], 'AWS::KMS::Key'));
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const [, props] of keys) {
      expect(props['KeyPolicy']['Statement']).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'kms:CreateGrant',
          Principal: { AWS: '*' },
          Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
        }),
      );
    }
  });

  test('GIVEN the public subnets WHEN read THEN nothing launched there gets a public IP automatically', () => {
    const subnets = resourcesOf(synthesized.json.network, 'AWS::EC2::Subnet');
    expect(subnets.length).toBeGreaterThan(0);
    for (const [id, props] of subnets) expect({ id, map: props['MapPublicIpOnLaunch'] ?? false }).toEqual({ id, map: false });
  });
});

describe('protection of prod', () => {
  const prod = synthStage('prod');
  const staging = synthStage('staging');

  test('GIVEN prod WHEN synthesized THEN the ALB refuses deletion, and staging\'s can be torn down', () => {
    const attribute = (json: Record<string, unknown>) =>
      resourcesOf(json, 'AWS::ElasticLoadBalancingV2::LoadBalancer').map(([, p]) =>
        (p['LoadBalancerAttributes'] as Array<{ Key: string; Value: string }>).find((a) => a.Key === 'deletion_protection.enabled')?.Value,
      );
    expect(attribute(prod.json.services)).toEqual(['true']);
    expect(attribute(staging.json.services)).toEqual(['false']);
  });

  test('GIVEN prod WHEN synthesized THEN every stack holding state has termination protection, and staging none', () => {
    const stateful = (['registry', 'network', 'data'] as const);
    expect(stateful.map((k) => [k, prod.stage[k].terminationProtection])).toEqual(stateful.map((k) => [k, true]));
    expect(stateful.map((k) => [k, staging.stage[k].terminationProtection])).toEqual(stateful.map((k) => [k, false]));
    // What makes them stateful: retained tables, keys and the repository.
    const retained = (['registry', 'network', 'data'] as const).map((k) =>
      Object.values((prod.json[k]['Resources'] ?? {}) as Record<string, Resource>).some((r) => r.DeletionPolicy === 'Retain'),
    );
    expect(retained).toEqual([true, true, true]);
  });
});

describe('Control Tower control', () => {
  test('GIVEN a stage with one unacknowledged Control Tower finding WHEN synthesized THEN the synth fails naming the control', () => {
    const app = testApp({ imageDigest: TEST_DIGEST });
    const stage = buildApp(app, { stages: ['prod'] })['prod'];
    if (stage === undefined) throw new Error('no prod stage');
    // Kept for a year (so cdk-nag has nothing to say) but not encrypted with a KMS key.
    new logs.LogGroup(stage.data, 'UnencryptedLogs', { retention: logs.RetentionDays.ONE_YEAR });
    expect(() => app.synth()).toThrow(/CT\.CLOUDWATCH\.PR\.3[\s\S]*prod\/Data\/UnencryptedLogs/);
  });
});
