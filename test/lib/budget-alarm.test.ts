import { App, Duration, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { METRICS, METRIC_NAMESPACE } from '../../runtime/src/shared/metrics-contract';
import { AgentAlarms } from '../../lib/constructs/agent-alarms';
import { AlarmTopics } from '../../lib/constructs/alarm-topics';
import { TaskQueues } from '../../lib/constructs/task-queues';
import { resourcesOf, synthStage } from './support/synth-stage';

type Alarm = Record<string, any>;

describe('budget-exceeded alarm (prod)', () => {
  const json = synthStage('prod').json.observability;
  const found = resourcesOf(json, 'AWS::CloudWatch::Alarm').filter(([, p]) => /ran out of a budget/.test(String(p['AlarmDescription'] ?? '')));

  it('GIVEN more than 5% of finished tasks over budget for 15 minutes WHEN evaluated THEN a ticket is filed', () => {
    expect(found).toHaveLength(1);
    const alarm = found[0]?.[1] as Alarm;
    expect(alarm).toMatchObject({ Threshold: 5, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 3, TreatMissingData: 'notBreaching' });
    expect(alarm['AlarmDescription']).toMatch(/^\[ticket\]/);
    expect(alarm['AlarmActions']).toEqual([{ Ref: expect.stringMatching(/^TopicsTicket/) }]);
    const stats = (alarm['Metrics'] as Alarm[]).filter((m) => m['MetricStat'] !== undefined).map((m) => m['MetricStat']['Metric']);
    expect(stats.map((m) => m['MetricName']).sort()).toEqual([METRICS.budgetExceeded, METRICS.tasksFailed, METRICS.tasksSucceeded].sort());
    for (const m of stats) {
      expect(m).toMatchObject({ Namespace: METRIC_NAMESPACE, Dimensions: [{ Name: 'Service', Value: 'worker' }, { Name: 'Stage', Value: 'prod' }] });
    }
  });
});

describe('AgentAlarms budgetExceededPercent', () => {
  it('GIVEN a percentage outside 1..100 WHEN created THEN it fails naming the prop', () => {
    const s = new Stack(new App(), 'S');
    const queues = new TaskQueues(s, 'Q', { encryptionKey: new kms.Key(s, 'K') });
    const create = () =>
      new AgentAlarms(s, 'A', {
        stage: 'dev',
        topics: new AlarmTopics(s, 'T', { aliasPrefix: 'openclaw/test' }),
        queues: { high: queues.high, normal: queues.normal, deadLetter: queues.deadLetter },
        queueAgeThreshold: Duration.minutes(8),
        p99TaskDurationThreshold: Duration.minutes(5),
        budgetExceededPercent: 0,
      });
    expect(create).toThrow(/AgentAlarms: budgetExceededPercent=0 is invalid; use a percentage from 1 to 100/);
  });
});
