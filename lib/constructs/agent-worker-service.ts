import { CfnElement, Duration, Fn, Stack, Token, Validations } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ENV, PORTS } from '../../runtime/src/shared/config';
import { OBSERVABILITY_ENV } from '../../runtime/src/shared/observability-config';
import { KILL_SWITCH } from '../../runtime/src/shared/kill-switch-contract';
import { WEBHOOK_PORT } from '../../runtime/src/shared/callback-url-policy';
import { SERVICES } from '../../runtime/src/shared/metrics-contract';
import { requireProp } from '../errors';
import { taskCompletionRate } from './agent-metrics';
import { agentServiceProps, requireTaskRetention, type AgentServiceBaseProps, type TaskDataProps } from './agent-service-props';
import { mcpEgressRules } from './mcp-egress';
import type { McpServerConfig } from '../../runtime/src/shared/mcp-servers';
import type { AgentProfile } from '../../runtime/src/shared/agent-profiles';
import { AgentTaskDefinition } from './agent-task-definition';
import { grantConsumeTasks, grantReadParameter, grantReadSecret, grantRequeueTasks, grantSweepDeadLetters, grantTableReadWrite, TABLE_ACTIONS } from './grants';
import type { LlmGatewayService } from './llm-gateway-service';
import { GATEWAY_URL } from './llm-gateway-service';
import { ROLLBACK_PERIOD, RollbackAlarm } from './rollback-alarm';
import { WorkerDemandScaling } from './worker-demand-scaling';
import type { AgentVersion } from '../../runtime/src/shared/agent-version';
import { versionCompletionRate } from '../canary/canary-metrics';

export interface AgentWorkerServiceProps extends AgentServiceBaseProps, TaskDataProps {
  /** The gateway the agent loop calls for every LLM request. */
  readonly gateway: LlmGatewayService;
  /** Stage name, used for the metric dimension and the kill-switch parameter path. */
  readonly stage: string;
  /** Model the agent loop asks the gateway for. */
  readonly model: string;
  /** Webhook-signing keys by API-key name: the only secret workers read (never the intake's key list). */
  readonly webhookSigningSecret: secretsmanager.ISecret;
  /**
   * Workers when idle; 0 lets the fleet scale to zero (the step policy brings it back).
   * @default 0
   */
  readonly minTasks?: number;
  /**
   * @default 10
   */
  readonly maxTasks?: number;
  /** The lanes' visibility timeout; the worker's heartbeat is derived from the same value. */
  readonly visibilityTimeout: Duration;
  /** The lanes' redrive maxReceiveCount; the worker hands messages back without burning it. */
  readonly maxReceiveCount: number;
  /** Target visible messages per running worker (see deriveCapacityPlan). */
  readonly backlogPerTaskTarget: number;
  /**
   * Scale the stable pool on arrivals (lib/constructs/worker-demand-scaling.ts): surge on the
   * intake's high-resolution queue-demand metrics, steady on SQS arrivals. A candidate pool (its own
   * lanes, which the publisher does not read) keeps backlog-per-task target tracking.
   * @default undefined (backlog-per-task target tracking)
   */
  readonly demandScaling?: { readonly averageTaskSeconds: number; readonly drainSeconds: number };
  /**
   * The lanes' dead-letter queue. Each worker sweeps it (receive and hold, never delete) so a task
   * whose message got there without the worker's help (OOM, crash on receive) ends FAILED.
   * @default undefined (no sweep: such tasks stay RUNNING until their TTL)
   */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * Place workers on Fargate Spot (3:1 with on-demand); they checkpoint every step and protect
   * themselves while busy, so a reclaim costs at most one step.
   * @default false
   */
  readonly useSpot?: boolean;
  /**
   * Which agent version this pool runs (lib/constructs/agent-canary-pool.ts builds the candidate):
   * AGENT_VERSION for its metrics and spans, and the suffix of its kill switch and alarm names.
   * @default 'stable'
   */
  readonly version?: AgentVersion;
  /**
   * PROMPTS_DIR inside the image: a candidate may run another prompt set of the same image.
   * @default - the image's own prompts (dist/prompts)
   */
  readonly promptsDir?: string;
  /**
   * Built-in tools the agent offers the model (AGENT_TOOLS), already validated by the stage schema.
   * @default undefined (the runtime's DEFAULT_AGENT_TOOLS)
   */
  readonly tools?: readonly string[];
  /**
   * MCP servers whose tools the agent offers (MCP_SERVERS), already validated by the stage schema.
   * Each opens egress to its port (to its address when the URL names one; a hostname resolves at
   * run time, so to any address on that port) and read access to its auth secret.
   * @default none
   */
  readonly mcpServers?: readonly McpServerConfig[];
  /**
   * The agents this pool runs (AGENTS), already validated by the stage schema and their tiers
   * resolved to models. Each agent's MCP servers open egress and secret reads like `mcpServers`.
   * Exclusive with `tools` and `mcpServers`, which describe the one implicit agent.
   * @default - none: the runtime's one implicit agent, from `tools` and `mcpServers`
   */
  readonly agents?: readonly AgentProfile[];
}

