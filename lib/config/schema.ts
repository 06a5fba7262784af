import { z } from 'zod';
import { agentToolsSchema } from '../../runtime/src/shared/agent-tools';
import { mcpServerListSchema } from '../../runtime/src/shared/mcp-servers';
import { parseGatewayLimits } from '../../runtime/src/shared/gateway-limits';
import { LANE_RETENTION_DAYS } from '../constructs/task-queues';
import { canaryConfigSchema } from './canary';
import { checkStageAgents, stageAgentListSchema } from './agents';

/**
 * The shape of one deployment stage. Everything a stack or construct needs is here and typed;
 * nothing below `bin/` reads context or environment variables.
 */

const deployStage = z.enum(['dev', 'staging', 'prod']);
const account = z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account ID');
const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as us-east-1');

/** Fargate's valid CPU units; memory is validated against them in `fargateSizing`. */
const fargateCpu = z.union([z.literal(256), z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)]);

/** CloudWatch Logs only accepts these retention periods (days). */
const logRetentionDays = z.union([
  z.literal(1),
  z.literal(3),
  z.literal(5),
  z.literal(7),
  z.literal(14),
  z.literal(30),
  z.literal(60),
  z.literal(90),
  z.literal(180),
  z.literal(365),
  z.literal(731),
  z.literal(1827),
  z.literal(3653),
]);

const serviceSizing = z.strictObject({
  /** Fargate CPU units for the whole task (app container plus sidecars). */
  cpu: fargateCpu,
  /** Fargate task memory in MiB; must be valid for `cpu`. */
  memoryMiB: z.number().int().positive(),
  minTasks: z.number().int().min(0),
  maxTasks: z.number().int().min(1).max(1000),
});

const intake = serviceSizing.extend({
  minTasks: z.number().int().min(1),
  /** ALB requests per target per minute that the intake scales to hold. */
  requestsPerTarget: z.number().int().min(10).max(100000),
  /** Percentage of traffic the canary receives before the bake. */
  canaryPercent: z.number().min(0.1).max(100),
  /** How long the canary bakes before the remaining traffic shifts (minutes). */
  canaryBakeMinutes: z.number().int().min(0).max(1440),
});

const gateway = serviceSizing.extend({
  minTasks: z.number().int().min(1),
  /** Average CPU the gateway scales to hold (percent). */
  cpuTargetPercent: z.number().int().min(10).max(90),
  /**
   * The provider limits, lanes, queue, breaker and routing the gateway enforces (GATEWAY_LIMITS;
   * see runtime/src/shared/gateway-limits.ts). Validated here with the runtime's own parser, so a
   * bad value fails synth instead of the deployed gateway's start. Omitted: the runtime defaults.
   */
  limits: z.record(z.string(), z.unknown()).optional(),
  /**
   * The fleet's spend ceiling in US dollars per hour (GATEWAY_SPEND_USD_PER_HOUR), shared by every
   * gateway replica: batch is refused first as it fills, then normal; high keeps a reserved share.
   * Omitted: no ceiling.
   */
  spendCeilingUsdPerHour: z.number().positive().max(1_000_000).optional(),
});

const worker = serviceSizing.extend({
  /** Run on Fargate Spot where interruption is acceptable (the worker checkpoints every step). */
  useSpot: z.boolean(),
  /** Longest a task should wait in the queue before a worker picks it up (seconds). */
  acceptableLatencySeconds: z.number().int().min(10).max(86400),
  /** Average end-to-end task time, measured from the TaskDurationMs metric (seconds). */
  averageTaskSeconds: z.number().int().min(1).max(43200),
  /**
   * The built-in tools of a stage without `agents` (AGENT_TOOLS), validated with the runtime's own
   * schema so an unknown or repeated name fails synth. With `agents`, each agent lists its own.
   * Omitted: the runtime's DEFAULT_AGENT_TOOLS.
   */
  tools: agentToolsSchema.optional(),
  /**
   * MCP servers of a stage without `agents` (MCP_SERVERS), validated with the runtime's own schema.
   * With `agents`, each agent lists its own. The workers get egress to each server's port and read
   * access to its auth secret, nothing more.
   */
  mcpServers: mcpServerListSchema.optional(),
});

