/**
 * cfn-lint over every synthesized template of every stage: no errors; every warning is listed
 * below with the reason it stays, and a listed warning that no longer occurs fails too (so the
 * list only shrinks). A broken template proves the linter runs and its errors are read.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEPLOY_STAGES, loadStageConfig } from '../../lib/config';
import { STACK_KEYS, synthStage } from '../lib/support/synth-stage';
import { cfnLint, cfnLintCommand, type CfnLintMatch } from './support/cfn-lint';

interface AcceptedWarning {
  readonly rule: string;
  /** Matched against `<stage>-<stack>: <path> <message>`. */
  readonly where: RegExp;
  readonly reason: string;
}

const ACCEPTED_WARNINGS: readonly AcceptedWarning[] = [
  {
    rule: 'W3010',
    where: /-network: Resources\/\w+Subnet\d\w+\/Properties\/AvailabilityZone /,
    reason:
      'The stage config names its availability zones (lib/config network.availabilityZones) so synth is offline and subnets never move when the account\'s AZ list changes; cfn-lint prefers Fn::GetAZs.',
  },
  {
    rule: 'W3005',
    where: /-network: Resources\/CustomVpcRestrictDefaultSGCustomResourceProviderHandler\w+\/DependsOn\/0 /,
    reason: 'CDK writes this DependsOn on its own custom-resource provider (@aws-cdk/aws-ec2:restrictDefaultSecurityGroup); redundant, harmless.',
  },
  {
    rule: 'W3005',
    where: /-services: Resources\/IntakeService\w+\/DependsOn\/0 'IntakeProductionRule\w+' /,
    reason: 'CDK adds the listener rule as DependsOn of the ECS service (it must exist before ECS shifts traffic) besides the Ref; redundant, harmless.',
  },
  {
    rule: 'W3005',
    where: /-observability: Resources\/CanaryRollbackHandler\w+\/DependsOn\/\d+ 'CanaryRollbackRole\w+' /,
    reason: 'CDK makes a lambda.Function depend on its role (and the role\'s default policy) besides the GetAtt, so the policy exists before the first invocation; redundant for the role, harmless.',
  },
];

const WORK = mkdtempSync(join(tmpdir(), 'openclaw-cfn-lint-'));

function describeMatch(m: CfnLintMatch): string {
  const name = m.Filename.split('/').pop()?.replace(/\.json$/, '') ?? m.Filename;
  return `${name}: ${m.Location.Path.join('/')} ${m.Message}`;
}

describe('cfn-lint', () => {
  const command = cfnLintCommand();
  const findings: Array<{ match: CfnLintMatch; text: string }> = [];

  beforeAll(() => {
    for (const stage of DEPLOY_STAGES) {
      const { json } = synthStage(stage);
      const files = STACK_KEYS.map((k) => {
        const file = join(WORK, `${stage}-${k}.json`);
        writeFileSync(file, JSON.stringify(json[k]));
        return file;
      });
      for (const match of cfnLint(command, files, loadStageConfig(stage).env.region)) findings.push({ match, text: describeMatch(match) });
    }
  }, 300_000);

  test('GIVEN every stage\'s templates WHEN linted THEN there is no error', () => {
    expect(findings.filter((f) => f.match.Level === 'Error').map((f) => `${f.match.Rule.Id} ${f.text}`)).toEqual([]);
  });

  test('GIVEN every stage\'s templates WHEN linted THEN every warning is listed with its reason', () => {
    const unlisted = findings
      .filter((f) => f.match.Level === 'Warning')
      .filter((f) => !ACCEPTED_WARNINGS.some((a) => a.rule === f.match.Rule.Id && a.where.test(f.text)))
      .map((f) => `${f.match.Rule.Id} ${f.text}`);
    expect(unlisted).toEqual([]);
  });

  test('GIVEN the list of accepted warnings WHEN linted THEN each still occurs (remove it otherwise)', () => {
    const stale = ACCEPTED_WARNINGS.filter((a) => !findings.some((f) => f.match.Rule.Id === a.rule && a.where.test(f.text))).map((a) => `${a.rule} ${a.where}`);
    expect(stale).toEqual([]);
  });

  test('GIVEN a template with a misspelt property WHEN linted THEN cfn-lint reports an error', () => {
    const file = join(WORK, 'control-broken.json');
    writeFileSync(file, JSON.stringify({ Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeoutSeconds: 30 } } } }));
    const errors = cfnLint(command, [file], 'us-east-1').filter((m) => m.Level === 'Error');
    expect(errors.map((m) => m.Rule.Id)).toContain('E3002');
  }, 120_000);
});
