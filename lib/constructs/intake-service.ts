import type { AgentDirectoryEntry } from '../../runtime/src/shared/agent-profiles';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV, PORTS } from '../../runtime/src/shared/config';
import { SERVICES } from '../../runtime/src/shared/metrics-contract';
import { requireProp } from '../errors';
import { ratio } from './agent-metrics';
import { bucketRef } from './as-interface';
import { agentServiceProps, requireTaskRetention, type AgentServiceBaseProps, type TaskDataProps } from './agent-service-props';
import { AgentTaskDefinition } from './agent-task-definition';
import { grantPutMetricData, grantReadSecret, grantSendTasks, grantTableReadWrite, TABLE_ACTIONS } from './grants';
import { QUEUE_DEMAND_INTERVAL_SECONDS, QUEUE_DEMAND_NAMESPACE } from '../../runtime/src/shared/queue-demand-contract';
import { ROLLBACK_PERIOD, RollbackAlarm } from './rollback-alarm';

export interface IntakeServiceProps extends AgentServiceBaseProps, TaskDataProps {
  /** Secret with the API keys clients authenticate with. */
  readonly apiKeysSecret: secretsmanager.ISecret;
  /**
   * ACM certificate for the HTTPS listener.
   * @default - plain HTTP on port 80, allowed only for a restricted `allowedCidr` (dev)
   */
  readonly certificateArn?: string;
  /** Who may reach the load balancer. */
  readonly allowedCidr: string;
  /**
   * @default 1
   */
  readonly minTasks?: number;
  /**
   * @default 4
   */
  readonly maxTasks?: number;
  /**
   * Requests per target per minute to scale on.
   * @default 500
   */
  readonly requestsPerTarget?: number;
  /**
   * Traffic share the canary gets before its bake (percent, 0.1-100).
   * @default 10
   */
  readonly canaryPercent?: number;
  /**
   * How long the canary bakes, and how long the finished deployment bakes before old tasks go.
   * @default Duration.minutes(10)
   */
  readonly canaryBake?: Duration;
  /**
   * Target 5xx share of requests that rolls a deployment back.
   * @default 0.05
   */
  readonly rollback5xxRatio?: number;
  /**
   * Refuse to delete the load balancer (its DNS name is what clients and DNS records point at).
   * @default false
   */
  readonly deletionProtection?: boolean;
  /**
   * The agents tasks may name, the default and their default budgets (INTAKE_AGENTS), already
   * validated by the stage schema.
   * @default - none: the runtime's one implicit agent
   */
  readonly agents?: readonly AgentDirectoryEntry[];
}

/** Health endpoint of the intake HTTP API (no auth). */
export const INTAKE_HEALTH_PATH = '/health';

/**
 * The public HTTP API: an internet-facing ALB (HTTPS with TLS 1.3 policy, access logs,
 * invalid headers dropped) in front of intake tasks in private subnets. Releases roll out as an
 * ECS-native canary: the listener rule forwards blue/green with weights that ECS shifts, a
 * target-5xx alarm rolls back, and the deployment bakes before old tasks stop. Scales on ALB
 * requests per target.
 */
