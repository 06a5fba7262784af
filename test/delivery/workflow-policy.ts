/**
 * Pipeline invariants, checked on the parsed workflows: actions pinned by commit SHA, least
 * privilege, OIDC only, and build once / promote by digest. Each check returns findings so the
 * tests can show it failing on a bad variant.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

export interface Step {
  readonly id?: string;
  readonly name?: string;
  readonly uses?: string;
  readonly run?: string;
  readonly if?: string;
  readonly with?: Record<string, unknown>;
  readonly env?: Record<string, string>;
}

export interface Job {
  readonly name?: string;
  readonly needs?: string | string[];
  readonly permissions?: Record<string, string> | string;
  readonly environment?: string | { name: string; url?: string };
  readonly outputs?: Record<string, string>;
  readonly steps?: Step[];
  /** A call to a reusable workflow. */
  readonly uses?: string;
  readonly with?: Record<string, unknown>;
  readonly secrets?: unknown;
}

export interface Workflow {
  readonly name?: string;
  readonly on?: unknown;
  readonly permissions?: Record<string, string> | string;
  readonly jobs: Record<string, Job>;
}

export interface LoadedWorkflow {
  readonly file: string;
  readonly text: string;
  readonly doc: Workflow;
}

export function loadWorkflows(root: string): LoadedWorkflow[] {
  const dir = join(root, '.github', 'workflows');
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((file) => {
      const text = readFileSync(join(dir, file), 'utf8');
      return { file, text, doc: parse(text) as Workflow };
    });
}

const needsList = (job: Job): string[] => (job.needs === undefined ? [] : Array.isArray(job.needs) ? job.needs : [job.needs]);

/** Every `uses:` is local (./) or owner/repo[/path]@<40-hex SHA> with a version comment for humans. */
export function pinnedActions(workflows: readonly LoadedWorkflow[]): string[] {
  const findings: string[] = [];
  for (const wf of workflows) {
    wf.text.split('\n').forEach((line, i) => {
      const match = /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line);
      if (match === null) return;
      const ref = match[1] ?? '';
      if (ref.startsWith('./')) return;
      if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(ref)) {
        findings.push(`${wf.file}:${i + 1}: ${ref} is not pinned to a full commit SHA (tags can be force-pushed, GHSA-69fq-xp46-6x23)`);
      } else if (!/#\s*v?\d+(\.\d+)*/.test(match[2] ?? '')) {
        findings.push(`${wf.file}:${i + 1}: ${ref} needs a "# vX.Y.Z" comment so reviewers and Dependabot can read the version`);
      }
    });
  }
  return findings;
}

