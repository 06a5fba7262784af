/**
 * The canary commands against an in-memory parameter store and metric source (neither SSM nor
 * CloudWatch has an emulator in this repository: test/support provides DynamoDB Local and fauxqs
 * only), with ECR through aws-sdk-client-mock as in promote.test.ts. The fakes behave as the
 * services do where it matters here: GetParameter of a missing name throws ParameterNotFound,
 * PutParameter enforces the share parameter's allowedPattern, and GetMetricData answers each
 * query from its metric, dimensions and statistic (not its ID), so a wrong query reads nothing.
 */
import { DescribeAlarmsCommand, GetMetricDataCommand, type CloudWatchClient, type MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import { DescribeImageScanFindingsCommand, DescribeImagesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIGURES, FIGURE_QUERIES, type CanaryFigures } from '../../lib/canary/rollback-rule';
import { DEFAULT_CANARY_THRESHOLDS } from '../../lib/config/canary';
import { canaryParameterNames } from '../../lib/constructs/agent-canary-pool';
import { CANARY_SHARE_PATTERN } from '../../runtime/src/shared/agent-version';
import { DIMENSIONS, METRIC_NAMESPACE, SERVICES } from '../../runtime/src/shared/metrics-contract';
import { canaryStatus, formatStatus, minutesToDecision, startCanary, type CanaryPorts } from '../../tools/delivery/canary';
import { canaryCli } from '../../tools/delivery/canary-cli';
import { deployCommand } from '../../tools/delivery/promote';

const STAGE = 'prod';
const NAMES = canaryParameterNames(STAGE);
const STABLE = `sha256:${'a'.repeat(64)}`;
const CANDIDATE = `sha256:${'c'.repeat(64)}`;
const NOW = Date.parse('2026-11-30T09:00:00Z');

interface RecordedCase {
  readonly name: string;
  readonly expected: 'wait' | 'healthy' | 'rollback';
  readonly regressions?: readonly string[];
  readonly figures: CanaryFigures;
}
const recorded = (JSON.parse(readFileSync(join(__dirname, '..', 'lib', 'fixtures', 'canary-figures.json'), 'utf8')) as { cases: RecordedCase[] }).cases;

/** SSM Parameter Store in memory, with the share parameter's allowedPattern as the stack sets it. */
class FakeSsm {
  readonly params = new Map<string, string>();
  readonly puts: Array<{ name: string; value: string }> = [];
  readonly patterns = new Map<string, RegExp>([[NAMES.share, new RegExp(CANARY_SHARE_PATTERN)]]);

  async send(command: unknown): Promise<unknown> {
    if (command instanceof GetParameterCommand) {
      const value = this.params.get(command.input.Name ?? '');
      if (value === undefined) throw Object.assign(new Error(`Parameter ${command.input.Name} not found`), { name: 'ParameterNotFound' });
      return { Parameter: { Name: command.input.Name, Value: value } };
    }
    if (command instanceof PutParameterCommand) {
      const { Name = '', Value = '', Overwrite } = command.input;
      if (this.params.has(Name) && Overwrite !== true) throw Object.assign(new Error('exists'), { name: 'ParameterAlreadyExists' });
      if (this.patterns.get(Name)?.test(Value) === false) throw Object.assign(new Error(`Parameter value, ${Value}, failed to satisfy constraint`), { name: 'ParameterPatternMismatchException' });
      this.params.set(Name, Value);
      this.puts.push({ name: Name, value: Value });
      return {};
    }
    throw new Error(`FakeSsm: unexpected ${String(command)}`);
  }

  versions(candidate: { digest: string; promptsDir?: string; model?: string }): void {
    this.params.set(NAMES.versions, JSON.stringify({ stable: { digest: STABLE, model: 'claude-sonnet-5' }, candidate: { model: 'claude-sonnet-5', ...candidate } }));
  }
}

/** CloudWatch answering GetMetricData from recorded per-version figures, by what each query asks for. */
class FakeCloudWatch {
  readonly queries: MetricDataQuery[][] = [];
  constructor(
    private readonly figures: CanaryFigures,
    private readonly alarmState = 'OK',
  ) {}

  async send(command: unknown): Promise<unknown> {
    if (command instanceof GetMetricDataCommand) {
      const queries = command.input.MetricDataQueries ?? [];
      this.queries.push(queries);
      return {
        MetricDataResults: queries.map((q) => {
          const metric = q.MetricStat?.Metric;
          const dims = Object.fromEntries((metric?.Dimensions ?? []).map((d) => [d.Name, d.Value]));
          const version = dims[DIMENSIONS.agentVersion] as 'stable' | 'candidate' | undefined;
          const figure = FIGURES.find((f) => FIGURE_QUERIES[f].metric === metric?.MetricName && FIGURE_QUERIES[f].stat === q.MetricStat?.Stat);
          const ours = metric?.Namespace === METRIC_NAMESPACE && dims[DIMENSIONS.stage] === STAGE && dims[DIMENSIONS.service] === SERVICES.worker;
          const value = ours && version !== undefined && figure !== undefined ? this.figures[version][figure] : undefined;
          return { Id: q.Id, Timestamps: value === undefined ? [] : [new Date(NOW - 60_000)], Values: value === undefined ? [] : [value] };
        }),
      };
    }
    if (command instanceof DescribeAlarmsCommand) return { MetricAlarms: [{ AlarmName: command.input.AlarmNames?.[0], StateValue: this.alarmState }] };
    throw new Error(`FakeCloudWatch: unexpected ${String(command)}`);
  }
}

const ecrMock = mockClient(ECRClient);
const ecr = new ECRClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });

function ports(ssm: FakeSsm, cloudwatch = new FakeCloudWatch(recorded[0]?.figures as CanaryFigures), onRun: (argv: readonly string[]) => number = () => 0) {
  const runs: string[][] = [];
  const p: CanaryPorts = {
    ssm: ssm as unknown as Pick<SSMClient, 'send'>,
    cloudwatch: cloudwatch as unknown as Pick<CloudWatchClient, 'send'>,
    ecr,
    run: async (argv) => {
      runs.push([...argv]);
      return onRun(argv);
    },
    now: () => NOW,
  };
  return { ports: p, runs };
}

async function cli(argv: string[], p: CanaryPorts): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await canaryCli(argv, { out: (s) => (out += s), err: (s) => (err += s), ports: () => p });
  return { code, out, err };
}

function deployedStage(): FakeSsm {
  const ssm = new FakeSsm();
  ssm.params.set(NAMES.share, '0');
  ssm.versions({ digest: STABLE });
  return ssm;
}

beforeEach(() => ecrMock.reset());

describe('canary start', () => {
  test('GIVEN the candidate is not deployed WHEN started THEN the deploy runs with the stable digest kept, and the share is set only after the descriptor shows the candidate', async () => {
    const ssm = deployedStage();
    // The deploy rewrites the descriptor, as the stack's Versions parameter does.
    const { ports: p, runs } = ports(ssm, undefined, () => {
      ssm.versions({ digest: CANDIDATE, promptsDir: 'dist/prompts-next' });
      return 0;
    });
    const { code, out } = await cli(['start', '--stage', STAGE, '--digest', CANDIDATE, '--prompts', 'dist/prompts-next', '--share', '10'], p);
    expect(code).toBe(0);
    expect(runs).toEqual([['npx', 'cdk', 'deploy', `${STAGE}/*`, '-c', `imageDigest=${STABLE}`, '-c', `canaryDigest=${CANDIDATE}`, '-c', 'canaryPrompts=dist/prompts-next', '--require-approval', 'never']]);
    expect(ssm.params.get(NAMES.share)).toBe('10');
    expect(out).toMatch(/deployed the candidate; share set to 10 %/);
  });

  test('GIVEN --print WHEN the candidate is not deployed THEN the deploy is printed, nothing runs and the share stays 0 (exit 3)', async () => {
    const ssm = deployedStage();
    const { ports: p, runs } = ports(ssm);
    const { code, out } = await cli(['start', '--stage', STAGE, '--digest', CANDIDATE, '--share', '10', '--print'], p);
    expect(code).toBe(3);
    expect(out).toContain(`npx cdk deploy '${STAGE}/*' -c imageDigest=${STABLE} -c canaryDigest=${CANDIDATE} --require-approval never`);
    expect(runs).toEqual([]);
    expect(ssm.params.get(NAMES.share)).toBe('0');
  });

  test('GIVEN the candidate already runs WHEN started THEN only the share is set', async () => {
    const ssm = deployedStage();
    ssm.versions({ digest: CANDIDATE });
    const { ports: p, runs } = ports(ssm);
    const result = await startCanary(p, { stage: STAGE, digest: CANDIDATE, share: 2.5 });
    expect(result).toEqual({ kind: 'started', share: 2.5, deployed: false });
    expect(runs).toEqual([]);
    expect(ssm.puts).toEqual([{ name: NAMES.share, value: '2.5' }]);
  });

  test.each([
    ['the deploy fails', () => 1, /exited with 1; the share is unchanged/],
    ['the deploy leaves the descriptor on the old candidate', () => 0, /still shows candidate/],
  ])('GIVEN %s WHEN started THEN it is refused and the share stays 0', async (_name, onRun, message) => {
    const ssm = deployedStage();
    const { ports: p } = ports(ssm, undefined, onRun);
    const { code, err } = await cli(['start', '--stage', STAGE, '--digest', CANDIDATE, '--share', '10'], p);
    expect(code).toBe(1);
    expect(err).toMatch(message);
    expect(ssm.puts).toEqual([]);
  });

  test.each([
    [['start', '--stage', STAGE, '--digest', 'sha256:abc', '--share', '10'], /not a digest/],
    [['start', '--stage', STAGE, '--digest', CANDIDATE, '--share', '0'], /above 0/],
    [['start', '--stage', STAGE, '--digest', CANDIDATE, '--share', '150'], /--share/],
    [['start', '--stage', STAGE, '--digest', CANDIDATE, '--share', '10', '--prompts', 'prompts; rm -rf /'], /--prompts/],
    [['start', '--stage', STAGE, '--share', '10'], /needs --digest/],
    [['launch', '--stage', STAGE], /--command/],
    [['status', '--stage', 'qa'], /--stage/],
  ])('GIVEN bad arguments %j WHEN run THEN exit 2 with the reason and nothing changes', async (argv, message) => {
    const ssm = deployedStage();
    const { ports: p, runs } = ports(ssm);
    const { code, err } = await cli(argv, p);
    expect(code).toBe(2);
    expect(err).toMatch(message);
    expect(ssm.puts).toEqual([]);
    expect(runs).toEqual([]);
  });

  test('GIVEN a stage without a canary WHEN started THEN the error says the parameter is missing and why', async () => {
    const { ports: p } = ports(new FakeSsm());
    const { code, err } = await cli(['start', '--stage', STAGE, '--digest', CANDIDATE, '--share', '10'], p);
    expect(code).toBe(1);
    expect(err).toMatch(/not_deployed.*\/openclaw\/prod\/canary\/versions does not exist/);
  });
});

