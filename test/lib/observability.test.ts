import { Match } from 'aws-cdk-lib/assertions';
import { METRICS, METRIC_NAMESPACE } from '../../runtime/src/shared/metrics-contract';
import { resourcesOf, synthStage } from './support/synth-stage';

const prod = synthStage('prod');
const observability = prod.templates.observability;
const json = prod.json.observability;

type Alarm = Record<string, any>;
function alarmByDescription(pattern: RegExp): Alarm {
  const found = resourcesOf(json, 'AWS::CloudWatch::Alarm').filter(([, p]) => pattern.test(String(p['AlarmDescription'] ?? '')));
  if (found.length !== 1) throw new Error(`expected one alarm matching ${pattern}, found ${found.length}`);
  return found[0]![1];
}
const topicRef = (name: 'Page' | 'Ticket') => [{ Ref: expect.stringMatching(new RegExp(`^Topics${name}`)) }];
const appMetricStat = (metricName: string, service: string) =>
  expect.objectContaining({
    MetricStat: expect.objectContaining({
      Metric: {
        Namespace: METRIC_NAMESPACE,
        MetricName: metricName,
        Dimensions: [
          { Name: 'Service', Value: service },
          { Name: 'Stage', Value: 'prod' },
        ],
      },
    }),
  });

describe('alarms (prod)', () => {
  test('GIVEN completion below 90% for 5 consecutive minutes WHEN evaluated THEN it pages', () => {
    const alarm = alarmByDescription(/Task completion rate below 90%/);
    expect(alarm).toMatchObject({ Threshold: 90, ComparisonOperator: 'LessThanThreshold', EvaluationPeriods: 5, DatapointsToAlarm: 5, TreatMissingData: 'notBreaching' });
    expect(alarm['AlarmActions']).toEqual(topicRef('Page'));
    expect(alarm['Metrics']).toEqual(expect.arrayContaining([appMetricStat(METRICS.tasksSucceeded, 'worker'), appMetricStat(METRICS.tasksFailed, 'worker')]));
    const stats = (alarm['Metrics'] as Alarm[]).filter((m) => m['MetricStat'] !== undefined);
    for (const m of stats) expect(m['MetricStat']['Period']).toBe(60);
  });

  test('GIVEN tool calls per task WHEN twice their 1-hour average THEN a ticket is filed', () => {
    const alarm = alarmByDescription(/Tool calls per task above 2x their 1-hour average/);
    expect(alarm).toMatchObject({ Threshold: 2, ComparisonOperator: 'GreaterThanThreshold' });
    expect(alarm['AlarmActions']).toEqual(topicRef('Ticket'));
    const periods = Object.fromEntries((alarm['Metrics'] as Alarm[]).filter((m) => m['MetricStat']).map((m) => [m['Id'], m['MetricStat']['Period']]));
    expect(periods).toEqual({ recent: 300, hourly: 3600 });
    // The hourly point is carried across the 5-minute points, not read as 0 between hours.
    const spike = (alarm['Metrics'] as Alarm[]).find((m) => m['ReturnData'] === true);
    expect(spike).toMatchObject({ Id: 'spike', Period: 300, Expression: 'IF(FILL(hourly, REPEAT) > 0, recent / FILL(hourly, REPEAT), 0)' });
    expect(alarm['Metrics']).toEqual(expect.arrayContaining([appMetricStat(METRICS.toolCallsPerTask, 'worker')]));
  });

  test('GIVEN cost per task WHEN it leaves its anomaly band THEN a ticket is filed', () => {
    const alarm = alarmByDescription(/Cost per task above its anomaly band/);
    expect(alarm['ComparisonOperator']).toBe('GreaterThanUpperThreshold');
    expect(alarm['ThresholdMetricId']).toBeDefined();
    expect(JSON.stringify(alarm['Metrics'])).toMatch(/ANOMALY_DETECTION_BAND\(m0, 3\)/);
    expect(alarm['Metrics']).toEqual(expect.arrayContaining([appMetricStat(METRICS.costPerTaskUsd, 'worker')]));
    expect(alarm['AlarmActions']).toEqual(topicRef('Ticket'));
  });

  test('GIVEN the oldest queued task WHEN older than latency goal + one task + scale-out THEN it pages', () => {
    const alarm = alarmByDescription(/Oldest queued task older than/);
    expect(alarm).toMatchObject({ Threshold: 300 + 60 + 120, EvaluationPeriods: 3 });
    expect(JSON.stringify(alarm['Metrics'])).toContain('ApproximateAgeOfOldestMessage');
    expect(alarm['AlarmActions']).toEqual(topicRef('Page'));
  });

  test('GIVEN any message in the DLQ, visible or held by a sweeper WHEN evaluated THEN a ticket is filed', () => {
    const alarm = alarmByDescription(/dead-letter queue/);
    expect(alarm).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 1 });
    // The workers' dead-letter sweeper holds each message on every pass: visible + not visible.
    const stats = (alarm['Metrics'] as Alarm[]).filter((m) => m['MetricStat'] !== undefined).map((m) => m['MetricStat']['Metric']);
    expect(stats.map((m) => m['MetricName']).sort()).toEqual(['ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesVisible']);
    for (const m of stats) expect(JSON.stringify(m['Dimensions'])).toMatch(/QueuesDeadLetter/);
    expect(alarm['AlarmActions']).toEqual(topicRef('Ticket'));
  });

  test('GIVEN a task message received maxReceiveCount - 1 times WHEN evaluated THEN a ticket is filed before it reaches the DLQ', () => {
    // Queue age ignores messages received 3+ times, so the receive count is the only early signal.
    const alarm = alarmByDescription(/was received 4\+ times \(the DLQ takes it at 5\)/);
    expect(alarm).toMatchObject({
      MetricName: METRICS.messageReceiveCount,
      Namespace: METRIC_NAMESPACE,
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 4,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
    });
    expect(alarm['Dimensions']).toEqual([
      { Name: 'Service', Value: 'worker' },
      { Name: 'Stage', Value: 'prod' },
    ]);
    expect(alarm['AlarmActions']).toEqual(topicRef('Ticket'));
  });

  test('GIVEN the gateway circuit open WHEN for 3 minutes THEN it pages', () => {
    const alarm = alarmByDescription(/circuit to the model API/);
    expect(alarm).toMatchObject({ MetricName: METRICS.circuitOpen, Namespace: METRIC_NAMESPACE, Threshold: 1, EvaluationPeriods: 3 });
    expect(alarm['AlarmActions']).toEqual(topicRef('Page'));
  });

  test('GIVEN the gateway 429 share WHEN above the stage ratio THEN a ticket is filed', () => {
    const alarm = alarmByDescription(/gateway requests answered 429/);
    expect(alarm['Threshold']).toBe(0.05);
    expect(alarm['Metrics']).toEqual(expect.arrayContaining([appMetricStat(METRICS.gatewayRejected, 'gateway'), appMetricStat(METRICS.gatewayAdmitted, 'gateway')]));
  });

  test('GIVEN the p99 task duration WHEN above five average tasks THEN a ticket is filed', () => {
    const alarm = alarmByDescription(/p99 task duration/);
    expect(alarm).toMatchObject({ MetricName: METRICS.taskDurationMs, ExtendedStatistic: 'p99', Threshold: 300_000 });
  });

  test('GIVEN a task stopped for OOM WHEN ECS reports it THEN the rule notifies the ticket topic and an alarm records it', () => {
    observability.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ecs'],
        'detail-type': ['ECS Task State Change'],
        detail: { lastStatus: ['STOPPED'], containers: { reason: [{ prefix: 'OutOfMemory' }] }, clusterArn: Match.anyValue() },
      },
      Targets: [Match.objectLike({ Arn: { Ref: Match.stringLikeRegexp('^TopicsTicket') } })],
    });
    observability.hasResourceProperties('AWS::CloudWatch::Alarm', { Namespace: 'AWS/Events', MetricName: 'MatchedEvents', Threshold: 1 });
  });

  test('GIVEN the topics WHEN created THEN they are KMS-encrypted and CloudWatch and EventBridge may use the key', () => {
    observability.resourceCountIs('AWS::SNS::Topic', 2);
    observability.allResourcesProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    const keyPolicy = JSON.stringify(resourcesOf(json, 'AWS::KMS::Key')[0]?.[1]['KeyPolicy']);
    expect(keyPolicy).toContain('cloudwatch.amazonaws.com');
    expect(keyPolicy).toContain('events.amazonaws.com');
  });

  test('GIVEN the dashboard WHEN created THEN it shows alarms, outcomes, queues, gateway and fleet', () => {
    const body = JSON.stringify(resourcesOf(json, 'AWS::CloudWatch::Dashboard')[0]?.[1]['DashboardBody']);
    for (const title of ['Alarms', 'Task completion rate', 'Task duration', 'Oldest task age', 'Backlog per worker', 'Gateway admissions', 'Running tasks']) {
      expect(body).toContain(title);
    }
  });

  test('GIVEN the dashboard WHEN created THEN every agent metric from the contract is plotted: tokens, tool calls, finish reasons, retries, context use, cost', () => {
    const body = JSON.stringify(resourcesOf(json, 'AWS::CloudWatch::Dashboard')[0]?.[1]['DashboardBody']);
    const agentMetrics = [
      METRICS.tasksSucceeded,
      METRICS.tasksFailed,
      METRICS.inputTokensPerTask,
      METRICS.outputTokensPerTask,
      METRICS.toolCallsPerTask,
      METRICS.finishReason,
      METRICS.llmRetries,
      METRICS.contextUtilisation,
      METRICS.costPerTaskUsd,
    ];
    for (const name of agentMetrics) expect(body).toContain(name);
    // Finish reasons come from their [Stage, Service, FinishReason] rollup, one line per reason.
    expect(body).toMatch(/SEARCH\('\{OpenClaw,Stage,Service,FinishReason\} MetricName=\\+"FinishReasonCount\\+" Stage=\\+"prod\\+" Service=\\+"worker\\+"', 'Sum', 300\)/);
    expect(body).toContain("${PROP('Dim.FinishReason')}");
  });
});

