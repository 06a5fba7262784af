import { App } from 'aws-cdk-lib';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../lib/app';
import { loadDeployableStageConfig, readSiteConfig } from '../../lib/config';
import { TEST_CONFIG_DIR, TEST_DIGEST, resourcesOf, synthStage } from './support/synth-stage';

const EXAMPLES = join(__dirname, '..', '..', 'config');

describe('deploy from configuration (config/<stage>.json)', () => {
  test.each(['staging', 'prod'] as const)('GIVEN the shipped %s example WHEN loaded for a deploy THEN every placeholder is refused, naming the key and the fix', (stage) => {
    const run = () => loadDeployableStageConfig(stage, readSiteConfig(EXAMPLES, `${stage}.example`));
    expect(run).toThrow(/env\.account="\d{12}": an example account/);
    expect(run).toThrow(/ingress\.certificateArn=.*an example certificate/);
    expect(run).toThrow(/github\.repo="openclaw\/openclaw-deploy": the repository this app is published from/);
    expect(run).toThrow(/registry\.promoteFrom\.account="111111111111"/);
    if (stage === 'prod') expect(run).toThrow(/alarms\.pageEmails=\[\]: prod pages a human, but nobody is subscribed/);
  });

  test('GIVEN prod without a config file WHEN loaded for a deploy THEN the error says which file to create and lists the limits and GitHub settings', () => {
    expect(() => loadDeployableStageConfig('prod', undefined)).toThrow(/config\/prod\.json \(missing: copy config\/prod\.example\.json\)[\s\S]*github\.owner=undefined[\s\S]*services\.gateway\.limits=undefined/);
  });

  test('GIVEN staging with the documentation CIDR WHEN loaded THEN it is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openclaw-config-'));
    const site = readSiteConfig(TEST_CONFIG_DIR, 'staging');
    writeFileSync(join(dir, 'staging.json'), JSON.stringify({ ...site?.values, ingress: { ...site?.values.ingress, allowedCidr: '203.0.113.0/24' } }));
    expect(() => loadDeployableStageConfig('staging', readSiteConfig(dir, 'staging'))).toThrow(/ingress\.allowedCidr="203\.0\.113\.0\/24": a documentation range/);
  });

  test('GIVEN the test fixture WHEN loaded THEN it deploys (the tests synthesize staging and prod through it)', () => {
    expect(loadDeployableStageConfig('prod', readSiteConfig(TEST_CONFIG_DIR, 'prod')).env.account).toBe('410987654321');
  });

  test('GIVEN dev without GitHub settings WHEN synthesized THEN no deploy role exists at all (none trusting someone else\'s repository)', () => {
    const app = new App({ context: { imageDigest: TEST_DIGEST, configDir: mkdtempSync(join(tmpdir(), 'openclaw-empty-')) }, outdir: mkdtempSync(join(tmpdir(), 'openclaw-cdk-')) });
    const stages = buildApp(app);
    expect(Object.keys(stages)).toEqual(['dev']); // staging and prod have no file: not built
    app.synth();
    const template = app.synth().getStackArtifact(stages['dev']?.registry.artifactId ?? '').template as Record<string, unknown>;
    expect(resourcesOf(template, 'AWS::IAM::Role')).toEqual([]);
    expect(JSON.stringify(template)).not.toContain('openclaw/openclaw-deploy');
  });

  test('GIVEN a file with an unknown key WHEN loaded THEN the error names the file and the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'openclaw-config-'));
    writeFileSync(join(dir, 'dev.json'), JSON.stringify({ env: { acount: '1' } }));
    expect(() => loadDeployableStageConfig('dev', readSiteConfig(dir, 'dev'))).toThrow(/fix these keys in .*dev\.json \(over lib\/config\/stages\.ts\)[\s\S]*acount/);
  });

  test('GIVEN the fixture WHEN prod is synthesized THEN its deploy role trusts only the configured repository', () => {
    expect(JSON.stringify(synthStage('prod').json.registry)).toContain('repo:example-org/agents-deploy:environment:prod');
  });
});
