/**
 * The agent canary's operator commands (npm run canary; tools/delivery/canary-cli.ts): start a
 * candidate at a share, read how it compares, promote it through the digest promotion, abort it.
 *
 * The state lives where the deployed system keeps it: the share in the SSM parameter the intake
 * reads (`/openclaw/<stage>/canary/share`), what each version runs in the descriptor every deploy
 * writes (`/openclaw/<stage>/canary/versions`), the figures in CloudWatch over the AgentVersion
 * dimension, judged by the same rule the rollback alarm renders (lib/canary/rollback-rule.ts).
 * Every client and the command runner are injected, so the tests run it against fakes.
 */
import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DescribeAlarmsCommand, GetMetricDataCommand, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { ECRClient } from '@aws-sdk/client-ecr';
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { z } from 'zod';
import { decideCanary, FIGURES, FIGURE_QUERIES, figureId, NO_FIGURES, type CanaryFigures, type CanaryVerdict, type Figure, type VersionFigures } from '../../lib/canary/rollback-rule';
import { CANARY_CONTEXT_KEYS, canaryConfigSchema, type CanaryThresholds } from '../../lib/config/canary';
import { canaryParameterNames } from '../../lib/constructs/agent-canary-pool';
import { AGENT_VERSIONS, CANARY_SHARE_PATTERN, parseCanaryShare, type AgentVersion } from '../../runtime/src/shared/agent-version';
import { OpenClawError, errorMessage } from '../../runtime/src/shared/errors';
import { DIMENSIONS, METRIC_NAMESPACE, SERVICES } from '../../runtime/src/shared/metrics-contract';
import { planPromotion, type PromotePlan, type PromoteStage } from './promote';

/** A refused or failed canary command; the message says what to do. */
export class CanaryCliError extends OpenClawError {}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

const versionSchema = z.object({ digest: z.string().regex(DIGEST), model: z.string().min(1), promptsDir: z.string().min(1).optional() });
const versionsSchema = z.object({ stable: versionSchema, candidate: versionSchema });
/** What each version runs, as the last deploy recorded it. */
export type CanaryVersions = z.infer<typeof versionsSchema>;
export type VersionDescriptor = z.infer<typeof versionSchema>;

export interface CanaryPorts {
  readonly ssm: Pick<SSMClient, 'send'>;
  readonly cloudwatch: Pick<CloudWatchClient, 'send'>;
  /** For `promote` (the digest promotion checks the candidate's scan in ECR). */
  readonly ecr: ECRClient;
  /** Runs a command (`npx cdk deploy ...`) with inherited output; resolves to its exit code. */
  readonly run: (argv: readonly string[]) => Promise<number>;
  /** @default Date.now */
  readonly now?: () => number;
}

async function getParameter(ssm: CanaryPorts['ssm'], name: string, stage: string): Promise<string> {
  try {
    const out = await ssm.send(new GetParameterCommand({ Name: name }));
    return out.Parameter?.Value ?? '';
  } catch (err) {
    if (err instanceof Error && err.name === 'ParameterNotFound') {
      throw new CanaryCliError('not_deployed', `SSM parameter ${name} does not exist: stage ${stage} has no canary deployed (canary.enabled in its config), or the region is wrong (--region)`, { stage, parameter: name }, { cause: err });
    }
    throw new CanaryCliError('ssm_error', `GetParameter ${name} failed: ${errorMessage(err)}`, { stage, parameter: name }, { cause: err });
  }
}

/** The versions descriptor of a stage. */
export async function readVersions(ssm: CanaryPorts['ssm'], stage: string): Promise<CanaryVersions> {
  const name = canaryParameterNames(stage).versions;
  const raw = await getParameter(ssm, name, stage);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    json = undefined;
  }
  const parsed = versionsSchema.safeParse(json);
  if (!parsed.success) {
    throw new CanaryCliError('bad_versions', `SSM parameter ${name} does not describe the versions (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}); redeploy the stage to rewrite it`, { stage, parameter: name });
  }
  return parsed.data;
}