export const stageConfigSchema = z
  .strictObject({
    stage: deployStage,
    /** AWS account and region the stage deploys into. */
    env: z.strictObject({ account, region }),
    network: z.strictObject({
      cidr: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/(1[6-8])$/, 'must be an IPv4 CIDR from /16 to /18 (three AZs of /20 task subnets)'),
      /** Explicit AZs keep synth offline (no context lookup). */
      availabilityZones: z.array(z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/)).min(2).max(3),
      /** One NAT gateway per AZ in prod; one shared NAT elsewhere to save cost. */
      natGateways: z.number().int().min(1).max(3),
      /**
       * AWS-managed prefix lists of the S3 and DynamoDB gateway endpoints in this region
       * (`aws ec2 describe-managed-prefix-lists`). Task security groups allow HTTPS to these
       * instead of 0.0.0.0/0, so only the gateway can reach the internet.
       */
      prefixLists: z.strictObject({
        s3: z.string().regex(/^pl-[0-9a-f]{8,17}$/),
        dynamodb: z.string().regex(/^pl-[0-9a-f]{8,17}$/),
      }),
    }),
    ingress: z.strictObject({
      /** ACM certificate for the public HTTPS listener; required in staging and prod. */
      certificateArn: z.string().regex(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/).optional(),
      /** Who may reach the load balancer. */
      allowedCidr: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/),
    }),
    /**
     * The GitHub repository whose Actions deploy this stage (OIDC). Without owner and repo no deploy
     * role is created at all, so a forgotten setting never leaves a role trusting someone else's
     * repository; staging and prod refuse to synthesize without them (placeholders.ts).
     */
    github: z.strictObject({
      owner: z.string().regex(/^[A-Za-z0-9-]{1,39}$/).optional(),
      repo: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/).optional(),
      /** GitHub environment whose jobs may assume the deploy role (`sub` claim). */
      environment: z.string().min(1).max(255),
      /** Reuse an account's existing GitHub OIDC provider instead of creating one. */
      existingOidcProviderArn: z.string().startsWith('arn:aws').optional(),
    }),
    /**
     * Cross-account promotion: CI pushes each build to the dev repository once, and the staging and
     * prod deploy roles copy it from there into their own repositories (deploy.yml). Both sides must
     * allow the pull: the source repository's policy names the pulling accounts, and the pulling
     * role's identity policy names the source repository.
     */
    registry: z
      .strictObject({
        /** Accounts whose GitHub deploy role may pull from this stage's repository (dev: the staging and prod accounts). */
        pullAccounts: z.array(account).default([]),
        /** The repository this stage's deploy role copies images from (staging and prod: dev's). */
        promoteFrom: z
          .strictObject({
            account,
            region,
            repositoryName: z.string().regex(/^[a-z0-9][a-z0-9._/-]{1,255}$/, 'must be an ECR repository name such as openclaw-dev'),
          })
          .optional(),
      })
      .default({ pullAccounts: [] }),
    data: z.strictObject({
      /** Keep tables, queues and keys when the stack is deleted. */
      retain: z.boolean(),
      deletionProtection: z.boolean(),
      /** SQS visibility timeout; the worker heartbeats well inside it (seconds). */
      visibilityTimeoutSeconds: z.number().int().min(30).max(43200),
      /** Receives before a message moves to the DLQ. */
      maxReceiveCount: z.number().int().min(1).max(1000),
      /** How long the DLQ keeps messages for inspection and redrive (days). */
      dlqRetentionDays: z.number().int().min(1).max(14),
      /**
       * Days a task's row, steps, intents and lock are kept after their last write (the row: after
       * it is created, and again after it finishes); the table's TTL deletes them then. At least
       * the lanes' retention plus the DLQ's, so a message still in SQS always finds its row.
       */
      taskRetentionDays: z.number().int().min(1).max(3650),
    }),
    logs: z.strictObject({ retentionDays: logRetentionDays, level: z.enum(['debug', 'info', 'warn', 'error']) }),
    /**
     * ADOT collector sidecar that receives the runtime's OTLP spans on localhost:4318 and sends
     * them to X-Ray. Pulled through the account's ECR pull-through cache of public.ecr.aws, since
     * tasks have no internet access.
     */
    tracing: z.strictObject({
      collector: z.boolean(),
      /** aws-observability/aws-otel-collector release tag. */
      collectorVersion: z.string().regex(/^v\d+\.\d+\.\d+$/, 'must be a release tag such as v0.43.3'),
    }),
    model: z.string().min(1),
    /**
     * The agents tasks can name (lib/config/agents.ts): prompts folder, tools, MCP servers, model
     * tier and default budget each, one of them the default.
     * @default - none: one agent named `default` with `services.worker.tools` and `mcpServers`
     */
    agents: stageAgentListSchema.optional(),
    services: z.strictObject({ intake, gateway, worker }),
    /** Agent canary (lib/config/canary.ts). @default - none: one worker pool, every task stable */
    canary: canaryConfigSchema.optional(),
    alarms: z.strictObject({
      /** Where page-severity alarms go: `page` wakes someone, `ticket` files it, `none` only records. */
      pageRoute: z.enum(['page', 'ticket', 'none']),
      ticketRoute: z.enum(['ticket', 'none']),
      /** E-mail subscriptions per topic (chat or incident tools subscribe outside this app). */
      pageEmails: z.array(z.email()),
      ticketEmails: z.array(z.email()),
      /** Gateway 429 share of requests that raises a ticket (0..1). */
      gateway429Ratio: z.number().gt(0).lt(1),
    }),
  })
  .superRefine((cfg, ctx) => {
    if ((cfg.github.owner === undefined) !== (cfg.github.repo === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['github', cfg.github.owner === undefined ? 'owner' : 'repo'],
        message: 'set github.owner and github.repo together (the repository whose Actions deploy this stage), or neither (no deploy role)',
      });
    }
    if (cfg.stage !== 'dev' && cfg.ingress.certificateArn === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['ingress', 'certificateArn'],
        message: `stage ${cfg.stage} serves the public API and needs HTTPS: set an ACM certificate ARN in the same region`,
      });
    }
    for (const name of ['intake', 'gateway', 'worker'] as const) {
      const svc = cfg.services[name];
      if (svc.minTasks > svc.maxTasks) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'minTasks'],
          message: `minTasks ${svc.minTasks} exceeds maxTasks ${svc.maxTasks}; raise maxTasks or lower minTasks`,
        });
      }
      const allowed = fargateMemoryChoices(svc.cpu);
      if (!allowed.includes(svc.memoryMiB)) {
        ctx.addIssue({
          code: 'custom',
          path: ['services', name, 'memoryMiB'],
          message: `${svc.memoryMiB} MiB is not a valid Fargate size for ${svc.cpu} CPU units; use one of ${allowed.join(', ')}`,
        });
      }
    }
    const limits = cfg.services.gateway.limits;
    if (limits !== undefined) {
      try {
        parseGatewayLimits(limits);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['services', 'gateway', 'limits'], message: err instanceof Error ? err.message : String(err) });
      }
    }
    const messageDays = LANE_RETENTION_DAYS + cfg.data.dlqRetentionDays;
    if (cfg.data.taskRetentionDays < messageDays) {
      ctx.addIssue({
        code: 'custom',
        path: ['data', 'taskRetentionDays'],
        message: `task retention ${cfg.data.taskRetentionDays} days is shorter than a message can live in SQS (lanes ${LANE_RETENTION_DAYS} + DLQ ${cfg.data.dlqRetentionDays} = ${messageDays} days), so a redriven task could find its row deleted; raise taskRetentionDays to at least ${messageDays} or lower dlqRetentionDays`,
      });
    }
    if (cfg.agents !== undefined) {
      checkStageAgents(cfg.agents, cfg.services.gateway.limits, ctx);
      for (const key of ['tools', 'mcpServers'] as const) {
        if (cfg.services.worker[key] !== undefined) {
          ctx.addIssue({ code: 'custom', path: ['services', 'worker', key], message: `the stage defines agents, which list their own ${key}; move these into agents[].${key} and remove services.worker.${key}` });
        }
      }
    }
    const w = cfg.services.worker;
    if (w.acceptableLatencySeconds < w.averageTaskSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['services', 'worker', 'acceptableLatencySeconds'],
        message: `acceptable latency ${w.acceptableLatencySeconds}s is below the average task time ${w.averageTaskSeconds}s, so no backlog is acceptable; raise it to at least the task time`,
      });
    }
  });

/** Valid Fargate memory sizes (MiB) for a CPU size, from the Fargate task size table. */
export function fargateMemoryChoices(cpu: z.infer<typeof fargateCpu>): number[] {
  const range = (from: number, to: number, step: number): number[] =>
    Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);
  switch (cpu) {
    case 256:
      return [512, 1024, 2048];
    case 512:
      return range(1024, 4096, 1024);
    case 1024:
      return range(2048, 8192, 1024);
    case 2048:
      return range(4096, 16384, 1024);
    case 4096:
      return range(8192, 30720, 1024);
  }
}

export type StageConfig = z.infer<typeof stageConfigSchema>;
export type StageConfigInput = z.input<typeof stageConfigSchema>;
export type DeployStage = z.infer<typeof deployStage>;
export type ServiceSizing = z.infer<typeof serviceSizing>;
export type WorkerSizing = z.infer<typeof worker>;
export type IntakeSizing = z.infer<typeof intake>;
export type GatewaySizing = z.infer<typeof gateway>;
export type AlarmRouting = StageConfig['alarms'];
export const DEPLOY_STAGES = deployStage.options;