describe('approvals on the dashboard (prod)', () => {
  test('GIVEN the dashboard WHEN created THEN it plots approvals pending and the oldest pending age, as the fleet maximum of the workers\' gauges', () => {
    const body = JSON.stringify(resourcesOf(json, 'AWS::CloudWatch::Dashboard')[0]?.[1]['DashboardBody']);
    expect(body).toContain('Approvals pending');
    expect(body).toContain('Oldest pending approval (s)');
    for (const name of [METRICS.approvalsPending, METRICS.approvalOldestPendingSeconds]) {
      expect(body).toMatch(new RegExp(`OpenClaw\\W+${name}\\W+Service\\W+worker\\W+Stage\\W+prod\\W+period\\W+60\\W+stat\\W+Maximum`));
    }
  });
});

describe('standard resource monitoring (cdk-monitoring-constructs, prod)', () => {
  const alarms = resourcesOf(json, 'AWS::CloudWatch::Alarm').map(([, p]) => p);
  const named = (pattern: RegExp) => alarms.filter((p) => pattern.test(String(p['AlarmName'] ?? '')));

  test('GIVEN the two tables WHEN synthesized THEN read and write throttles and system errors file tickets, with deterministic names', () => {
    const throttles = alarms.filter((p) => ['ReadThrottleEvents', 'WriteThrottleEvents'].includes(String(p['MetricName'] ?? '')) || /ThrottleEvents|Throttled/.test(JSON.stringify(p['Metrics'] ?? '')));
    expect(throttles.length).toBeGreaterThanOrEqual(4);
    for (const p of throttles) {
      expect(String(p['AlarmName'])).toMatch(/^openclaw-prod-/);
      expect(p['AlarmActions']).toEqual(topicRef('Ticket'));
      expect(p['DatapointsToAlarm']).toBe(3);
    }
    expect(alarms.filter((p) => /SystemErrors/.test(JSON.stringify(p)))).toHaveLength(2);
  });

  test('GIVEN the three services WHEN synthesized THEN memory above 90% files a ticket for each, once', () => {
    const memory = alarms.filter((p) => /MemoryUtilization/.test(JSON.stringify(p)) && /Memory/i.test(String(p['AlarmName'])));
    expect(memory).toHaveLength(3);
    for (const p of memory) {
      expect(p['Threshold']).toBe(90);
      expect(p['AlarmActions']).toEqual(topicRef('Ticket'));
    }
  });

  test('GIVEN the intake target groups WHEN a target stays unhealthy THEN a ticket is filed', () => {
    const unhealthy = alarms.filter((p) => /UnHealthyHostCount/.test(JSON.stringify(p)));
    expect(unhealthy.length).toBe(2);
    for (const p of unhealthy) expect(p['AlarmActions']).toEqual(topicRef('Ticket'));
  });

  test('GIVEN the dashboard WHEN created THEN the standard queue, service and table sections follow the agent rows, with no second dashboard', () => {
    expect(resourcesOf(json, 'AWS::CloudWatch::Dashboard')).toHaveLength(1);
    const body = JSON.stringify(resourcesOf(json, 'AWS::CloudWatch::Dashboard')[0]?.[1]['DashboardBody']);
    for (const title of ['Queues', 'High lane', 'Normal lane', 'Services', 'Agent workers', 'LLM gateway', 'Tables']) expect(body).toContain(title);
    expect(named(/^openclaw-prod-/).length).toBeGreaterThan(0);
  });
});

describe('alarm routing differs by stage', () => {
  test('GIVEN staging WHEN a page-severity alarm fires THEN it files a ticket instead', () => {
    const staging = synthStage('staging').json.observability;
    const completion = resourcesOf(staging, 'AWS::CloudWatch::Alarm').find(([, p]) => /completion rate/.test(String(p['AlarmDescription'])));
    expect(completion?.[1]['AlarmActions']).toEqual(topicRef('Ticket'));
  });

  test('GIVEN dev WHEN alarms fire THEN they only record state', () => {
    const dev = synthStage('dev').json.observability;
    const withActions = resourcesOf(dev, 'AWS::CloudWatch::Alarm').filter(([, p]) => (p['AlarmActions'] ?? []).length > 0);
    expect(withActions).toEqual([]);
  });
});
