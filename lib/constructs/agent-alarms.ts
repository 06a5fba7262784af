import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS, SERVICES } from '../../runtime/src/shared/metrics-contract';
import { requireProp } from '../errors';
import { appMetric, deadLetterDepth, ratio, taskCompletionRate } from './agent-metrics';
import type { AlarmTopics, Severity } from './alarm-topics';

export interface AgentAlarmsProps {
  /** Stage name, the `Stage` dimension of the runtime metrics. */
  readonly stage: string;
  readonly topics: AlarmTopics;
  readonly queues: { readonly high: sqs.IQueue; readonly normal: sqs.IQueue; readonly deadLetter: sqs.IQueue };
  /** Oldest-message age that means the workers are not keeping up (from the capacity plan). */
  readonly queueAgeThreshold: Duration;
  /** p99 task duration that raises a ticket (from the capacity plan). */
  readonly p99TaskDurationThreshold: Duration;
  /**
   * Share of gateway requests answered 429 that raises a ticket.
   * @default 0.05
   */
  readonly gateway429Ratio?: number;
  /**
   * Completion rate (percent) below which, for five consecutive minutes, someone is paged.
   * @default 90
   */
  readonly completionRateFloor?: number;
  /**
   * The lanes' redrive maxReceiveCount. A message received this many times minus one is one failure
   * from the DLQ, which raises a ticket before it lands there.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * Percent of finished tasks that ran out of a budget (BudgetExceeded) that raises a ticket: a
   * prompt, model or tool change that makes tasks costlier, or budgets set too tight.
   * @default 5
   */
  readonly budgetExceededPercent?: number;
}

/**
 * The share of the fleet's spend ceiling at which someone is paged (batch calls are already
 * refused by then); the dashboard draws the same line.
 */
export const SPEND_CEILING_PAGE_SHARE = 0.8;

/** A threshold alarm for AgentAlarms.add. */
export interface AgentAlarmSpec {
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  /** Consecutive breaching periods before it fires (datapoints to alarm is the same). */
  readonly evaluationPeriods: number;
  /** What happened and what to do; shown as the alarm description after `[severity]`. */
  readonly description: string;
  /** @default GREATER_THAN_THRESHOLD */
  readonly comparisonOperator?: cloudwatch.ComparisonOperator;
}

/**
 * The operational alarms of a stage, each routed by severity to the page or ticket topic.
 * Thresholds derive from the capacity plan and the metric names from the runtime's contract.
 * Missing data (no traffic) is healthy for every alarm.
 */
export class AgentAlarms extends Construct {
  /** Every alarm by name, for the dashboard's status widget. */
  readonly alarms: Record<string, cloudwatch.IAlarm> = {};
  private readonly topics: AlarmTopics;

  constructor(scope: Construct, id: string, props: AgentAlarmsProps) {
    super(scope, id);
    this.topics = props.topics;
    const gateway429Ratio = props.gateway429Ratio ?? 0.05;
    const completionRateFloor = props.completionRateFloor ?? 90;
    const maxReceiveCount = props.maxReceiveCount ?? 5;
    requireProp(gateway429Ratio > 0 && gateway429Ratio < 1, 'AgentAlarms', 'gateway429Ratio', gateway429Ratio, 'use a fraction between 0 and 1, e.g. 0.05');
    requireProp(Number.isInteger(maxReceiveCount) && maxReceiveCount >= 1, 'AgentAlarms', 'maxReceiveCount', maxReceiveCount, "pass the queues' maxReceiveCount, a whole number from 1");
    requireProp(completionRateFloor > 0 && completionRateFloor <= 100, 'AgentAlarms', 'completionRateFloor', completionRateFloor, 'use a percentage from 1 to 100');
    requireProp(props.queueAgeThreshold.toSeconds() >= 60, 'AgentAlarms', 'queueAgeThreshold', `${props.queueAgeThreshold.toSeconds()}s`, 'SQS reports age per minute: use at least 60 s');
    const minute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);
    const { stage } = props;

    this.add('CompletionRate', 'page', {
      metric: taskCompletionRate(stage, minute),
      threshold: completionRateFloor,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 5,
      description: `Task completion rate below ${completionRateFloor}% for 5 consecutive minutes`,
    });

