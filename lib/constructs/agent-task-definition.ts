import { Duration, RemovalPolicy, Size, Validations } from 'aws-cdk-lib';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ServiceName } from '../../runtime/src/shared/metrics-contract';
import { requireProp } from '../errors';
import { OtelCollectorSidecar } from './otel-collector-sidecar';

/** What every service's task needs from the stage: the image, sizing and logging. */
export interface ServiceRuntimeProps {
  /** Stage repository holding the image. */
  readonly repository: ecr.IRepository;
  /** Image digest (`sha256:...`) that CI built and scanned; tags are never deployed. */
  readonly imageDigest: string;
  /** Fargate task CPU units. */
  readonly cpu: number;
  /** Fargate task memory (MiB). */
  readonly memoryMiB: number;
  /** Key for the container log group. */
  readonly logKey: kms.IKey;
  /** Container log retention. */
  readonly logRetention: logs.RetentionDays;
  /** Variables every service gets (STAGE, LOG_LEVEL, TASKS_TABLE ...). */
  readonly commonEnvironment: Readonly<Record<string, string>>;
  /**
   * Run an ADOT collector sidecar of this release (spans to X-Ray).
   * @default - no collector; spans are not exported
   */
  readonly otelCollectorVersion?: string;
  /**
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

export interface AgentTaskDefinitionProps extends ServiceRuntimeProps {
  /** Which entry point of the image this task runs; also the container name. */
  readonly role: ServiceName;
  /**
   * Port the service listens on (health endpoint for the worker).
   */
  readonly port: number;
  /**
   * Expose the port to load balancers or Service Connect.
   * @default false
   */
  readonly exposePort?: boolean;
  /**
   * Service-specific variables, merged over `commonEnvironment`.
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Time between SIGTERM and SIGKILL; Fargate allows at most 120 s.
   * @default Duration.seconds(30)
   */
  readonly stopTimeout?: Duration;
  /**
   * Size of the writable /tmp (MiB); it counts against task memory.
   * @default 64
   */
  readonly tmpSizeMiB?: number;
}

/** Share of task memory given to the V8 heap; the rest is buffers, native memory, /tmp and the runtime. */
const HEAP_SHARE = 0.75;

/** The `--max-old-space-size` a task of this size runs with (compose.prod-like.yml uses the same). */
export function heapLimitMiB(memoryMiB: number): number {
  return Math.floor(memoryMiB * HEAP_SHARE);
}
const IMAGE_DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * A Fargate task definition for one role of the single OpenClaw image: runs as uid 1000 with a
 * read-only root and a tmpfs /tmp, `init` as PID 1 so SIGTERM reaches Node, the image's health
 * script declared here because ECS ignores the Dockerfile HEALTHCHECK, a heap cap below the task
 * limit, and JSON logs into a KMS-encrypted log group. Secrets are not in the environment: the
 * runtime reads them from Secrets Manager by ARN.
 */
export class AgentTaskDefinition extends Construct {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AgentTaskDefinitionProps) {
    super(scope, id);
    requireProp(IMAGE_DIGEST.test(props.imageDigest), 'AgentTaskDefinition', 'imageDigest', props.imageDigest, 'pass the sha256:<64 hex> digest CI pushed, not a tag');
    const stopTimeout = props.stopTimeout ?? Duration.seconds(30);
    requireProp(
      stopTimeout.toSeconds() >= 2 && stopTimeout.toSeconds() <= 120,
      'AgentTaskDefinition',
      'stopTimeout',
      `${stopTimeout.toSeconds()}s`,
      'Fargate accepts 2 to 120 seconds',
    );
    const tmpSizeMiB = props.tmpSizeMiB ?? 64;
    requireProp(
      tmpSizeMiB >= 16 && tmpSizeMiB <= props.memoryMiB / 4,
      'AgentTaskDefinition',
      'tmpSizeMiB',
      tmpSizeMiB,
      `tmpfs counts against task memory: use 16 to ${props.memoryMiB / 4} MiB for a ${props.memoryMiB} MiB task`,
    );

    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu,
      memoryLimitMiB: props.memoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: props.logKey,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const linuxParameters = new ecs.LinuxParameters(this, 'Linux', { initProcessEnabled: true });
    linuxParameters.addTmpfs({
      containerPath: '/tmp',
      size: tmpSizeMiB,
      mountOptions: [ecs.TmpfsMountOption.RW, ecs.TmpfsMountOption.NOEXEC, ecs.TmpfsMountOption.NOSUID, ecs.TmpfsMountOption.NODEV],
    });
    const heapMiB = heapLimitMiB(props.memoryMiB);
    this.container = this.taskDefinition.addContainer(props.role, {
      image: ecs.ContainerImage.fromEcrRepository(props.repository, props.imageDigest),
      command: ['node', `dist/${props.role}.js`],
      user: '1000',
      readonlyRootFilesystem: true,
      essential: true,
      // The task's memory is the app's hard limit too (CT.ECS.PR.7); the collector has its own.
      memoryLimitMiB: props.memoryMiB,
      linuxParameters,
      stopTimeout,
      environment: {
        ...props.commonEnvironment,
        ...props.environment,
        PORT: String(props.port),
        NODE_OPTIONS: `--max-old-space-size=${heapMiB}`,
      },
      healthCheck: {
        command: ['CMD', 'node', 'dist/healthcheck.js', props.role],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      portMappings:
        props.exposePort === true ? [{ containerPort: props.port, name: props.role, appProtocol: ecs.AppProtocol.http }] : [],
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: props.role,
        logGroup: this.logGroup,
        // A slow log pipe must not block the event loop (and so the heartbeat).
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    });
    if (props.otelCollectorVersion !== undefined) {
      new OtelCollectorSidecar(this, 'Otel', { taskDefinition: this.taskDefinition, appContainer: this.container, version: props.otelCollectorVersion, logGroup: this.logGroup });
    }
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason: 'The environment holds only non-secret names and URLs (table, queues, secret ARNs, ports); secret values are read from Secrets Manager by ARN at run time.',
    });
    Validations.of(this.taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken (added by ECS for the image pull) has no resource-level permissions; AWS only accepts "*". All other execution-role actions name the repository and log group.',
    });
  }
}