export class IntakeService extends Construct {
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly listener: elbv2.ApplicationListener;
  readonly blueTargetGroup: elbv2.ApplicationTargetGroup;
  readonly greenTargetGroup: elbv2.ApplicationTargetGroup;
  readonly securityGroup: ec2.SecurityGroup;
  readonly rollbackAlarm: RollbackAlarm;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: IntakeServiceProps) {
    super(scope, id);
    const minTasks = props.minTasks ?? 1;
    const maxTasks = props.maxTasks ?? 4;
    const canaryPercent = props.canaryPercent ?? 10;
    const canaryBake = props.canaryBake ?? Duration.minutes(10);
    const rollback5xxRatio = props.rollback5xxRatio ?? 0.05;
    requireTaskRetention('IntakeService', props.taskRetentionDays);
    requireProp(minTasks >= 1 && minTasks <= maxTasks, 'IntakeService', 'minTasks', minTasks, `use 1 to maxTasks (${maxTasks}); a public API cannot scale to zero`);
    requireProp(
      canaryPercent >= 0.1 && canaryPercent <= 100 && Math.abs(canaryPercent * 10 - Math.round(canaryPercent * 10)) < 1e-9,
      'IntakeService',
      'canaryPercent',
      canaryPercent,
      'ECS canary steps are multiples of 0.1 from 0.1 to 100',
    );
    requireProp(canaryBake.toMinutes() <= 1440, 'IntakeService', 'canaryBake', `${canaryBake.toMinutes()}min`, 'ECS allows at most 1440 minutes');
    requireProp(rollback5xxRatio > 0 && rollback5xxRatio < 1, 'IntakeService', 'rollback5xxRatio', rollback5xxRatio, 'use a fraction between 0 and 1, e.g. 0.05');
    requireProp(
      props.certificateArn !== undefined || props.allowedCidr !== '0.0.0.0/0',
      'IntakeService',
      'allowedCidr',
      props.allowedCidr,
      'without a certificateArn the listener is plain HTTP: restrict allowedCidr to an office or VPN range, or set certificateArn',
    );

    const { vpc } = props.network;
    const albSecurityGroup = new ec2.SecurityGroup(this, 'AlbSg', { vpc, description: 'Intake ALB', allowAllOutbound: false });
    this.securityGroup = new ec2.SecurityGroup(this, 'TaskSg', { vpc, description: 'Intake tasks', allowAllOutbound: false });
    const listenerPort = props.certificateArn === undefined ? 80 : 443;
    albSecurityGroup.addIngressRule(ec2.Peer.ipv4(props.allowedCidr), ec2.Port.tcp(listenerPort), 'Clients of the task API');
    if (props.allowedCidr === '0.0.0.0/0') {
      Validations.of(albSecurityGroup).acknowledge({
        id: 'AwsSolutions-EC23',
        reason: 'Public task API: clients connect from anywhere over HTTPS (TLS 1.3 policy) and authenticate with API keys; tasks stay in private subnets behind it.',
      });
    }
    albSecurityGroup.addEgressRule(this.securityGroup, ec2.Port.tcp(PORTS.intake), 'To intake tasks');
    this.securityGroup.addIngressRule(albSecurityGroup, ec2.Port.tcp(PORTS.intake), 'From the ALB');
    props.network.allowAwsApis(this.securityGroup);

    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED, // ALB log delivery supports SSE-S3 only
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy: props.runtime.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket only receives ALB access logs; logging access to the log bucket would need another bucket with the same question.',
    });
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'Alb', {
      vpc,
      internetFacing: true,
      securityGroup: albSecurityGroup,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      dropInvalidHeaderFields: true,
      deletionProtection: props.deletionProtection ?? false,
    });
    this.loadBalancer.logAccessLogs(bucketRef(this.accessLogs), 'intake');

    const targetGroupProps: elbv2.ApplicationTargetGroupProps = {
      vpc,
      port: PORTS.intake,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targetType: elbv2.TargetType.IP,
      deregistrationDelay: Duration.seconds(30),
      healthCheck: { path: INTAKE_HEALTH_PATH, healthyHttpCodes: '200', interval: Duration.seconds(15), healthyThresholdCount: 2 },
    };
    this.blueTargetGroup = new elbv2.ApplicationTargetGroup(this, 'Blue', targetGroupProps);
    this.greenTargetGroup = new elbv2.ApplicationTargetGroup(this, 'Green', targetGroupProps);

    this.listener =
      props.certificateArn === undefined
        ? this.loadBalancer.addListener('Http', { port: 80, protocol: elbv2.ApplicationProtocol.HTTP, open: false, defaultAction: notFound() })
        : this.loadBalancer.addListener('Https', {
            port: 443,
            protocol: elbv2.ApplicationProtocol.HTTPS,
            sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
            certificates: [elbv2.ListenerCertificate.fromArn(props.certificateArn)],
            open: false,
            defaultAction: notFound(),
          });
    // ECS shifts these weights during a canary; blue carries all traffic between deployments.
    const productionRule = new elbv2.ApplicationListenerRule(this, 'ProductionRule', {
      listener: this.listener,
      priority: 10,
      conditions: [elbv2.ListenerCondition.pathPatterns(['/*'])],
      action: elbv2.ListenerAction.weightedForward([
        { targetGroup: this.blueTargetGroup, weight: 100 },
        { targetGroup: this.greenTargetGroup, weight: 0 },
      ]),
    });

    this.rollbackAlarm = new RollbackAlarm(this, 'Rollback5xx', {
      alarmName: `${props.alarmNamePrefix}-intake-5xx`,
      description: `intake target 5xx above ${rollback5xxRatio * 100}% of requests`,
      metric: ratio(
        this.loadBalancer.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { statistic: 'Sum', period: ROLLBACK_PERIOD }),
        this.loadBalancer.metrics.requestCount({ statistic: 'Sum', period: ROLLBACK_PERIOD }),
        { label: 'Intake 5xx ratio', period: ROLLBACK_PERIOD },
      ),
      threshold: rollback5xxRatio,
    });

    const task = new AgentTaskDefinition(this, 'Task', {
      ...props.runtime,
      role: SERVICES.intake,
      port: PORTS.intake,
      exposePort: true,
      environment: {
        [ENV.queueUrlHigh]: props.queues.high.queueUrl,
        [ENV.queueUrlNormal]: props.queues.normal.queueUrl,
        [ENV.apiKeysSecretArn]: props.apiKeysSecret.secretArn,
        [ENV.taskRetentionDays]: String(props.taskRetentionDays),
        ...(props.agents === undefined ? {} : { [ENV.intakeAgents]: JSON.stringify(props.agents) }),
        // The worker fleet's fast scale-out signal (runtime/src/shared/queue-demand-publisher.ts).
        [ENV.queueDemandIntervalMs]: String(QUEUE_DEMAND_INTERVAL_SECONDS * 1000),
      },
    });
    // GetQueueAttributes (the publisher's read) is part of grantSendTasks.
    grantSendTasks(task.taskDefinition.taskRole, [props.queues.high, props.queues.normal], props.dataKey);
    grantPutMetricData(task.taskDefinition.taskRole, QUEUE_DEMAND_NAMESPACE);
    Validations.of(task.taskDefinition.taskRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'cloudwatch:PutMetricData has no resource-level permissions; the statement is limited to the OpenClaw namespace by the cloudwatch:namespace condition.',
    });
    grantTableReadWrite(task.taskDefinition.taskRole, [props.tasksTable], props.dataKey, TABLE_ACTIONS.intake);
    grantReadSecret(task.taskDefinition.taskRole, props.apiKeysSecret);

    this.service = new ecs.FargateService(this, 'Service', {
      ...agentServiceProps(props, task.taskDefinition, this.securityGroup, [this.rollbackAlarm.alarmName]),
      healthCheckGracePeriod: Duration.seconds(60),
      deploymentStrategy: ecs.DeploymentStrategy.CANARY,
      canaryConfiguration: { stepPercent: canaryPercent, stepBakeTime: canaryBake },
      bakeTime: canaryBake,
    });
    this.service.node.addDependency(this.rollbackAlarm);
    this.service
      .loadBalancerTarget({
        containerName: SERVICES.intake,
        containerPort: PORTS.intake,
        alternateTarget: new ecs.AlternateTarget('Green', {
          alternateTargetGroup: this.greenTargetGroup,
          productionListener: ecs.ListenerRuleConfiguration.applicationListenerRule(productionRule),
        }),
      })
      .attachToApplicationTargetGroup(this.blueTargetGroup);
    const trafficShiftRole = this.service.node.tryFindChild('GreenRole');
    if (trafficShiftRole !== undefined) {
      Validations.of(trafficShiftRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonECSInfrastructureRolePolicyForLoadBalancers]',
        reason: 'ECS assumes this role to shift canary traffic between the blue and green target groups; AWS maintains this policy for exactly that and updates it with the feature.',
      });
    }

    const scaling = this.service.autoScaleTaskCount({ minCapacity: minTasks, maxCapacity: maxTasks });
    scaling.scaleOnRequestCount('Requests', {
      requestsPerTarget: props.requestsPerTarget ?? 500,
      targetGroup: this.blueTargetGroup,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });
  }
}

function notFound(): elbv2.ListenerAction {
  return elbv2.ListenerAction.fixedResponse(404, {
    contentType: 'application/json',
    messageBody: JSON.stringify({ error: { type: 'not_found', message: 'no such route' } }),
  });
}