    const age = (q: sqs.IQueue): cloudwatch.Metric => q.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: minute });
    this.add('QueueAge', 'page', {
      metric: new cloudwatch.MathExpression({
        expression: 'MAX([FILL(high, 0), FILL(normal, 0)])',
        usingMetrics: { high: age(props.queues.high), normal: age(props.queues.normal) },
        period: minute,
        label: 'Oldest task age (s)',
      }),
      threshold: props.queueAgeThreshold.toSeconds(),
      evaluationPeriods: 3,
      description: `Oldest queued task older than ${props.queueAgeThreshold.toSeconds()} s (latency goal + one task + scale-out time) for 3 minutes`,
    });

    // Queue age ignores messages received 3+ times, so a task looping toward the DLQ hides there.
    this.add('Redeliveries', 'ticket', {
      metric: appMetric(stage, SERVICES.worker, METRICS.messageReceiveCount, 'Maximum', fiveMinutes),
      threshold: Math.max(2, maxReceiveCount - 1),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      description: `A task message was received ${Math.max(2, maxReceiveCount - 1)}+ times (the DLQ takes it at ${maxReceiveCount}): it keeps failing`,
    });

    // Depth, not visible messages: the workers' dead-letter sweeper holds each message on every
    // pass, and the alarm must stay raised until an operator redrives or discards.
    this.add('DeadLetters', 'ticket', {
      metric: deadLetterDepth(props.queues.deadLetter, minute),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      description: 'A task reached the dead-letter queue (its row is FAILED dead_lettered): fix the cause, then npm run redrive, or purge',
    });

    this.add('CircuitOpen', 'page', {
      metric: appMetric(stage, SERVICES.gateway, METRICS.circuitOpen, 'Maximum', minute),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      description: 'The gateway circuit to the model API stayed open for 3 minutes: workers are paused',
    });

    // Self-contained: the gateway's share of the fleet's spend ceiling; at 80% batch is already refused.
    this.add('SpendCeiling80', 'page', {
      metric: appMetric(stage, SERVICES.gateway, METRICS.gatewaySpendCeilingUse, 'Maximum', minute),
      threshold: SPEND_CEILING_PAGE_SHARE,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      description: `Fleet LLM spend at ${SPEND_CEILING_PAGE_SHARE * 100}% or more of the stage ceiling (services.gateway.spendCeilingUsdPerHour) for 3 minutes: batch calls are refused, normal next`,
    });

    const admitted = appMetric(stage, SERVICES.gateway, METRICS.gatewayAdmitted, 'Sum', minute);
    const rejected = appMetric(stage, SERVICES.gateway, METRICS.gatewayRejected, 'Sum', minute);
    const requests = new cloudwatch.MathExpression({ expression: 'FILL(a, 0) + FILL(r, 0)', usingMetrics: { a: admitted, r: rejected }, period: minute });
    this.add('Gateway429Ratio', 'ticket', {
      metric: ratio(rejected, requests, { label: 'Gateway 429 ratio', period: minute }),
      threshold: gateway429Ratio,
      evaluationPeriods: 5,
      description: `More than ${gateway429Ratio * 100}% of gateway requests answered 429 for 5 minutes: raise the model tier limits or lower worker max`,
    });

    this.add('TaskDurationP99', 'ticket', {
      metric: appMetric(stage, SERVICES.worker, METRICS.taskDurationMs, 'p99', fiveMinutes),
      threshold: props.p99TaskDurationThreshold.toMilliseconds(),
      evaluationPeriods: 3,
      description: `p99 task duration above ${props.p99TaskDurationThreshold.toSeconds()} s for 15 minutes`,
    });

    const cost = new cloudwatch.AnomalyDetectionAlarm(this, 'CostPerTaskAnomaly', {
      metric: appMetric(stage, SERVICES.worker, METRICS.costPerTaskUsd, 'Average', fiveMinutes),
      stdDevs: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: 'Cost per task above its anomaly band for 15 minutes (prompt, model or tool-loop change?)',
    });
    this.register('CostPerTaskAnomaly', cost, 'ticket');

    this.addToolCallSpike(stage, 'ticket');

    const budgetExceededPercent = props.budgetExceededPercent ?? 5;
    requireProp(budgetExceededPercent > 0 && budgetExceededPercent <= 100, 'AgentAlarms', 'budgetExceededPercent', budgetExceededPercent, 'use a percentage from 1 to 100');
    const exceeded = appMetric(stage, SERVICES.worker, METRICS.budgetExceeded, 'Sum', fiveMinutes);
    const succeeded = appMetric(stage, SERVICES.worker, METRICS.tasksSucceeded, 'Sum', fiveMinutes);
    const failed = appMetric(stage, SERVICES.worker, METRICS.tasksFailed, 'Sum', fiveMinutes);
    const finished = new cloudwatch.MathExpression({ expression: 'FILL(ok, 0) + FILL(failed, 0)', usingMetrics: { ok: succeeded, failed }, period: fiveMinutes });
    this.add('BudgetExceededRate', 'ticket', {
      metric: ratio(exceeded, finished, { label: 'Tasks over budget (%)', period: fiveMinutes, scale: 100 }),
      threshold: budgetExceededPercent,
      evaluationPeriods: 3,
      description: `More than ${budgetExceededPercent}% of finished tasks ran out of a budget (error.type budget_exceeded) for 15 minutes: a prompt, model or tool change made tasks costlier, or key budgets are too tight`,
    });
  }

  /**
   * Add one agent alarm: a static threshold over `evaluationPeriods` consecutive breaching
   * periods, missing data healthy, description prefixed with its severity, routed through the
   * stage's topics and listed on the dashboard. New agent alarms (a spend ceiling, a bad provider
   * key) are one call from the constructor with a metric built in agent-metrics.ts; resource
   * alarms (queues, services, tables) belong in StandardMonitoring instead.
   */
  add(name: string, severity: Severity, opts: AgentAlarmSpec): void {
    const alarm = new cloudwatch.Alarm(this, name, {
      metric: opts.metric,
      threshold: opts.threshold,
      comparisonOperator: opts.comparisonOperator ?? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: opts.evaluationPeriods,
      datapointsToAlarm: opts.evaluationPeriods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `[${severity}] ${opts.description}`,
    });
    this.register(name, alarm, severity);
  }

  private register(name: string, alarm: cloudwatch.AlarmBase, severity: Severity): void {
    this.topics.route(alarm, severity);
    this.alarms[name] = alarm;
  }

  /**
   * Tool calls per task above twice their own 1-hour average. The two periods differ, which the
   * L2 MathExpression would flatten to one period, so this alarm is written at the L1 level. The
   * hourly series has one point an hour; FILL(…, REPEAT) carries it across the 5-minute points.
   */
  private addToolCallSpike(stage: string, severity: Severity): void {
    const stat = (id: string, period: Duration): cloudwatch.CfnAlarm.MetricDataQueryProperty => {
      const m = appMetric(stage, SERVICES.worker, METRICS.toolCallsPerTask, 'Average', period).toMetricConfig().metricStat;
      if (m === undefined) throw new Error('ToolCallsPerTask is a plain metric');
      return {
        id,
        returnData: false,
        metricStat: {
          metric: { namespace: m.namespace, metricName: m.metricName, dimensions: (m.dimensions ?? []).map((d) => ({ name: d.name, value: String(d.value) })) },
          period: period.toSeconds(),
          stat: m.statistic,
        },
      };
    };
    const alarm = new cloudwatch.CfnAlarm(this, 'ToolCallsSpike', {
      alarmDescription: `[${severity}] Tool calls per task above 2x their 1-hour average for 10 minutes (runaway tool loop?)`,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      threshold: 2,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      metrics: [
        stat('recent', Duration.minutes(5)),
        stat('hourly', Duration.hours(1)),
        { id: 'spike', expression: 'IF(FILL(hourly, REPEAT) > 0, recent / FILL(hourly, REPEAT), 0)', label: 'Tool calls vs 1-hour average', period: 300, returnData: true },
      ],
      alarmActions: this.topics.actionArns(severity),
      okActions: this.topics.actionArns(severity),
    });
    this.alarms.ToolCallsSpike = cloudwatch.Alarm.fromAlarmArn(this, 'ToolCallsSpikeRef', alarm.attrArn);
  }
}
