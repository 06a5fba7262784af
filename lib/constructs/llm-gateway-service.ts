import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENV, PORTS } from '../../runtime/src/shared/config';
import { SERVICES } from '../../runtime/src/shared/metrics-contract';
import { requireProp } from '../errors';
import { ratio } from './agent-metrics';
import { agentServiceProps, type AgentServiceBaseProps } from './agent-service-props';
import { AgentTaskDefinition } from './agent-task-definition';
import { grantReadSecret, grantTableReadWrite, TABLE_ACTIONS } from './grants';
import { ROLLBACK_PERIOD, RollbackAlarm } from './rollback-alarm';

export interface LlmGatewayServiceProps extends AgentServiceBaseProps {
  /** Shared rate-limit buckets and breaker state. */
  readonly gatewayTable: dynamodb.ITable;
  /** Key of the gateway table. */
  readonly dataKey: kms.IKey;
  /** Secret holding the Anthropic API key. */
  readonly anthropicSecret: secretsmanager.ISecret;
  /**
   * Anthropic-compatible upstream.
   * @default 'https://api.anthropic.com'
   */
  readonly upstreamUrl?: string;
  /**
   * Provider limits, lanes, breaker and routing (the GATEWAY_LIMITS JSON, validated by the stage config).
   * @default the runtime's defaults (DEFAULT_TIERS)
   */
  readonly limits?: Readonly<Record<string, unknown>>;
  /**
   * The fleet's spend ceiling in USD per hour (GATEWAY_SPEND_USD_PER_HOUR).
   * @default - no ceiling
   */
  readonly spendCeilingUsdPerHour?: number;
  /**
   * @default 2
   */
  readonly minTasks?: number;
  /**
   * @default 4
   */
  readonly maxTasks?: number;
  /**
   * Average CPU to hold (percent).
   * @default 60
   */
  readonly cpuTargetPercent?: number;
}

/**
 * Time between SIGTERM and SIGKILL for a gateway task: Fargate's maximum, because a cut LLM call
 * is retried and paid twice, and streams run for minutes.
 */
export const GATEWAY_STOP_TIMEOUT = Duration.seconds(120);
/** What the gateway keeps after its drain to flush telemetry and exit before SIGKILL. */
export const GATEWAY_EXIT_MARGIN = Duration.seconds(10);

/** The drain budget the gateway gets (GATEWAY_DRAIN_MS), derived from the stop timeout it runs under. */
export function gatewayDrainMs(stopTimeout: Duration): number {
  return stopTimeout.toMilliseconds() - GATEWAY_EXIT_MARGIN.toMilliseconds();
}

/** Service Connect name workers resolve: `http://gateway:8090`. */
export const GATEWAY_DNS_NAME = SERVICES.gateway;
export const GATEWAY_URL = `http://${GATEWAY_DNS_NAME}:${PORTS.gateway}`;

/**
 * The rate-limit gateway in front of the Anthropic API, reachable inside the cluster through ECS
 * Service Connect (no internal load balancer to pay for; Envoy retries and outlier detection come
 * with it). The only service whose security group allows the internet (HTTPS, for the model API).
 * Scales on CPU: its work is proxying and streaming, and token buckets are shared in DynamoDB, so
 * replicas are interchangeable.
 */
export class LlmGatewayService extends Construct {
  readonly service: ecs.FargateService;
  readonly securityGroup: ec2.SecurityGroup;
  readonly rollbackAlarm: RollbackAlarm;

  constructor(scope: Construct, id: string, props: LlmGatewayServiceProps) {
    super(scope, id);
    const minTasks = props.minTasks ?? 2;
    const maxTasks = props.maxTasks ?? 4;
    const cpuTargetPercent = props.cpuTargetPercent ?? 60;
    requireProp(minTasks >= 1 && minTasks <= maxTasks, 'LlmGatewayService', 'minTasks', minTasks, `use 1 to maxTasks (${maxTasks}); workers cannot reach the model without a gateway`);
    requireProp(
      props.spendCeilingUsdPerHour === undefined || (Number.isFinite(props.spendCeilingUsdPerHour) && props.spendCeilingUsdPerHour > 0),
      'LlmGatewayService',
      'spendCeilingUsdPerHour',
      props.spendCeilingUsdPerHour,
      'use a positive number of US dollars per hour, or omit it for no ceiling',
    );
    requireProp(cpuTargetPercent >= 10 && cpuTargetPercent <= 90, 'LlmGatewayService', 'cpuTargetPercent', cpuTargetPercent, 'use 10 to 90 percent');
    requireProp(
      props.cluster.defaultCloudMapNamespace !== undefined,
      'LlmGatewayService',
      'cluster.defaultCloudMapNamespace',
      undefined,
      'add a default Cloud Map namespace with useForServiceConnect: true so workers can resolve the gateway',
    );

    this.securityGroup = new ec2.SecurityGroup(this, 'TaskSg', {
      vpc: props.network.vpc,
      description: 'LLM gateway tasks: the only tasks allowed to the internet (model API over HTTPS)',
      allowAllOutbound: false,
    });
    this.securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'Model API and AWS APIs over HTTPS');

