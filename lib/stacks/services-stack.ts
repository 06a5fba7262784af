import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';
import type { Construct } from 'constructs';
import { ENV } from '../../runtime/src/shared/config';
import { deriveCapacityPlan, type ServiceSizing, type StageConfig } from '../config';
import type { AgentNetwork } from '../constructs/agent-network';
import { clusterRef } from '../constructs/as-interface';
import type { ServiceRuntimeProps } from '../constructs/agent-task-definition';
import { AgentWorkerService, type AgentWorkerServiceProps } from '../constructs/agent-worker-service';
import { AgentCanaryPool } from '../constructs/agent-canary-pool';
import type { CanaryPlan } from '../config/canary';
import { IntakeService } from '../constructs/intake-service';
import { LlmGatewayService } from '../constructs/llm-gateway-service';
import type { DataStack } from './data-stack';
import { alarmNamePrefix, removalPolicyFor, retentionFor } from './stage-policies';

export interface ServicesStackProps extends StackProps {
  readonly config: StageConfig;
  /** Image digest (`sha256:...`) to run, from `-c imageDigest=`. */
  readonly imageDigest: string;
  readonly repository: ecr.IRepository;
  readonly network: AgentNetwork;
  readonly logKey: kms.IKey;
  readonly data: DataStack;
  /** The agent canary's candidate (resolveCanaryPlan). @default - none: one worker pool */
  readonly canary?: CanaryPlan;
}

/** The ECS cluster and the three services of the one image: intake, LLM gateway, workers. */
export class ServicesStack extends Stack {
  readonly cluster: ecs.ICluster;
  readonly intake: IntakeService;
  readonly gateway: LlmGatewayService;
  readonly worker: AgentWorkerService;
  /** The candidate agent version, when the stage runs a canary. */
  readonly canary?: AgentCanaryPool;

  constructor(scope: Construct, id: string, props: ServicesStackProps) {
    super(scope, id, props);
    const { config, data } = props;
    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.network.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
      enableFargateCapacityProviders: true,
      defaultCloudMapNamespace: {
        name: `${config.stage}.openclaw.internal`,
        type: servicediscovery.NamespaceType.HTTP,
        useForServiceConnect: true,
      },
    });
    this.cluster = clusterRef(cluster);
    const runtime = (sizing: ServiceSizing): ServiceRuntimeProps => ({
      repository: props.repository,
      imageDigest: props.imageDigest,
      cpu: sizing.cpu,
      memoryMiB: sizing.memoryMiB,
      logKey: props.logKey,
      logRetention: retentionFor(config),
      removalPolicy: removalPolicyFor(config),
      ...(config.tracing.collector ? { otelCollectorVersion: config.tracing.collectorVersion } : {}),
      commonEnvironment: {
        [ENV.stage]: config.stage,
        [ENV.region]: this.region,
        [ENV.logLevel]: config.logs.level,
        [ENV.tasksTable]: data.store.tasksTable.tableName,
      },
    });
    const prefix = alarmNamePrefix(config);
    const lanes = { high: data.queues.high, normal: data.queues.normal };
    const { intake, gateway, worker } = config.services;

    this.gateway = new LlmGatewayService(this, 'Gateway', {
      cluster: this.cluster,
      network: props.network,
      runtime: runtime(gateway),
      gatewayTable: data.store.gatewayTable,
      dataKey: data.dataKey,
      anthropicSecret: data.anthropicSecret,
      minTasks: gateway.minTasks,
      maxTasks: gateway.maxTasks,
      cpuTargetPercent: gateway.cpuTargetPercent,
      ...(gateway.limits === undefined ? {} : { limits: gateway.limits }),
      ...(gateway.spendCeilingUsdPerHour === undefined ? {} : { spendCeilingUsdPerHour: gateway.spendCeilingUsdPerHour }),
      alarmNamePrefix: prefix,
    });
    this.intake = new IntakeService(this, 'Intake', {
      cluster: this.cluster,
      network: props.network,
      runtime: runtime(intake),
      queues: lanes,
      tasksTable: data.store.tasksTable,
      dataKey: data.dataKey,
      taskRetentionDays: config.data.taskRetentionDays,
      apiKeysSecret: data.apiKeysSecret,
      ...(config.ingress.certificateArn === undefined ? {} : { certificateArn: config.ingress.certificateArn }),
      allowedCidr: config.ingress.allowedCidr,
      minTasks: intake.minTasks,
      maxTasks: intake.maxTasks,
      requestsPerTarget: intake.requestsPerTarget,
      canaryPercent: intake.canaryPercent,
      canaryBake: Duration.minutes(intake.canaryBakeMinutes),
      deletionProtection: config.data.deletionProtection,
      alarmNamePrefix: prefix,
    });
    const workerProps: AgentWorkerServiceProps = {
      cluster: this.cluster,
      network: props.network,
      runtime: runtime(worker),
      queues: lanes,
      tasksTable: data.store.tasksTable,
      dataKey: data.dataKey,
      taskRetentionDays: config.data.taskRetentionDays,
      gateway: this.gateway,
      deadLetterQueue: data.queues.deadLetter,
      stage: config.stage,
      model: config.model,
      webhookSigningSecret: data.webhookSigningSecret,
      minTasks: worker.minTasks,
      maxTasks: worker.maxTasks,
      useSpot: worker.useSpot,
      ...(worker.tools === undefined ? {} : { tools: worker.tools }),
      ...(worker.mcpServers === undefined ? {} : { mcpServers: worker.mcpServers }),
      backlogPerTaskTarget: deriveCapacityPlan(worker).backlogPerTaskTarget,
      visibilityTimeout: Duration.seconds(config.data.visibilityTimeoutSeconds),
      maxReceiveCount: config.data.maxReceiveCount,
      alarmNamePrefix: prefix,
    };
    this.worker = new AgentWorkerService(this, 'Worker', workerProps);
    // Workers resolve `gateway` through the namespace only once the gateway advertises it.
    this.worker.service.node.addDependency(this.gateway.service);
    if (props.canary !== undefined) {
      this.canary = new AgentCanaryPool(this, 'Canary', {
        stage: config.stage,
        plan: props.canary,
        stableWorker: workerProps,
        stableWorkerService: this.worker,
        stableDigest: props.imageDigest,
        intakeTaskDefinition: this.intake.service.taskDefinition,
        dataKey: data.dataKey,
        removalPolicy: removalPolicyFor(config),
      });
      this.canary.worker.service.node.addDependency(this.gateway.service);
    }
  }
}