/** The current share (percent). */
export async function readShare(ssm: CanaryPorts['ssm'], stage: string): Promise<number> {
  const name = canaryParameterNames(stage).share;
  const raw = await getParameter(ssm, name, stage);
  const share = parseCanaryShare(raw);
  if (share === undefined) throw new CanaryCliError('bad_share', `SSM parameter ${name} holds ${JSON.stringify(raw.slice(0, 20))}, not a share; the intake keeps its last value. Set one with npm run canary -- abort --stage ${stage}`, { stage, parameter: name });
  return share;
}

/** The parameter text for a share: what the intake and the parameter's allowedPattern accept. */
export function shareValue(percent: number): string {
  const text = String(Math.round(percent * 100) / 100);
  if (!new RegExp(CANARY_SHARE_PATTERN).test(text)) {
    throw new CanaryCliError('bad_request', `--share ${percent} is not a share: use a percentage from 0 to 100 with at most two decimals`, { share: percent });
  }
  return text;
}

export async function setShare(ssm: CanaryPorts['ssm'], stage: string, percent: number): Promise<void> {
  const name = canaryParameterNames(stage).share;
  const value = shareValue(percent);
  try {
    await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }));
  } catch (err) {
    throw new CanaryCliError('ssm_error', `PutParameter ${name}=${value} failed: ${errorMessage(err)}`, { stage, parameter: name }, { cause: err });
  }
}

export interface StartRequest {
  readonly stage: PromoteStage;
  /** The candidate's image digest. */
  readonly digest: string;
  /** PROMPTS_DIR inside the candidate's image (e.g. dist/prompts-next). @default the image's own prompts */
  readonly prompts?: string;
  /** The model the candidate asks for. @default the stage's model */
  readonly model?: string;
  /** Percent of new tasks for the candidate, above 0. */
  readonly share: number;
  /** `-c configDir=` for the deploy. @default none (cdk's default, config/) */
  readonly configDir?: string;
  /** Print the deploy instead of running it. @default false */
  readonly printOnly?: boolean;
}

export type StartResult =
  /** The candidate runs what was asked and the share is set. */
  | { readonly kind: 'started'; readonly share: number; readonly deployed: boolean; readonly command?: string }
  /** `printOnly`: this deploy must run first; then run the same start again. */
  | { readonly kind: 'deploy_needed'; readonly command: string };

/** The `cdk deploy` that keeps the stable version and runs the candidate next to it. */
export function canaryDeployCommand(stage: string, stableDigest: string, candidate: { readonly digest: string; readonly prompts?: string; readonly model?: string }, configDir?: string): string {
  const parts = [
    `npx cdk deploy '${stage}/*'`,
    `-c imageDigest=${stableDigest}`,
    `-c ${CANARY_CONTEXT_KEYS.digest}=${candidate.digest}`,
    ...(candidate.prompts === undefined ? [] : [`-c ${CANARY_CONTEXT_KEYS.prompts}=${candidate.prompts}`]),
    ...(candidate.model === undefined ? [] : [`-c ${CANARY_CONTEXT_KEYS.model}=${candidate.model}`]),
    ...(configDir === undefined ? [] : [`-c configDir=${configDir}`]),
    '--require-approval never',
  ];
  return parts.join(' ');
}

/** The command as argv (no shell: the values were validated, and nothing is interpolated). */
function argvOf(command: string): string[] {
  return command.split(' ').map((part) => part.replace(/^'(.*)'$/, '$1'));
}

function runsCandidate(v: VersionDescriptor, req: Pick<StartRequest, 'digest' | 'prompts' | 'model'>): boolean {
  return v.digest === req.digest && v.promptsDir === req.prompts && (req.model === undefined || v.model === req.model);
}

function validateStart(req: StartRequest): void {
  if (!DIGEST.test(req.digest)) throw new CanaryCliError('bad_request', `--digest ${JSON.stringify(req.digest)} is not a digest: expected sha256: followed by 64 lowercase hex characters`, {});
  if (req.prompts !== undefined) {
    const ok = canaryConfigSchema.shape.promptsDir.unwrap().safeParse(req.prompts);
    if (!ok.success) throw new CanaryCliError('bad_request', `--prompts ${JSON.stringify(req.prompts)} ${ok.error.issues[0]?.message ?? 'is invalid'}`, {});
  }
  if (!(req.share > 0)) throw new CanaryCliError('bad_request', `--share ${req.share}: start needs a share above 0 (abort sets 0)`, {});
  shareValue(req.share);
}

