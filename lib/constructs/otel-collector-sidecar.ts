import { Stack, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { requireProp } from '../errors';

export interface OtelCollectorSidecarProps {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  /** The container whose spans the collector receives; it starts after the collector. */
  readonly appContainer: ecs.ContainerDefinition;
  /** aws-otel-collector release tag, e.g. `v0.43.3`. */
  readonly version: string;
  /** Where the collector's own logs go (the app's log group, stream prefix `otel`). */
  readonly logGroup: logs.ILogGroup;
  /**
   * Memory kept for the collector inside the task (soft reservation; the task limit is the cap).
   * @default 64
   */
  readonly memoryReservationMiB?: number;
  /**
   * Hard memory limit of the collector: past it ECS kills the collector (not essential), never the app.
   * @default 128
   */
  readonly memoryLimitMiB?: number;
}

/** Name the ECR pull-through cache rule gives public.ecr.aws images in this account. */
export const ECR_PUBLIC_CACHE_PREFIX = 'ecr-public';
const COLLECTOR_REPOSITORY = `${ECR_PUBLIC_CACHE_PREFIX}/aws-observability/aws-otel-collector`;
/** Where the runtime sends OTLP/HTTP (runtime/src/shared/observability-config.ts). */
export const OTLP_ENDPOINT = 'http://localhost:4318';

/** Traces only: OTLP/HTTP in on localhost, batched, out to X-Ray through the VPC endpoint. */
const COLLECTOR_CONFIG = [
  'receivers:',
  '  otlp:',
  '    protocols:',
  '      http:',
  '        endpoint: 127.0.0.1:4318',
  'processors:',
  '  batch/traces:',
  '    timeout: 1s',
  '    send_batch_size: 50',
  'exporters:',
  '  awsxray: {}',
  'service:',
  '  pipelines:',
  '    traces:',
  '      receivers: [otlp]',
  '      processors: [batch/traces]',
  '      exporters: [awsxray]',
  '',
].join('\n');

/**
 * An AWS Distro for OpenTelemetry collector next to the app container. It is not essential: if it
 * dies, the task keeps serving and only spans are lost. Its image comes from the account's ECR
 * pull-through cache of public.ecr.aws (tasks have no internet), so the execution role may create
 * and import that one cached repository.
 */
export class OtelCollectorSidecar extends Construct {
  readonly container: ecs.ContainerDefinition;

  constructor(scope: Construct, id: string, props: OtelCollectorSidecarProps) {
    super(scope, id);
    requireProp(/^v\d+\.\d+\.\d+$/.test(props.version), 'OtelCollectorSidecar', 'version', props.version, 'use a release tag such as v0.43.3 (never latest)');
    const stack = Stack.of(this);
    this.container = props.taskDefinition.addContainer('otel-collector', {
      image: ecs.ContainerImage.fromRegistry(`${stack.account}.dkr.ecr.${stack.region}.${stack.urlSuffix}/${COLLECTOR_REPOSITORY}:${props.version}`),
      essential: false,
      user: '10001',
      readonlyRootFilesystem: true,
      memoryReservationMiB: props.memoryReservationMiB ?? 64,
      // Without a hard limit a leaking collector could take the app's memory (CT.ECS.PR.7).
      memoryLimitMiB: props.memoryLimitMiB ?? 128,
      environment: { AOT_CONFIG_CONTENT: COLLECTOR_CONFIG },
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'otel', logGroup: props.logGroup, mode: ecs.AwsLogDriverMode.NON_BLOCKING }),
    });
    props.appContainer.addContainerDependencies({ container: this.container, condition: ecs.ContainerDependencyCondition.START });
    props.appContainer.addEnvironment('OTEL_EXPORTER_OTLP_ENDPOINT', OTLP_ENDPOINT);

    props.taskDefinition.obtainExecutionRole().addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:CreateRepository', 'ecr:BatchImportUpstreamImage'],
        resources: [stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: COLLECTOR_REPOSITORY })],
      }),
    );
    props.taskDefinition.taskRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], resources: ['*'] }));
    Validations.of(props.taskDefinition.taskRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Only xray:PutTraceSegments and xray:PutTelemetryRecords use "*": X-Ray has no resource-level permissions for them. Every other task-role statement names its table, queue, secret or parameter.',
    });
  }
}