describe('canary abort', () => {
  test('GIVEN a share of 10 WHEN aborted THEN the share is 0 and the output says in-flight tasks finish', async () => {
    const ssm = deployedStage();
    ssm.params.set(NAMES.share, '10');
    const { ports: p } = ports(ssm);
    const { code, out } = await cli(['abort', '--stage', STAGE], p);
    expect(code).toBe(0);
    expect(ssm.params.get(NAMES.share)).toBe('0');
    expect(out).toMatch(/share 10 % -> 0 %.*in-flight tasks finish/);
  });
});

describe('canary abort elsewhere', () => {
  test('GIVEN a stage without the share parameter WHEN aborted THEN it is refused and no parameter is created', async () => {
    const ssm = new FakeSsm();
    const { code, err } = await cli(['abort', '--stage', STAGE], ports(ssm).ports);
    expect(code).toBe(1);
    expect(err).toMatch(/not_deployed/);
    expect(ssm.puts).toEqual([]);
  });

  test('GIVEN a malformed share WHEN aborted THEN it is overwritten with 0', async () => {
    const ssm = deployedStage();
    ssm.params.set(NAMES.share, 'ten');
    const { code } = await cli(['abort', '--stage', STAGE], ports(ssm).ports);
    expect(code).toBe(0);
    expect(ssm.params.get(NAMES.share)).toBe('0');
  });
});