/**
 * Run the candidate and give it its share. When the descriptor already shows the candidate (a
 * deploy ran), only the share is set; otherwise the deploy runs (or is printed) first, and the
 * share is set only once the descriptor confirms the candidate: tasks never go to a pool still
 * running the previous candidate.
 */
export async function startCanary(ports: CanaryPorts, req: StartRequest): Promise<StartResult> {
  validateStart(req);
  const before = await readVersions(ports.ssm, req.stage);
  if (runsCandidate(before.candidate, req)) {
    await setShare(ports.ssm, req.stage, req.share);
    return { kind: 'started', share: req.share, deployed: false };
  }
  const command = canaryDeployCommand(
    req.stage,
    before.stable.digest,
    { digest: req.digest, ...(req.prompts === undefined ? {} : { prompts: req.prompts }), ...(req.model === undefined ? {} : { model: req.model }) },
    req.configDir,
  );
  if (req.printOnly === true) return { kind: 'deploy_needed', command };
  const code = await ports.run(argvOf(command));
  if (code !== 0) throw new CanaryCliError('deploy_failed', `The deploy exited with ${code}; the share is unchanged. Fix the deploy and rerun: ${command}`, { stage: req.stage, code });
  const after = await readVersions(ports.ssm, req.stage);
  if (!runsCandidate(after.candidate, req)) {
    throw new CanaryCliError('not_running_candidate', `After the deploy, ${canaryParameterNames(req.stage).versions} still shows candidate ${JSON.stringify(after.candidate)}: the share is unchanged. Check that the deploy selected '${req.stage}/*' and that canary.enabled is true`, { stage: req.stage });
  }
  await setShare(ports.ssm, req.stage, req.share);
  return { kind: 'started', share: req.share, deployed: true, command };
}

/** Sets the share to 0: no new task goes to the candidate; its in-flight tasks finish. */
export async function abortCanary(ports: Pick<CanaryPorts, 'ssm'>, stage: string): Promise<{ readonly previousShare: number | undefined }> {
  // A malformed value is overwritten; a missing parameter (no canary in this stage or region) is not created.
  const previousShare = await readShare(ports.ssm, stage).catch((err: unknown) => {
    if (err instanceof CanaryCliError && err.type === 'bad_share') return undefined;
    throw err;
  });
  await setShare(ports.ssm, stage, 0);
  return { previousShare };
}

export interface PromoteCanaryRequest {
  readonly stage: PromoteStage;
  /** The stage's ECR repository. @default openclaw-<stage> (lib/stacks/registry-stack.ts) */
  readonly repository?: string;
  readonly registryId?: string;
  readonly configDir?: string;
  readonly printOnly?: boolean;
}

export interface PromoteCanaryResult {
  readonly plan: PromotePlan;
  readonly candidate: VersionDescriptor;
  readonly stable: VersionDescriptor;
  /** What the digest promotion does not carry (prompts dir, model): make it the stable's by config. */
  readonly notCarried: readonly string[];
  readonly deployed: boolean;
}

/**
 * Make the candidate the stable version through the digest promotion (tools/delivery/promote.ts):
 * the scan check first (a refusal changes nothing), then the share to 0, then the deploy of the
 * candidate's digest as the stable one without `-c canaryDigest` (the candidate pool goes back to
 * the stable digest and idles at share 0).
 */
export async function promoteCanary(ports: CanaryPorts, req: PromoteCanaryRequest): Promise<PromoteCanaryResult> {
  const { stable, candidate } = await readVersions(ports.ssm, req.stage);
  const plan = await planPromotion(ports.ecr, {
    repository: req.repository ?? `openclaw-${req.stage}`,
    digest: candidate.digest,
    stage: req.stage,
    ...(req.registryId === undefined ? {} : { registryId: req.registryId }),
  });
  const notCarried = [
    ...(candidate.promptsDir !== undefined && candidate.promptsDir !== stable.promptsDir ? [`prompts ${candidate.promptsDir}: ship them as the image's prompts/ in the next build`] : []),
    ...(candidate.model !== stable.model ? [`model ${candidate.model}: set "model" in config/${req.stage}.json`] : []),
  ];
  await setShare(ports.ssm, req.stage, 0);
  const command = req.configDir === undefined ? plan.command : `${plan.command} -c configDir=${req.configDir}`;
  const result = { plan: { ...plan, command }, candidate, stable, notCarried };
  if (req.printOnly === true) return { ...result, deployed: false };
  const code = await ports.run(argvOf(command));
  if (code !== 0) throw new CanaryCliError('deploy_failed', `The promotion deploy exited with ${code}; the share is 0 and the stable version unchanged. Fix it and rerun: ${command}`, { stage: req.stage, code });
  return { ...result, deployed: true };
}

