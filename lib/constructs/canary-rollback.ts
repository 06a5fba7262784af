import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AGENT_VERSIONS } from '../../runtime/src/shared/agent-version';
import { FIGURES, FIGURE_QUERIES, canaryRule, figureId, renderMetricMath, rollbackExpression } from '../canary/rollback-rule';
import { ROLLBACK_HANDLER_ENV, ROLLBACK_HANDLER_SOURCE } from '../canary/rollback-handler';
import { versionMetric } from '../canary/canary-metrics';
import type { CanaryThresholds } from '../config/canary';
import type { AlarmTopics } from './alarm-topics';

export interface CanaryRollbackProps {
  readonly stage: string;
  readonly thresholds: CanaryThresholds;
  /** Name of the share parameter (AgentCanaryPool.share); the rollback writes "0" to it. */
  readonly shareParameterName: string;
  /** The comparison alarm pages through the stage's page route. */
  readonly topics: AlarmTopics;
  /** Fixed alarm name prefix, e.g. `openclaw-prod`. */
  readonly alarmNamePrefix: string;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Compares the candidate with the stable version and rolls the candidate back by itself: one
 * metric-math alarm (the rule of lib/canary/rollback-rule.ts, rendered) over the two versions'
 * figures in a sliding window, a page through the stage's page route, and an EventBridge rule that
 * runs a small Lambda setting the share to 0 when the alarm enters ALARM.
 */
export class CanaryRollback extends Construct {
  readonly alarm: cloudwatch.Alarm;
  readonly handler: lambda.Function;
  /** The alarm's metric-math expression (tests compare it with the rule). */
  readonly expression: string;

  constructor(scope: Construct, id: string, props: CanaryRollbackProps) {
    super(scope, id);
    const window = Duration.minutes(props.thresholds.windowMinutes);
    const usingMetrics: Record<string, cloudwatch.IMetric> = {};
    for (const version of AGENT_VERSIONS) {
      for (const figure of FIGURES) {
        const q = FIGURE_QUERIES[figure];
        usingMetrics[figureId(version, figure)] = versionMetric(props.stage, version, q.metric, q.stat, window);
      }
    }
    this.expression = renderMetricMath(rollbackExpression(canaryRule(props.thresholds)));
    this.alarm = new cloudwatch.Alarm(this, 'Regression', {
      alarmName: `${props.alarmNamePrefix}-canary-regression`,
      alarmDescription:
        `Agent canary: the candidate is worse than stable over ${props.thresholds.windowMinutes} min (completion, cost, tool calls or p95 duration; ` +
        `at least ${props.thresholds.minTasks} finished tasks each). Its share is set to 0 automatically. Runbook: README "Agent canary" — npm run canary -- status --stage ${props.stage}`,
      metric: new cloudwatch.MathExpression({ expression: this.expression, usingMetrics, period: window, label: 'Canary regression (1 = roll back)' }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    props.topics.route(this.alarm, 'page');

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Its own role with exactly what it does: no managed policy, no wildcard.
    const role = new iam.Role(this, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'), description: 'Canary rollback: set the share parameter to 0' });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ssm:PutParameter'],
        resources: [Stack.of(this).formatArn({ service: 'ssm', resource: 'parameter', resourceName: props.shareParameterName.replace(/^\//, '') })],
      }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    this.handler = new lambda.Function(this, 'Handler', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline(ROLLBACK_HANDLER_SOURCE),
      role,
      logGroup,
      timeout: Duration.seconds(30),
      memorySize: 128,
      environment: { [ROLLBACK_HANDLER_ENV.shareParam]: props.shareParameterName },
      description: `Agent canary rollback of ${props.stage}: share to 0 when ${this.alarm.alarmName ?? 'the comparison alarm'} fires`,
    });
    const ct = (scope: Construct, rule: string, reason: string) => Validations.of(scope).acknowledge({ id: `cdk-validator-cfnguard::${rule}`, reason });
    ct(logGroup, 'cloudwatch_log_group_encrypted_check', 'Holds only the rollback\'s own lines (parameter and alarm names, no task data).');
    ct(this.handler, 'lambda_inside_vpc_check', 'Calls only SSM PutParameter on one parameter; inside the VPC it would need an SSM endpoint for that alone.');
    ct(this.alarm, 'cloudwatch_alarm_action_check', 'Its action is the EventBridge rule that rolls the candidate back; it also pages where the stage routes pages.');
    new events.Rule(this, 'OnRegression', {
      description: 'Canary regression alarm entered ALARM: roll the candidate back',
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        resources: [this.alarm.alarmArn],
        detail: { state: { value: ['ALARM'] } },
      },
      targets: [new targets.LambdaFunction(this.handler, { retryAttempts: 4, maxEventAge: Duration.hours(1) })],
    });
  }
}