describe('canary status', () => {
  test.each(recorded.map((c) => [c.name, c] as const))('GIVEN recorded figures (%s) WHEN read from CloudWatch THEN the verdict is the rule\'s', async (_name, c) => {
    const ssm = deployedStage();
    ssm.params.set(NAMES.share, '10');
    ssm.versions({ digest: CANDIDATE });
    const cloudwatch = new FakeCloudWatch(c.figures, c.expected === 'rollback' ? 'ALARM' : 'OK');
    const { ports: p } = ports(ssm, cloudwatch);
    const status = await canaryStatus(p, STAGE, DEFAULT_CANARY_THRESHOLDS);
    expect(status.figures).toEqual(c.figures);
    expect(status.verdict.decision).toBe(c.expected);
    if (status.verdict.decision === 'rollback') expect([...status.verdict.regressions].sort()).toEqual([...(c.regressions ?? [])].sort());
    expect(status.alarmState).toBe(c.expected === 'rollback' ? 'ALARM' : 'OK');
  });

  test('GIVEN the status WHEN queried THEN every figure of both versions is read over the alarm\'s window on [Stage, Service=worker, AgentVersion]', async () => {
    const ssm = deployedStage();
    const cloudwatch = new FakeCloudWatch(recorded[1]?.figures as CanaryFigures);
    await canaryStatus(ports(ssm, cloudwatch).ports, STAGE, DEFAULT_CANARY_THRESHOLDS);
    const queries = cloudwatch.queries[0] ?? [];
    expect(queries).toHaveLength(FIGURES.length * 2);
    for (const q of queries) expect(q.MetricStat?.Period).toBe(DEFAULT_CANARY_THRESHOLDS.windowMinutes * 60);
    expect(new Set(queries.map((q) => q.MetricStat?.Metric?.Dimensions?.find((d) => d.Name === DIMENSIONS.agentVersion)?.Value))).toEqual(new Set(['stable', 'candidate']));
  });

  test('GIVEN too few candidate tasks WHEN formatted THEN it shows shares, both versions\' figures and the time to decision from the candidate\'s pace', async () => {
    const c = recorded.find((r) => r.expected === 'wait');
    if (c === undefined) throw new Error('no waiting case recorded');
    const ssm = deployedStage();
    ssm.params.set(NAMES.share, '10');
    ssm.versions({ digest: CANDIDATE, promptsDir: 'dist/prompts-next' });
    const status = await canaryStatus(ports(ssm, new FakeCloudWatch(c.figures)).ports, STAGE, DEFAULT_CANARY_THRESHOLDS);
    const t = DEFAULT_CANARY_THRESHOLDS;
    const needed = t.minTasks - c.figures.candidate.tasks;
    const minutes = needed / (c.figures.candidate.tasks / t.windowMinutes);
    expect(status.minutesToDecision).toBeCloseTo(minutes, 6);
    const text = formatStatus(status);
    expect(text).toContain('candidate share 10 %');
    expect(text).toContain('prompts dist/prompts-next');
    expect(text).toMatch(new RegExp(`finished tasks\\s+${c.figures.stable.tasks}\\s+${c.figures.candidate.tasks}`));
    expect(text).toContain(`candidate ${needed} more finished tasks needed`);
    expect(text).toContain(`about ${Math.ceil(minutes)} min at the current pace`);
  });

  test('GIVEN no candidate task finished WHEN the time to decision is asked THEN it is unknown, not zero', () => {
    const figures: CanaryFigures = { stable: { tasks: 50, completionRate: 0.96, costPerTaskUsd: 0.05, toolCallsPerTask: 3, p95DurationMs: 1e5 }, candidate: { tasks: 0, completionRate: 0, costPerTaskUsd: 0, toolCallsPerTask: 0, p95DurationMs: 0 } };
    expect(minutesToDecision({ decision: 'wait', needed: { stable: 0, candidate: 30 } }, figures, 30)).toBeUndefined();
    expect(minutesToDecision({ decision: 'healthy' }, figures, 30)).toBe(0);
  });

  test('GIVEN a rollback WHEN printed by the CLI THEN it names the regressions', async () => {
    const c = recorded.find((r) => r.expected === 'rollback');
    const ssm = deployedStage();
    const { code, out } = await cli(['status', '--stage', STAGE], ports(ssm, new FakeCloudWatch(c?.figures as CanaryFigures, 'ALARM')).ports);
    expect(code).toBe(0);
    expect(out).toMatch(/rollback alarm ALARM/);
    expect(out).toMatch(new RegExp(`ROLLBACK: worse on ${(c?.regressions ?? []).join(', ')}`));
  });
});

