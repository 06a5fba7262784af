import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEPLOY_STAGES, loadStageConfig } from '../../lib/config';
import {
  buildOncePromoteByDigest,
  leastPrivilege,
  loadWorkflows,
  oidcOnly,
  pinnedActions,
  stagedEnvironments,
  trivyTwoPasses,
  type LoadedWorkflow,
  type Workflow,
} from './workflow-policy';

const ROOT = join(__dirname, '..', '..');
const workflows = loadWorkflows(ROOT);
const byFile = (file: string): LoadedWorkflow => {
  const wf = workflows.find((w) => w.file === file);
  if (wf === undefined) throw new Error(`.github/workflows/${file} is missing`);
  return wf;
};

/** A copy of the workflows with one document changed (text too, for line-based checks). */
function mutate(file: string, change: (doc: Workflow) => void, text?: (t: string) => string): LoadedWorkflow[] {
  return workflows.map((wf) => {
    if (wf.file !== file) return wf;
    const newText = text === undefined ? wf.text : text(wf.text);
    const doc = parse(newText) as Workflow;
    change(doc);
    return { file: wf.file, text: newText, doc };
  });
}

describe('GitHub Actions workflows', () => {
  it('are ci.yml, release.yml and the reusable deploy.yml', () => {
    expect(workflows.map((w) => w.file)).toEqual(['ci.yml', 'deploy.yml', 'release.yml']);
  });

  it('pin every action to a full commit SHA with a version comment', () => {
    expect(pinnedActions(workflows)).toEqual([]);
  });

  it('declare least-privilege permissions', () => {
    expect(leastPrivilege(workflows)).toEqual([]);
  });

  it('use OIDC role assumption only, never stored AWS keys', () => {
    expect(oidcOnly(workflows)).toEqual([]);
  });

  it('build and push once, and every deploy uses the build job digest', () => {
    expect(buildOncePromoteByDigest(workflows)).toEqual([]);
  });

  it('promote dev -> staging -> prod, each in the GitHub environment the stage config trusts', () => {
    expect(stagedEnvironments(workflows, DEPLOY_STAGES)).toEqual([]);
    // GithubDeployRole trusts repo:OWNER/REPO:environment:<github.environment>; the job must run there.
    expect(DEPLOY_STAGES.map((s) => loadStageConfig(s).github.environment)).toEqual([...DEPLOY_STAGES]);
  });

  it('gate CI on CRITICAL findings and report SARIF in a separate pass', () => {
    expect(trivyTwoPasses(byFile('ci.yml'))).toEqual([]);
  });

  it('run typecheck, lint, tests, cdk-nag synth and an image build in CI', () => {
    const runs = Object.values(byFile('ci.yml').doc.jobs).flatMap((j) => (j.steps ?? []).map((s) => s.run ?? s.uses ?? ''));
    expect(runs).toEqual(expect.arrayContaining(['npm ci --no-audit --no-fund', 'npm run typecheck', 'npm run lint', 'npx jest --ci']));
    expect(runs.some((r) => r.startsWith('npm run synth'))).toBe(true);
    expect(runs.some((r) => r.startsWith('docker/build-push-action@'))).toBe(true);
  });

  it('scan the pushed digest before the first deploy', () => {
    const release = byFile('release.yml').doc;
    const scan = release.jobs['scan'];
    const trivy = scan?.steps?.find((s) => s.uses?.startsWith('aquasecurity/trivy-action@'));
    expect(trivy?.with).toMatchObject({ 'image-ref': '${{ needs.build.outputs.image }}@${{ needs.build.outputs.digest }}', severity: 'CRITICAL', 'exit-code': '1' });
    expect(release.jobs['deploy-dev']?.needs).toEqual(expect.arrayContaining(['scan']));
  });

  it('gate each stage on its ECR scan with the promote command before cdk deploy', () => {
    const steps = Object.values(byFile('deploy.yml').doc.jobs)[0]?.steps ?? [];
    const promote = steps.findIndex((s) => /npm run --silent promote -- .*--digest "\$DIGEST"/.test(s.run ?? ''));
    const deploy = steps.findIndex((s) => /cdk deploy/.test(s.run ?? ''));
    const smoke = steps.findIndex((s) => /task-flow\.ts/.test(s.run ?? ''));
    expect(promote).toBeGreaterThan(-1);
    expect(deploy).toBeGreaterThan(promote);
    expect(smoke).toBeGreaterThan(deploy);
  });
});