export interface CanaryStatus {
  readonly stage: string;
  readonly share: number;
  readonly versions: CanaryVersions;
  readonly windowMinutes: number;
  readonly figures: CanaryFigures;
  readonly verdict: CanaryVerdict;
  /** Minutes until both versions have the minimum sample at the current pace; undefined: no pace (no task finished). */
  readonly minutesToDecision?: number;
  /** The rollback alarm's state, if it was found. */
  readonly alarmState?: string;
  readonly thresholds: CanaryThresholds;
}

/** The GetMetricData queries for every figure of both versions over one window. */
export function figureQueries(stage: string, windowMinutes: number): MetricDataQuery[] {
  return AGENT_VERSIONS.flatMap((version) =>
    FIGURES.map((figure) => ({
      Id: figureId(version, figure),
      ReturnData: true,
      MetricStat: {
        Metric: {
          Namespace: METRIC_NAMESPACE,
          MetricName: FIGURE_QUERIES[figure].metric,
          Dimensions: [
            { Name: DIMENSIONS.stage, Value: stage },
            { Name: DIMENSIONS.service, Value: SERVICES.worker },
            { Name: DIMENSIONS.agentVersion, Value: version },
          ],
        },
        Period: windowMinutes * 60,
        Stat: FIGURE_QUERIES[figure].stat,
      },
    })),
  );
}

/** Per-version figures over the last window, as the alarm sees them (a missing series reads 0). */
export async function readFigures(cloudwatch: CanaryPorts['cloudwatch'], stage: string, windowMinutes: number, now: number): Promise<CanaryFigures> {
  const values = new Map<string, number>();
  let nextToken: string | undefined;
  do {
    const out = await cloudwatch.send(
      new GetMetricDataCommand({
        MetricDataQueries: figureQueries(stage, windowMinutes),
        StartTime: new Date(now - windowMinutes * 60_000),
        EndTime: new Date(now),
        ScanBy: 'TimestampDescending',
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      }),
    );
    // Newest first: the most recent window-long period, the one the alarm evaluates.
    for (const r of out.MetricDataResults ?? []) {
      const latest = r.Values?.[0];
      if (r.Id !== undefined && latest !== undefined && !values.has(r.Id)) values.set(r.Id, latest);
    }
    nextToken = out.NextToken;
  } while (nextToken !== undefined);
  const of = (version: AgentVersion): VersionFigures =>
    Object.fromEntries(FIGURES.map((f) => [f, values.get(figureId(version, f)) ?? NO_FIGURES[f]])) as Record<Figure, number>;
  return { stable: of('stable'), candidate: of('candidate') };
}

/** Minutes until each version has `needed` more tasks at its pace in the window; the slower decides. */
export function minutesToDecision(verdict: CanaryVerdict, figures: CanaryFigures, windowMinutes: number): number | undefined {
  if (verdict.decision !== 'wait') return 0;
  let worst = 0;
  for (const v of AGENT_VERSIONS) {
    const needed = verdict.needed[v];
    if (needed === 0) continue;
    const perMinute = figures[v].tasks / windowMinutes;
    if (!(perMinute > 0)) return undefined;
    worst = Math.max(worst, needed / perMinute);
  }
  return worst;
}

