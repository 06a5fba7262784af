/**
 * Cross-account promotion (deploy.yml: skopeo copies the build out of the dev repository into the
 * stage's own). Both sides must allow the pull, and each is read from its own synthesized stage: the
 * dev repository's resource policy, and the staging/prod deploy role's identity policy.
 */
import { resourcesOf, synthStage, type SynthesizedStage } from './support/synth-stage';

const dev = synthStage('dev');

/** What `skopeo copy` does against the source: read manifests and layers. */
const NEEDED_TO_PULL = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'];

type Statement = Record<string, any>;
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
/** IAM's `*` glob, for ArnLike. */
const globMatches = (pattern: string, value: string): boolean => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(value);

function devRepository(): { arn: string; statements: Statement[] } {
  const repos = resourcesOf(dev.json.registry, 'AWS::ECR::Repository');
  expect(repos).toHaveLength(1);
  const props = repos[0]?.[1] ?? {};
  const account = dev.stage.account ?? '';
  const region = dev.stage.region ?? '';
  return { arn: `arn:aws:ecr:${region}:${account}:repository/${String(props['RepositoryName'])}`, statements: asArray(props['RepositoryPolicyText']?.['Statement']) };
}

function deployRole(stage: SynthesizedStage): { arn: string; statements: Statement[] } {
  const roles = resourcesOf(stage.json.registry, 'AWS::IAM::Role').filter(([id]) => id.startsWith('GithubDeployRole'));
  expect(roles).toHaveLength(1);
  const [roleId, role] = roles[0] ?? ['', {}];
  const policies = resourcesOf(stage.json.registry, 'AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p['Roles']).includes(roleId));
  return {
    arn: `arn:aws:iam::${stage.stage.account ?? ''}:role/${String(role['RoleName'])}`,
    statements: policies.flatMap(([, p]) => asArray(p['PolicyDocument']['Statement'] as Statement | Statement[])),
  };
}

/** Would this resource-policy statement let `principalArn` (in `account`) do `action`? Allow statements only. */
function resourcePolicyAllows(statements: Statement[], account: string, principalArn: string, action: string): boolean {
  return statements.some((st) => {
    if (st['Effect'] !== 'Allow' || !asArray<string>(st['Action']).includes(action)) return false;
    const principals = asArray<unknown>(st['Principal']?.['AWS']).map((p) => JSON.stringify(p));
    if (!principals.some((p) => p.includes(`:iam::${account}:root`))) return false;
    const like = st['Condition']?.['ArnLike']?.['aws:PrincipalArn'];
    return like === undefined || asArray<string>(like).some((pattern) => globMatches(pattern, principalArn));
  });
}

describe.each(['staging', 'prod'] as const)('promotion into %s', (name) => {
  const target = synthStage(name);
  const role = deployRole(target);
  const source = devRepository();

  test('GIVEN the stage deploy role WHEN read THEN it has a fixed name and may pull from the dev repository (identity side)', () => {
    expect(role.arn).toBe(`arn:aws:iam::${target.stage.account ?? ''}:role/openclaw-${name}-github-deploy`);
    for (const action of NEEDED_TO_PULL) {
      const allowed = role.statements.some((st) => st['Effect'] === 'Allow' && asArray<string>(st['Action']).includes(action) && asArray<unknown>(st['Resource']).includes(source.arn));
      expect({ action, allowed }).toEqual({ action, allowed: true });
    }
  });

  test('GIVEN the dev repository WHEN read THEN its policy lets exactly that role pull (resource side)', () => {
    for (const action of NEEDED_TO_PULL) {
      expect({ action, allowed: resourcePolicyAllows(source.statements, target.stage.account ?? '', role.arn, action) }).toEqual({ action, allowed: true });
    }
    // Another role in the same account (e.g. a developer's) gets nothing from the policy.
    expect(resourcePolicyAllows(source.statements, target.stage.account ?? '', `arn:aws:iam::${target.stage.account ?? ''}:role/someone-else`, 'ecr:BatchGetImage')).toBe(false);
  });

  test('GIVEN the promotion grants WHEN read THEN they only read: no push into the dev repository from another account', () => {
    const pushActions = ['ecr:PutImage', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:DeleteRepository', 'ecr:BatchDeleteImage'];
    for (const action of pushActions) expect(resourcePolicyAllows(source.statements, target.stage.account ?? '', role.arn, action)).toBe(false);
    const onSource = role.statements.filter((st) => asArray<unknown>(st['Resource']).includes(source.arn));
    expect(onSource.flatMap((st) => asArray<string>(st['Action'])).filter((a) => pushActions.includes(a))).toEqual([]);
  });
});

test('GIVEN the dev stage WHEN synthesized THEN its own deploy role pulls nothing cross-account and its repository admits only the staging and prod accounts', () => {
  const principals = devRepository().statements.flatMap((st) => asArray<unknown>(st['Principal']?.['AWS']).map((p) => JSON.stringify(p)));
  const accounts = [...new Set(principals.map((p) => /:iam::(\d{12}):root/.exec(p)?.[1]))].sort();
  expect(accounts).toEqual([synthStage('staging').stage.account, synthStage('prod').stage.account].sort());
  expect(deployRole(dev).statements.some((st) => st['Sid'] === 'PullForPromotion')).toBe(false);
});