describe('canary promote', () => {
  function scanned(critical: number): void {
    ecrMock.on(DescribeImagesCommand).resolves({ imageDetails: [{ imageDigest: CANDIDATE, imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json' }] });
    ecrMock.on(DescribeImageScanFindingsCommand).resolves({ imageScanStatus: { status: 'COMPLETE' }, imageScanFindings: { findingSeverityCounts: critical > 0 ? { CRITICAL: critical } : { HIGH: 1 } } });
  }

  test('GIVEN a scanned candidate WHEN promoted THEN the share goes to 0 and the digest promotion\'s deploy runs with the candidate as stable', async () => {
    scanned(0);
    const ssm = deployedStage();
    ssm.params.set(NAMES.share, '10');
    ssm.versions({ digest: CANDIDATE, model: 'claude-opus-5' });
    const { ports: p, runs } = ports(ssm);
    const { code, out } = await cli(['promote', '--stage', STAGE], p);
    expect(code).toBe(0);
    expect(ssm.params.get(NAMES.share)).toBe('0');
    expect(runs).toEqual([deployCommand(STAGE, CANDIDATE).split(' ').map((s) => s.replace(/^'(.*)'$/, '$1'))]);
    expect(ecrMock.commandCalls(DescribeImagesCommand)[0]?.args[0].input).toMatchObject({ repositoryName: `openclaw-${STAGE}`, imageIds: [{ imageDigest: CANDIDATE }] });
    expect(out).toMatch(/not carried by the digest: model claude-opus-5/);
  });

  test('GIVEN a candidate with CRITICAL findings WHEN promoted THEN it is refused before anything changes', async () => {
    scanned(2);
    const ssm = deployedStage();
    ssm.params.set(NAMES.share, '10');
    ssm.versions({ digest: CANDIDATE });
    const { ports: p, runs } = ports(ssm);
    const { code, err } = await cli(['promote', '--stage', STAGE], p);
    expect(code).toBe(1);
    expect(err).toMatch(/critical_findings/);
    expect(ssm.params.get(NAMES.share)).toBe('10');
    expect(runs).toEqual([]);
  });
});