export async function canaryStatus(ports: Pick<CanaryPorts, 'ssm' | 'cloudwatch' | 'now'>, stage: string, thresholds: CanaryThresholds): Promise<CanaryStatus> {
  const now = (ports.now ?? Date.now)();
  const [share, versions, figures] = await Promise.all([
    readShare(ports.ssm, stage),
    readVersions(ports.ssm, stage),
    readFigures(ports.cloudwatch, stage, thresholds.windowMinutes, now),
  ]);
  const verdict = decideCanary(figures, thresholds);
  const alarmName = `openclaw-${stage}-canary-regression`;
  const alarmState = await ports.cloudwatch
    .send(new DescribeAlarmsCommand({ AlarmNames: [alarmName] }))
    .then((out) => out.MetricAlarms?.[0]?.StateValue as string | undefined)
    .catch(() => undefined);
  const minutes = minutesToDecision(verdict, figures, thresholds.windowMinutes);
  return {
    stage,
    share,
    versions,
    windowMinutes: thresholds.windowMinutes,
    figures,
    verdict,
    thresholds,
    ...(minutes === undefined ? {} : { minutesToDecision: minutes }),
    ...(alarmState === undefined ? {} : { alarmState }),
  };
}

const FIGURE_FORMAT: Readonly<Record<Figure, { readonly label: string; readonly show: (n: number) => string }>> = {
  tasks: { label: 'finished tasks', show: (n) => String(Math.round(n)) },
  completionRate: { label: 'completion rate', show: (n) => `${(n * 100).toFixed(1)} %` },
  costPerTaskUsd: { label: 'cost per task', show: (n) => `$${n.toFixed(4)}` },
  toolCallsPerTask: { label: 'tool calls per task', show: (n) => n.toFixed(2) },
  p95DurationMs: { label: 'p95 duration', show: (n) => `${(n / 1000).toFixed(1)} s` },
};

function describeVersion(v: VersionDescriptor): string {
  return `${v.digest.slice(0, 19)}… model ${v.model}${v.promptsDir === undefined ? '' : `, prompts ${v.promptsDir}`}`;
}

/** The status as text (what `npm run canary -- status` prints). */
export function formatStatus(s: CanaryStatus): string {
  const rows = FIGURES.map((f) => {
    const { label, show } = FIGURE_FORMAT[f];
    const stable = s.figures.stable[f];
    const candidate = s.figures.candidate[f];
    const delta = f === 'tasks' || stable === 0 ? '' : `${candidate >= stable ? '+' : ''}${(((candidate - stable) / stable) * 100).toFixed(1)} %`;
    return [label, show(stable), show(candidate), delta];
  });
  const header = ['', 'stable', 'candidate', 'change'];
  const widths = [0, 1, 2, 3].map((i) => Math.max((header[i] ?? '').length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: readonly string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const t = s.thresholds;
  let decision: string;
  switch (s.verdict.decision) {
    case 'wait': {
      const needed = AGENT_VERSIONS.map((v) => `${v} ${s.verdict.decision === 'wait' ? s.verdict.needed[v] : 0}`).join(', ');
      const eta = s.minutesToDecision === undefined ? 'unknown: a version finished no task in the window (is the share above 0?)' : `about ${Math.ceil(s.minutesToDecision)} min at the current pace`;
      decision = `waiting: ${needed} more finished tasks needed (minimum ${t.minTasks} each in the window); time to decision ${eta}`;
      break;
    }
    case 'healthy':
      decision = 'healthy: the candidate is within every threshold; the alarm keeps comparing each window. Promote with npm run canary -- promote';
      break;
    case 'rollback':
      decision = `ROLLBACK: worse on ${s.verdict.regressions.join(', ')}; the alarm sets the share to 0 (or: npm run canary -- abort)`;
      break;
  }
  return [
    `stage ${s.stage}: candidate share ${s.share} %${s.alarmState === undefined ? '' : `, rollback alarm ${s.alarmState}`}`,
    `stable     ${describeVersion(s.versions.stable)}`,
    `candidate  ${describeVersion(s.versions.candidate)}`,
    `last ${s.windowMinutes} min (the alarm's window):`,
    fmt(header),
    ...rows.map(fmt),
    `thresholds: completion −${t.maxCompletionDrop * 100} points at ${t.completionZ} standard errors, cost +${t.maxCostIncrease * 100} %, tool calls +${t.maxToolCallsIncrease * 100} %, p95 +${t.maxP95DurationIncrease * 100} %`,
    decision,
    '',
  ].join('\n');
}