/** Fargate's maximum: the time a worker gets to checkpoint and release its lease on SIGTERM. */
export const WORKER_STOP_TIMEOUT = Duration.seconds(120);

/**
 * The agent workers: one task at a time each, consuming both lanes. Scales on backlog per task
 * (target tracking on visible messages of both lanes ÷ running tasks) and from zero with a step
 * policy; ECS honours task scale-in protection, which each worker sets on itself while it holds
 * a task. A kill-switch parameter pauses consumption without a deploy.
 */
export class AgentWorkerService extends Construct {
  readonly service: ecs.FargateService;
  readonly securityGroup: ec2.SecurityGroup;
  readonly killSwitch: ssm.StringParameter;
  readonly rollbackAlarm: RollbackAlarm;
  readonly scalingTarget: appscaling.ScalableTarget;
  /** Visible messages of both lanes divided by running workers. */
  readonly backlogPerTask: cloudwatch.MathExpression;
  /** Other pools' DLQs this pool sweeps too (`sweepDeadLetters`), in the order added. */
  private readonly extraDeadLetters: sqs.IQueue[] = [];
  private readonly dataKey: kms.IKey;

  constructor(scope: Construct, id: string, props: AgentWorkerServiceProps) {
    super(scope, id);
    this.dataKey = props.dataKey;
    const version = props.version ?? 'stable';
    requireProp(
      props.agents === undefined || (props.tools === undefined && props.mcpServers === undefined),
      'AgentWorkerService',
      'tools/mcpServers',
      'set beside agents',
      'list tools and MCP servers per agent in `agents` and leave `tools` and `mcpServers` unset',
    );
    // The stable pool keeps its original names; a candidate's are suffixed so both fit in a stage.
    const pool = version === 'stable' ? 'worker' : `worker-${version}`;
    const minTasks = props.minTasks ?? 0;
    const maxTasks = props.maxTasks ?? 10;
    requireTaskRetention('AgentWorkerService', props.taskRetentionDays);
    requireProp(minTasks >= 0 && minTasks <= maxTasks, 'AgentWorkerService', 'minTasks', minTasks, `use 0 to maxTasks (${maxTasks})`);
    requireProp(maxTasks >= 1 && maxTasks <= 1000, 'AgentWorkerService', 'maxTasks', maxTasks, 'use 1 to 1000');
    requireProp(
      Number.isFinite(props.backlogPerTaskTarget) && props.backlogPerTaskTarget >= 1,
      'AgentWorkerService',
      'backlogPerTaskTarget',
      props.backlogPerTaskTarget,
      'use at least 1 (acceptable latency ÷ average task time)',
    );

    this.securityGroup = new ec2.SecurityGroup(this, 'TaskSg', {
      vpc: props.network.vpc,
      description: 'Agent workers: AWS APIs, the LLM gateway, and webhooks over HTTPS',
      allowAllOutbound: false,
      allowAllIpv6Outbound: false,
    });
    props.network.allowAwsApis(this.securityGroup);
    props.gateway.allowFrom(this.securityGroup);
    // Completion webhooks go to clients' public HTTPS endpoints through the NAT gateway. The network
    // cannot tell a public address from a private one, so the SSRF policy is enforced in code at
    // delivery time (CallbackUrlPolicy: https on 443 only, public addresses only, the checked
    // address pinned against DNS rebinding); this rule only opens the port that policy allows.
    for (const peer of [ec2.Peer.anyIpv4(), ec2.Peer.anyIpv6()]) {
      this.securityGroup.addEgressRule(peer, ec2.Port.tcp(WEBHOOK_PORT), 'Completion webhooks (HTTPS, SSRF policy enforced in code)');
    }

    this.killSwitch = new ssm.StringParameter(this, 'KillSwitch', {
      parameterName: `/openclaw/${props.stage}/${pool}/kill-switch`,
      stringValue: KILL_SWITCH.off,
      description: `Set to "${KILL_SWITCH.on}" to stop workers taking new tasks (aws ssm put-parameter --overwrite); in-flight tasks finish`,
      allowedPattern: `^(${KILL_SWITCH.on}|${KILL_SWITCH.off})$`,
    });

    const task = new AgentTaskDefinition(this, 'Task', {
      ...props.runtime,
      role: SERVICES.worker,
      port: PORTS.worker,
      stopTimeout: WORKER_STOP_TIMEOUT,
      environment: {
        [ENV.queueUrlHigh]: props.queues.high.queueUrl,
        [ENV.queueUrlNormal]: props.queues.normal.queueUrl,
        [ENV.gatewayUrl]: GATEWAY_URL,
        [ENV.model]: props.model,
        [ENV.killSwitchParam]: this.killSwitch.parameterName,
        [ENV.webhookSigningSecretArn]: props.webhookSigningSecret.secretArn,
        [ENV.visibilityTimeoutSeconds]: String(props.visibilityTimeout.toSeconds()),
        [ENV.maxReceiveCount]: String(props.maxReceiveCount),
        [ENV.taskRetentionDays]: String(props.taskRetentionDays),
        // Finish or abort the step and hand the message back well before SIGKILL.
        [ENV.drainTimeoutMs]: String(WORKER_STOP_TIMEOUT.toMilliseconds() - 30_000),
        ...(props.deadLetterQueue !== undefined ? { [ENV.deadLetterQueueUrl]: props.deadLetterQueue.queueUrl } : {}),
        ...(version === 'stable' ? {} : { [ENV.agentVersion]: version }),
        ...(props.promptsDir === undefined ? {} : { [OBSERVABILITY_ENV.promptsDir]: props.promptsDir }),
        ...(props.tools === undefined ? {} : { [ENV.agentTools]: props.tools.join(',') }),
        ...(props.mcpServers === undefined || props.mcpServers.length === 0 ? {} : { [ENV.mcpServers]: JSON.stringify(props.mcpServers) }),
        ...(props.agents === undefined ? {} : { [ENV.agents]: JSON.stringify(props.agents) }),
      },
    });
    const taskRole = task.taskDefinition.taskRole;
    grantConsumeTasks(taskRole, [props.queues.high, props.queues.normal], props.dataKey);
    grantTableReadWrite(taskRole, [props.tasksTable], props.dataKey, TABLE_ACTIONS.worker);
    grantReadParameter(taskRole, this.killSwitch);
    grantReadSecret(taskRole, props.webhookSigningSecret);
    for (const server of [...(props.mcpServers ?? []), ...(props.agents ?? []).flatMap((a) => a.mcpServers ?? [])]) {
      for (const rule of mcpEgressRules(server)) this.securityGroup.addEgressRule(rule.peer, ec2.Port.tcp(rule.port), rule.description);
      if (server.authSecretArn !== undefined) {
        taskRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [server.authSecretArn] }));
      }
    }
    if (props.deadLetterQueue !== undefined) grantSweepDeadLetters(taskRole, props.deadLetterQueue, props.dataKey);
    // Scale-in protection: the worker PUTs to its agent endpoint ($ECS_AGENT_URI), and the agent
    // calls Get/UpdateTaskProtection with the task role, limited to this cluster's tasks.
    taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecs:GetTaskProtection', 'ecs:UpdateTaskProtection'],
        resources: [Stack.of(this).formatArn({ service: 'ecs', resource: 'task', resourceName: `${props.cluster.clusterName}/*` })],
      }),
    );
    const stack = Stack.of(this);
    const clusterLogicalId = stack.getLogicalId(props.cluster.node.defaultChild as CfnElement);
    // With @aws-cdk/core:enablePartitionLiterals the partition is a literal, otherwise a token.
    const partition = Token.isUnresolved(stack.partition) ? '<AWS::Partition>' : stack.partition;
    Validations.of(taskRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:${partition}:ecs:${stack.region}:${stack.account}:task/<${clusterLogicalId}>/*]`,
      reason: 'A worker protects its own task, whose ID is only known at run time; the statement is limited to this cluster\'s tasks and the two task-protection actions.',
    });

    // A candidate's deployment is judged on its own tasks only.
    const completionRate = version === 'stable' ? taskCompletionRate(props.stage, ROLLBACK_PERIOD) : versionCompletionRate(props.stage, version, ROLLBACK_PERIOD);
    const alarmName = `${props.alarmNamePrefix}-${pool}-completion`;
    this.rollbackAlarm = new RollbackAlarm(this, 'RollbackCompletion', {
      alarmName,
      description: `${pool} task completion rate below 90%`,
      metric: completionRate,
      threshold: 90,
      comparison: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    });

    this.service = new ecs.FargateService(this, 'Service', {
      ...agentServiceProps(props, task.taskDefinition, this.securityGroup, [alarmName]),
      capacityProviderStrategies:
        props.useSpot === true
          ? [
              { capacityProvider: 'FARGATE_SPOT', weight: 3 },
              { capacityProvider: 'FARGATE', weight: 1 },
            ]
          : [{ capacityProvider: 'FARGATE', weight: 1 }],
      // Client-only Service Connect: resolves `gateway` without advertising anything.
      serviceConnectConfiguration: {},
    });
    this.service.node.addDependency(this.rollbackAlarm);

    this.scalingTarget = new appscaling.ScalableTarget(this, 'Scaling', {
      serviceNamespace: appscaling.ServiceNamespace.ECS,
      scalableDimension: 'ecs:service:DesiredCount',
      resourceId: `service/${props.cluster.clusterName}/${this.service.serviceName}`,
      minCapacity: minTasks,
      maxCapacity: maxTasks,
    });

    const visible = (queue: sqs.IQueue): cloudwatch.Metric => queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Sum', period: Duration.minutes(1) });
    const running = new cloudwatch.Metric({
      namespace: 'ECS/ContainerInsights',
      metricName: 'RunningTaskCount',
      dimensionsMap: { ClusterName: props.cluster.clusterName, ServiceName: this.service.serviceName },
      statistic: 'Average',
      period: Duration.minutes(1),
    });
    this.backlogPerTask = new cloudwatch.MathExpression({
      expression: '(high + normal) / tasks',
      usingMetrics: { high: visible(props.queues.high), normal: visible(props.queues.normal), tasks: running },
      label: 'Backlog per worker',
      period: Duration.minutes(1),
    });

    const demandScaling = version === 'stable' ? props.demandScaling : undefined;
    if (demandScaling !== undefined) {
      new WorkerDemandScaling(this, 'Demand', {
        scalingTarget: this.scalingTarget,
        stage: props.stage,
        lanes: props.queues,
        runningTasks: running,
        maxTasks,
        averageTaskSeconds: demandScaling.averageTaskSeconds,
        drainSeconds: demandScaling.drainSeconds,
        policyNamePrefix: this.node.path.replace(/\//g, '-'),
      });
    }
    // Target tracking cannot divide by zero running tasks, so it only works once one runs.
    if (demandScaling === undefined) new appscaling.CfnScalingPolicy(this, 'BacklogPerTask', {
      policyName: `${this.node.path.replace(/\//g, '-')}-backlog`,
      policyType: 'TargetTrackingScaling',
      scalingTargetId: this.scalingTarget.scalableTargetId,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: props.backlogPerTaskTarget,
        scaleOutCooldown: 60,
        scaleInCooldown: 300,
        customizedMetricSpecification: {
          metrics: [
            metricQuery('high', visible(props.queues.high)),
            metricQuery('normal', visible(props.queues.normal)),
            metricQuery('tasks', running),
            { id: 'backlog', expression: '(high + normal) / tasks', label: 'Backlog per worker', returnData: true },
          ],
        },
      },
    });

    // From zero: any visible task while no worker runs adds one worker; target tracking takes over.
    const fromZero = new appscaling.StepScalingAction(this, 'ScaleFromZero', {
      scalingTarget: this.scalingTarget,
      adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      cooldown: Duration.minutes(1),
      metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
    });
    fromZero.addAdjustment({ lowerBound: 0, adjustment: 1 });
    const idleWithBacklog = new cloudwatch.Alarm(this, 'BacklogWithNoWorkers', {
      alarmDescription: 'Tasks are waiting and no worker runs: start one',
      metric: new cloudwatch.MathExpression({
        expression: 'IF((FILL(high, 0) + FILL(normal, 0)) > 0 AND FILL(tasks, 0) == 0, 1, 0)',
        usingMetrics: { high: visible(props.queues.high), normal: visible(props.queues.normal), tasks: running },
        period: Duration.minutes(1),
      }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    idleWithBacklog.addAlarmAction(new cwActions.ApplicationScalingAction(fromZero));
  }

  /**
   * Sweep another pool's dead-letter queue as well as this pool's own (EXTRA_DEAD_LETTER_QUEUE_URLS
   * plus receive-and-hold on it). The stable pool sweeps the canary's: after a rollback the
   * candidate's workers scale to zero, and a task dead-lettered by a crashing candidate must still
   * end FAILED.
   */
  sweepDeadLetters(queue: sqs.IQueue): void {
    const container = this.service.taskDefinition.findContainer(SERVICES.worker);
    requireProp(container !== undefined, 'AgentWorkerService', 'taskDefinition', this.service.taskDefinition.node.path, `the task definition has no "${SERVICES.worker}" container`);
    this.extraDeadLetters.push(queue);
    // addEnvironment replaces the variable, so it always carries the whole list.
    container?.addEnvironment(ENV.extraDeadLetterQueueUrls, Fn.join(',', this.extraDeadLetters.map((q) => q.queueUrl)));
    grantSweepDeadLetters(this.service.taskDefinition.taskRole, queue, this.dataKey);
  }

  /**
   * Sweep the canary pool's approvals as well as this pool's own (CANARY_APPROVAL_QUEUE_URLS, and
   * SendMessage on the candidate's lanes). The stable pool does it: after a rollback the
   * candidate's workers scale to zero, and a task waiting for a person's approval must still have
   * it expire as a denial; the task goes back on the candidate's lanes, whose backlog scales that
   * pool up from zero to finish it.
   */
  sweepCanaryApprovals(lanes: { readonly high: sqs.IQueue; readonly normal: sqs.IQueue }): void {
    const container = this.service.taskDefinition.findContainer(SERVICES.worker);
    requireProp(container !== undefined, 'AgentWorkerService', 'taskDefinition', this.service.taskDefinition.node.path, `the task definition has no "${SERVICES.worker}" container`);
    container?.addEnvironment(ENV.canaryApprovalQueueUrls, Fn.join(',', [lanes.high.queueUrl, lanes.normal.queueUrl]));
    grantRequeueTasks(this.service.taskDefinition.taskRole, [lanes.high, lanes.normal], this.dataKey);
  }
}

function metricQuery(id: string, metric: cloudwatch.Metric): appscaling.CfnScalingPolicy.TargetTrackingMetricDataQueryProperty {
  const stat = metric.toMetricConfig().metricStat;
  if (stat === undefined) throw new Error(`metric ${id} is not a plain metric`);
  return {
    id,
    returnData: false,
    metricStat: {
      stat: stat.statistic,
      metric: {
        namespace: stat.namespace,
        metricName: stat.metricName,
        dimensions: (stat.dimensions ?? []).map((d) => ({ name: d.name, value: String(d.value) })),
      },
    },
  };
}