describe('workflow checks fail on bad variants', () => {
  it('WHEN an action is referenced by tag THEN pinned-actions fails', () => {
    const bad = mutate('ci.yml', () => undefined, (t) => t.replace(/actions\/checkout@[0-9a-f]{40}/, 'actions/checkout@v4'));
    expect(pinnedActions(bad)).toEqual([expect.stringContaining('actions/checkout@v4 is not pinned')]);
  });

  it('WHEN a SHA has no version comment THEN pinned-actions fails', () => {
    const bad = mutate('ci.yml', () => undefined, (t) => t.replace(/(docker\/setup-buildx-action@[0-9a-f]{40}) # v[\d.]+/, '$1'));
    expect(pinnedActions(bad)).toEqual([expect.stringContaining('needs a "# vX.Y.Z" comment')]);
  });

  it('WHEN permissions are missing or too wide THEN least-privilege fails', () => {
    expect(leastPrivilege(mutate('ci.yml', (d) => delete (d as { permissions?: unknown }).permissions))).toEqual(['ci.yml: declare top-level permissions ({} or contents: read)']);
    expect(leastPrivilege(mutate('ci.yml', (d) => ((d.jobs['test'] as { permissions: unknown }).permissions = 'write-all')))).toEqual([expect.stringContaining('job test uses "write-all"')]);
    expect(leastPrivilege(mutate('ci.yml', (d) => ((d.jobs['test'] as { permissions: unknown }).permissions = { contents: 'read', 'id-token': 'write' })))).toEqual([
      'ci.yml: job test asks for id-token: write without a step that needs it',
    ]);
  });

  it('WHEN a job uses stored AWS keys THEN oidc-only fails', () => {
    const bad = mutate(
      'release.yml',
      (d) => {
        const step = d.jobs['scan']?.steps?.[0];
        if (step?.with !== undefined) step.with['aws-access-key-id'] = '${{ secrets.AWS_ACCESS_KEY_ID }}';
      },
      (t) => `${t}\n# \${{ secrets.AWS_ACCESS_KEY_ID }}\n`,
    );
    expect(oidcOnly(bad)).toEqual(['release.yml: uses stored AWS keys; assume a role with OIDC instead', 'release.yml: job scan must configure AWS with role-to-assume only']);
  });

  it('WHEN CI also pushes THEN build-once fails', () => {
    const bad = mutate('ci.yml', (d) => {
      const step = d.jobs['image']?.steps?.find((s) => s.uses?.startsWith('docker/build-push-action@'));
      if (step?.with !== undefined) step.with['push'] = true;
    });
    expect(buildOncePromoteByDigest(bad)).toEqual([expect.stringContaining('exactly one job may push an image; found ci.yml:image, release.yml:build')]);
  });

  it('WHEN a deploy job passes a tag instead of the digest THEN promote-by-digest fails', () => {
    const bad = mutate('release.yml', (d) => ((d.jobs['deploy-prod'] as { with: Record<string, unknown> }).with['digest'] = '${{ needs.build.outputs.version }}'));
    expect(buildOncePromoteByDigest(bad)).toEqual([expect.stringContaining('job deploy-prod must pass digest: ${{ needs.build.outputs.digest }}')]);
  });

  it('WHEN cdk deploy drops the digest context THEN promote-by-digest fails', () => {
    const bad = mutate('deploy.yml', (d) => {
      const step = Object.values(d.jobs)[0]?.steps?.find((s) => /cdk deploy/.test(s.run ?? ''));
      if (step !== undefined) (step as { run: string }).run = 'npx cdk deploy "$STAGE/*" --require-approval never';
    });
    expect(buildOncePromoteByDigest(bad)).toEqual(['deploy.yml: cdk deploy must pass -c imageDigest=${{ inputs.digest }}']);
  });

  it('WHEN a job runs docker push itself THEN build-once fails', () => {
    const bad = mutate('deploy.yml', (d) => Object.values(d.jobs)[0]?.steps?.push({ run: 'docker push "$IMAGE"' }));
    expect(buildOncePromoteByDigest(bad)).toEqual(['deploy.yml: job deploy builds or pushes outside docker/build-push-action']);
  });

  it('WHEN prod does not wait for staging THEN staged-environments fails', () => {
    const bad = mutate('release.yml', (d) => ((d.jobs['deploy-prod'] as { needs: string[] }).needs = ['build']));
    expect(stagedEnvironments(bad, DEPLOY_STAGES)).toEqual(['release.yml: job deploy-prod must need deploy-staging (promotion order)']);
  });

  it('WHEN the Trivy gate is a SARIF pass without limit-severities-for-sarif THEN trivy-two-passes fails', () => {
    const [bad] = mutate('ci.yml', (d) => {
      const gate = d.jobs['image']?.steps?.find((s) => String(s.with?.['exit-code']) === '1');
      if (gate?.with !== undefined) gate.with['format'] = 'sarif';
    }).filter((w) => w.file === 'ci.yml');
    expect(trivyTwoPasses(bad as LoadedWorkflow)).toEqual([
      'ci.yml: a SARIF-format gate ignores severity unless limit-severities-for-sarif is true',
      'ci.yml: SARIF pass must set limit-severities-for-sarif: true',
    ]);
  });
});

describe('dependabot', () => {
  const config = parse(readFileSync(join(ROOT, '.github', 'dependabot.yml'), 'utf8')) as { version: number; updates: { 'package-ecosystem': string; directory: string }[] };

  it('keeps docker base digests, actions and npm current', () => {
    expect(config.version).toBe(2);
    expect(config.updates.map((u) => u['package-ecosystem'])).toEqual(expect.arrayContaining(['docker', 'github-actions', 'npm']));
    for (const u of config.updates) expect(u.directory).toBe('/');
  });
});