const WRITE_SCOPES_ALLOWED: Readonly<Record<string, (job: Job) => boolean>> = {
  'id-token': (job) => job.uses !== undefined || (job.steps ?? []).some((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@') === true),
  'security-events': (job) => (job.steps ?? []).some((s) => s.uses?.startsWith('github/codeql-action/upload-sarif@') === true),
};

/** Permissions are declared at the top (read-only or none) and per job, and writes are justified by the job's steps. */
export function leastPrivilege(workflows: readonly LoadedWorkflow[]): string[] {
  const findings: string[] = [];
  for (const wf of workflows) {
    const top = wf.doc.permissions;
    if (top === undefined) findings.push(`${wf.file}: declare top-level permissions ({} or contents: read)`);
    else if (typeof top === 'string' || Object.values(top).some((v) => v !== 'read')) findings.push(`${wf.file}: top-level permissions must be {} or read-only, got ${JSON.stringify(top)}`);
    for (const [name, job] of Object.entries(wf.doc.jobs)) {
      const perms = job.permissions;
      if (perms === undefined) {
        findings.push(`${wf.file}: job ${name} must declare its permissions`);
        continue;
      }
      if (typeof perms === 'string') {
        findings.push(`${wf.file}: job ${name} uses "${perms}"; list scopes explicitly`);
        continue;
      }
      for (const [scope, level] of Object.entries(perms)) {
        if (level !== 'write') continue;
        const allowed = WRITE_SCOPES_ALLOWED[scope];
        if (allowed === undefined || !allowed(job)) findings.push(`${wf.file}: job ${name} asks for ${scope}: write without a step that needs it`);
      }
    }
  }
  return findings;
}

/** No long-lived AWS keys anywhere: credentials come from OIDC role assumption. */
export function oidcOnly(workflows: readonly LoadedWorkflow[]): string[] {
  const findings: string[] = [];
  for (const wf of workflows) {
    if (/secrets\.AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)/.test(wf.text)) findings.push(`${wf.file}: uses stored AWS keys; assume a role with OIDC instead`);
    for (const [name, job] of Object.entries(wf.doc.jobs)) {
      for (const step of job.steps ?? []) {
        if (!step.uses?.startsWith('aws-actions/configure-aws-credentials@')) continue;
        if (step.with?.['role-to-assume'] === undefined || step.with['aws-access-key-id'] !== undefined) findings.push(`${wf.file}: job ${name} must configure AWS with role-to-assume only`);
        const perms = typeof job.permissions === 'object' ? job.permissions : {};
        if (perms['id-token'] !== 'write') findings.push(`${wf.file}: job ${name} assumes a role but lacks permissions id-token: write`);
      }
    }
  }
  return findings;
}

const isBuildPush = (s: Step) => s.uses?.startsWith('docker/build-push-action@') === true;
const pushes = (s: Step) => isBuildPush(s) && (s.with?.['push'] === true || s.with?.['push'] === 'true');

/** The release path builds and pushes exactly once, and every deploy uses that build's digest. */
export function buildOncePromoteByDigest(workflows: readonly LoadedWorkflow[], releaseFile = 'release.yml', deployFile = 'deploy.yml'): string[] {
  const findings: string[] = [];
  const all = workflows.flatMap((wf) => Object.entries(wf.doc.jobs).map(([name, job]) => ({ wf, name, job })));
  const pushing = all.filter(({ job }) => (job.steps ?? []).some(pushes));
  if (pushing.length !== 1) findings.push(`exactly one job may push an image; found ${pushing.map((p) => `${p.wf.file}:${p.name}`).join(', ') || 'none'}`);
  for (const { wf, name, job } of all) {
    for (const step of job.steps ?? []) {
      if (/\bdocker\s+(build|push)\b|\bbuildx\s+build\b/.test(step.run ?? '')) findings.push(`${wf.file}: job ${name} builds or pushes outside docker/build-push-action`);
    }
  }
  const release = workflows.find((wf) => wf.file === releaseFile);
  // With zero or several pushers there is no single build to trace; the finding above says why.
  const build = pushing.length === 1 ? pushing[0] : undefined;
  if (release === undefined || build === undefined) return findings;
  if (build.wf !== release) findings.push(`the pushing job must live in ${releaseFile}, not ${build.wf.file}`);
  const pushStep = (build.job.steps ?? []).find(pushes);
  if (pushStep?.id === undefined || build.job.outputs?.['digest'] !== `\${{ steps.${pushStep.id}.outputs.digest }}`) {
    findings.push(`${releaseFile}: job ${build.name} must output digest: \${{ steps.<push step id>.outputs.digest }}`);
  }
  if (pushStep?.with?.['provenance'] === undefined || pushStep.with['provenance'] === false || pushStep.with['sbom'] !== true) {
    findings.push(`${releaseFile}: job ${build.name} must push with provenance and sbom: true`);
  }
  const digestRef = `\${{ needs.${build.name}.outputs.digest }}`;
  const deployCalls = Object.entries(release.doc.jobs).filter(([, job]) => job.uses !== undefined);
  if (deployCalls.length === 0) findings.push(`${releaseFile}: no deploy jobs`);
  for (const [name, job] of deployCalls) {
    if (job.uses !== `./.github/workflows/${deployFile}`) findings.push(`${releaseFile}: job ${name} deploys through ${String(job.uses)}, expected ./.github/workflows/${deployFile}`);
    if (job.with?.['digest'] !== digestRef) findings.push(`${releaseFile}: job ${name} must pass digest: ${digestRef}, got ${String(job.with?.['digest'])}`);
    if (!needsList(job).includes(build.name)) findings.push(`${releaseFile}: job ${name} must need ${build.name}`);
  }
  const deploy = workflows.find((wf) => wf.file === deployFile);
  const cdkDeploys = (deploy === undefined ? [] : Object.values(deploy.doc.jobs)).flatMap((job) => (job.steps ?? []).filter((s) => /\bcdk\s+deploy\b/.test(s.run ?? '')));
  if (cdkDeploys.length === 0) findings.push(`${deployFile}: no cdk deploy step`);
  for (const step of cdkDeploys) {
    if (!(step.run ?? '').includes('-c imageDigest=${{ inputs.digest }}')) findings.push(`${deployFile}: cdk deploy must pass -c imageDigest=\${{ inputs.digest }}`);
  }
  // Any other workflow that runs cdk deploy must take the digest from the build job too.
  for (const wf of workflows.filter((w) => w.file !== deployFile)) {
    for (const [name, job] of Object.entries(wf.doc.jobs)) {
      for (const step of job.steps ?? []) {
        if (/\bcdk\s+deploy\b/.test(step.run ?? '') && !(step.run ?? '').includes(`-c imageDigest=${digestRef}`)) findings.push(`${wf.file}: job ${name} runs cdk deploy without -c imageDigest=${digestRef}`);
      }
    }
  }
  return findings;
}

/** Stages deploy in order dev -> staging -> prod, each in its own GitHub environment. */
export function stagedEnvironments(workflows: readonly LoadedWorkflow[], expected: readonly string[], releaseFile = 'release.yml', deployFile = 'deploy.yml'): string[] {
  const findings: string[] = [];
  const release = workflows.find((wf) => wf.file === releaseFile);
  const deploy = workflows.find((wf) => wf.file === deployFile);
  const deployJob = deploy === undefined ? undefined : Object.values(deploy.doc.jobs)[0];
  const env = deployJob?.environment;
  if ((typeof env === 'string' ? env : env?.name) !== '${{ inputs.stage }}') findings.push(`${deployFile}: the deploy job must run in environment \${{ inputs.stage }}`);
  const calls = Object.entries(release?.doc.jobs ?? {}).filter(([, job]) => job.uses !== undefined);
  const stages = calls.map(([, job]) => String(job.with?.['stage']));
  if (JSON.stringify(stages) !== JSON.stringify(expected)) findings.push(`${releaseFile}: deploy stages must be ${expected.join(' -> ')}, got ${stages.join(' -> ')}`);
  calls.forEach(([name, job], i) => {
    const previous = calls[i - 1];
    if (previous !== undefined && !needsList(job).includes(previous[0])) findings.push(`${releaseFile}: job ${name} must need ${previous[0]} (promotion order)`);
  });
  return findings;
}

/** CI gates on CRITICAL with a non-SARIF pass and reports SARIF in a separate pass. */
export function trivyTwoPasses(workflow: LoadedWorkflow): string[] {
  const steps = Object.values(workflow.doc.jobs).flatMap((job) => job.steps ?? []).filter((s) => s.uses?.startsWith('aquasecurity/trivy-action@'));
  const findings: string[] = [];
  const gate = steps.find((s) => String(s.with?.['exit-code']) === '1');
  if (gate === undefined) findings.push(`${workflow.file}: no Trivy gate with exit-code 1`);
  else {
    if (gate.with?.['severity'] !== 'CRITICAL') findings.push(`${workflow.file}: the Trivy gate must use severity CRITICAL`);
    if (gate.with?.['format'] === 'sarif' && gate.with['limit-severities-for-sarif'] !== true) findings.push(`${workflow.file}: a SARIF-format gate ignores severity unless limit-severities-for-sarif is true`);
  }
  const sarif = steps.filter((s) => s.with?.['format'] === 'sarif');
  if (sarif.length === 0) findings.push(`${workflow.file}: no SARIF report pass`);
  for (const s of sarif) if (s.with?.['limit-severities-for-sarif'] !== true) findings.push(`${workflow.file}: SARIF pass must set limit-severities-for-sarif: true`);
  return findings;
}