    const task = new AgentTaskDefinition(this, 'Task', {
      ...props.runtime,
      role: SERVICES.gateway,
      port: PORTS.gateway,
      exposePort: true,
      stopTimeout: GATEWAY_STOP_TIMEOUT,
      environment: {
        [ENV.gatewayDrainMs]: String(gatewayDrainMs(GATEWAY_STOP_TIMEOUT)),
        [ENV.gatewayTable]: props.gatewayTable.tableName,
        [ENV.upstreamUrl]: props.upstreamUrl ?? 'https://api.anthropic.com',
        [ENV.anthropicSecretArn]: props.anthropicSecret.secretArn,
        ...(props.limits === undefined ? {} : { [ENV.gatewayLimits]: JSON.stringify(props.limits) }),
        ...(props.spendCeilingUsdPerHour === undefined ? {} : { [ENV.gatewaySpendUsdPerHour]: String(props.spendCeilingUsdPerHour) }),
      },
    });
    grantTableReadWrite(task.taskDefinition.taskRole, [props.gatewayTable], props.dataKey, TABLE_ACTIONS.gateway);
    grantReadSecret(task.taskDefinition.taskRole, props.anthropicSecret);

    const alarmName = `${props.alarmNamePrefix}-gateway-5xx`;
    this.service = new ecs.FargateService(this, 'Service', {
      ...agentServiceProps(props, task.taskDefinition, this.securityGroup, [alarmName]),
      serviceConnectConfiguration: {
        services: [
          {
            portMappingName: SERVICES.gateway,
            dnsName: GATEWAY_DNS_NAME,
            port: PORTS.gateway,
            discoveryName: GATEWAY_DNS_NAME,
            // Envoy's HTTP default (15 s per request) would cut every queued wait plus streamed reply;
            // 0 disables it: the gateway's upstream timeouts and the worker's model-call timeout bound
            // a call (test/contracts/timeouts.test.ts).
            perRequestTimeout: Duration.seconds(0),
          },
        ],
      },
    });
    // Service Connect publishes per-service HTTP metrics; 5xx here means the gateway itself is failing.
    const serviceConnectMetric = (metricName: string): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: 'AWS/ECS',
        metricName,
        dimensionsMap: {
          ClusterName: props.cluster.clusterName,
          ServiceName: this.service.serviceName,
          DiscoveryName: GATEWAY_DNS_NAME,
        },
        statistic: 'Sum',
        period: ROLLBACK_PERIOD,
      });
    this.rollbackAlarm = new RollbackAlarm(this, 'Rollback5xx', {
      alarmName,
      description: 'gateway 5xx above 5% of requests (Service Connect)',
      metric: ratio(serviceConnectMetric('HTTPCode_Target_5XX_Count'), serviceConnectMetric('RequestCount'), {
        label: 'Gateway 5xx ratio',
        period: ROLLBACK_PERIOD,
      }),
      threshold: 0.05,
    });

    const scaling = this.service.autoScaleTaskCount({ minCapacity: minTasks, maxCapacity: maxTasks });
    scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: cpuTargetPercent,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });
  }

  /** Let a client's tasks call the gateway. */
  allowFrom(client: ec2.ISecurityGroup): void {
    this.securityGroup.addIngressRule(client, ec2.Port.tcp(PORTS.gateway), 'LLM calls');
    client.addEgressRule(this.securityGroup, ec2.Port.tcp(PORTS.gateway), 'To the LLM gateway');
  }
}
