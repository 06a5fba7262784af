import { z } from 'zod';
import { ConfigError } from './errors';
import { PORTS } from './ports';
import { DEFAULT_TASK_RETENTION_DAYS } from './task-retention';
import { parseGatewayLimitsJson, type GatewayLimits } from './gateway-limits';
import { AGENT_VERSIONS, CANARY_SHARE_PATTERN, parseCanaryShare, type AgentVersion } from './agent-version';
import { parseMcpServersJson, type McpServerConfig } from './mcp-servers';
import { DEFAULT_AGENT_TOOLS, agentToolsEnvSchema, type BuiltinToolName } from './agent-tools';
import { IMPLICIT_AGENT_NAME, parseAgentDirectoryJson, parseAgentProfilesJson, type AgentDirectory, type AgentProfile, type AgentSet } from './agent-profiles';

/**
 * The environment contract of the runtime. The CDK task definitions set exactly these variables;
 * `npm start` sets them for the local system. Parsed once, at process start, and passed down typed:
 * nothing below the entry points reads `process.env`.
 */
export const ENV = {
  stage: 'STAGE',
  region: 'AWS_REGION',
  logLevel: 'LOG_LEVEL',
  dynamoEndpoint: 'AWS_ENDPOINT_URL_DYNAMODB',
  sqsEndpoint: 'AWS_ENDPOINT_URL_SQS',
  tasksTable: 'TASKS_TABLE',
  gatewayTable: 'GATEWAY_TABLE',
  queueUrlHigh: 'QUEUE_URL_HIGH',
  queueUrlNormal: 'QUEUE_URL_NORMAL',
  port: 'PORT',
  gatewayUrl: 'GATEWAY_URL',
  model: 'MODEL',
  workerId: 'WORKER_ID',
  upstreamUrl: 'UPSTREAM_URL',
  anthropicSecretArn: 'ANTHROPIC_SECRET_ARN',
  anthropicApiKey: 'ANTHROPIC_API_KEY',
  apiKeysSecretArn: 'API_KEYS_SECRET_ARN',
  apiKeys: 'INTAKE_API_KEYS',
  webhookSigningSecretArn: 'WEBHOOK_SIGNING_SECRET_ARN',
  webhookSigningKeys: 'WEBHOOK_SIGNING_KEYS',
  visibilityTimeoutSeconds: 'VISIBILITY_TIMEOUT_SECONDS',
  leaseMs: 'LEASE_MS',
  heartbeatMs: 'HEARTBEAT_MS',
  maxReceiveCount: 'MAX_RECEIVE_COUNT',
  workerConcurrency: 'WORKER_CONCURRENCY',
  waitTimeSeconds: 'WAIT_TIME_SECONDS',
  drainTimeoutMs: 'DRAIN_TIMEOUT_MS',
  killSwitchParam: 'KILL_SWITCH_PARAM',
  killSwitchIntervalMs: 'KILL_SWITCH_INTERVAL_MS',
  ecsAgentUri: 'ECS_AGENT_URI',
  protectionMinutes: 'PROTECTION_EXPIRES_MINUTES',
  contextTokens: 'CONTEXT_TOKENS',
  maxToolOutputBytes: 'MAX_TOOL_OUTPUT_BYTES',
  gatewayLimits: 'GATEWAY_LIMITS',
  gatewayDrainMs: 'GATEWAY_DRAIN_MS',
  gatewaySpendUsdPerHour: 'GATEWAY_SPEND_USD_PER_HOUR',
  taskRetentionDays: 'TASK_RETENTION_DAYS',
  deadLetterQueueUrl: 'DEAD_LETTER_QUEUE_URL',
  deadLetterSweepMs: 'DEAD_LETTER_SWEEP_MS',
  extraDeadLetterQueueUrls: 'EXTRA_DEAD_LETTER_QUEUE_URLS',
  canaryApprovalQueueUrls: 'CANARY_APPROVAL_QUEUE_URLS',
  agentVersion: 'AGENT_VERSION',
  canaryQueueUrlHigh: 'CANARY_QUEUE_URL_HIGH',
  canaryQueueUrlNormal: 'CANARY_QUEUE_URL_NORMAL',
  canaryShareParam: 'CANARY_SHARE_PARAM',
  canaryShare: 'CANARY_SHARE',
  canaryShareCacheMs: 'CANARY_SHARE_CACHE_MS',
  agentTools: 'AGENT_TOOLS',
  mcpServers: 'MCP_SERVERS',
  agents: 'AGENTS',
  intakeAgents: 'INTAKE_AGENTS',
  loopSameCall: 'LOOP_SAME_CALL_LIMIT',
  loopCycleRepeats: 'LOOP_CYCLE_REPEATS',
  loopMaxCycleLength: 'LOOP_MAX_CYCLE_LENGTH',
  approvalTimeoutSeconds: 'APPROVAL_TIMEOUT_SECONDS',
  approvalSweepMs: 'APPROVAL_SWEEP_MS',
  callRecordFile: 'CALL_RECORD_FILE',
  callbackHttpHosts: 'CALLBACK_HTTP_HOSTS',
  queueDemandIntervalMs: 'QUEUE_DEMAND_INTERVAL_MS',
  intakeBatchWrites: 'INTAKE_BATCH_WRITES',
} as const;

export { PORTS };

const stageSchema = z.enum(['local', 'dev', 'staging', 'prod']);
const logLevelSchema = z.enum(['debug', 'info', 'warn', 'error']);
const urlSchema = z.url();
/**
 * Queue URLs: fauxqs (local) names its queues `http://sqs.<region>.127.0.0.1:<port>/<account>/<name>`,
 * which the WHATWG URL parser (and so z.url()) rejects because the host ends in a number. The SDK
 * only passes the queue URL as a parameter, so a plain shape check is what matters.
 */
const queueUrlSchema = z.string().regex(/^https?:\/\/[^\s/]+\/\S+$/, 'must look like https://sqs.<region>.amazonaws.com/<account>/<queue>');

const commonShape = {
  [ENV.stage]: stageSchema.default('local'),
  [ENV.region]: z.string().min(1).default('us-east-1'),
  [ENV.logLevel]: logLevelSchema.default('info'),
  [ENV.dynamoEndpoint]: urlSchema.optional(),
  [ENV.sqsEndpoint]: urlSchema.optional(),
  [ENV.tasksTable]: z.string().min(3),
  // Tests only (never set by a task definition): append every AWS call and outbound connection to this JSONL file.
  [ENV.callRecordFile]: z.string().min(1).optional(),
};

const portSchema = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

/** Days task items are kept after their last write (the table's TTL deletes them then); the CDK sets it per stage. */
const RETENTION_FIX = 'must be a whole number of days from 1 to 3650 (how long finished tasks, their steps and locks are kept); unset means 30';
export const taskRetentionDaysSchema = z.coerce
  .number({ error: RETENTION_FIX })
  .int(RETENTION_FIX)
  .min(1, RETENTION_FIX)
  .max(3650, RETENTION_FIX)
  .default(DEFAULT_TASK_RETENTION_DAYS);

/**
 * Hosts that callbacks may reach over plain http, for a local run's webhook receiver (comma-separated).
 * Refused outside STAGE=local: deployed callbacks are https to public addresses only.
 */
const callbackHttpHostsSchema = z
  .string()
  .regex(/^[A-Za-z0-9.:-]+(,[A-Za-z0-9.:-]+)*$/, 'must be a comma-separated list of host names or addresses, e.g. 127.0.0.1')
  .optional();

const intakeSchema = z.object({
  ...commonShape,
  [ENV.callbackHttpHosts]: callbackHttpHostsSchema,
  [ENV.queueUrlHigh]: queueUrlSchema,
  [ENV.queueUrlNormal]: queueUrlSchema,
  [ENV.port]: portSchema(PORTS.intake),
  [ENV.apiKeysSecretArn]: z.string().startsWith('arn:').optional(),
  [ENV.apiKeys]: z.string().min(2).optional(),
  [ENV.taskRetentionDays]: taskRetentionDaysSchema,
  // The agent canary (runtime/src/intake/canary-router.ts): the candidate pool's lanes and its share.
  [ENV.canaryQueueUrlHigh]: queueUrlSchema.optional(),
  [ENV.canaryQueueUrlNormal]: queueUrlSchema.optional(),
  [ENV.canaryShareParam]: z.string().min(1).optional(),
  [ENV.canaryShare]: z.string().regex(new RegExp(CANARY_SHARE_PATTERN), 'must be a percentage from 0 to 100 (at most two decimals)').optional(),
  [ENV.canaryShareCacheMs]: z.coerce.number().int().min(0).max(300_000).default(15_000),
  // The stage's agents as the intake needs them (JSON; see runtime/src/shared/agent-profiles.ts).
  [ENV.intakeAgents]: z.string().optional(),
  // Group commit on the accept path (runtime/src/intake/app.ts `batchWrites`).
  [ENV.intakeBatchWrites]: z.enum(['on', 'off'], { error: 'must be "on" (rows and messages submitted together are written together) or "off" (one write per task); unset means on' }).default('on'),
  // The queue-demand publisher (runtime/src/shared/queue-demand-publisher.ts); unset locally: no CloudWatch.
  [ENV.queueDemandIntervalMs]: z.coerce.number().int().min(1000, 'must be at least 1000 (ms between readings of the lanes)').max(60_000, 'must be at most 60000: alarms need a reading per minute').optional(),
});

const APPROVAL_TIMEOUT_FIX = 'must be whole seconds from 60 to 2592000 (30 days): how long a person has to approve a requires_approval tool call before it counts as denied; unset means 86400 (24 h)';

const workerSchema = z.object({
  ...commonShape,
  [ENV.callbackHttpHosts]: callbackHttpHostsSchema,
  [ENV.queueUrlHigh]: queueUrlSchema,
  [ENV.queueUrlNormal]: queueUrlSchema,
  [ENV.port]: portSchema(PORTS.worker),
  [ENV.gatewayUrl]: urlSchema,
  [ENV.model]: z.string().min(1).default('claude-sonnet-5'),
  [ENV.workerId]: z.string().min(1).optional(),
  // Must equal the queue's VisibilityTimeout (the CDK sets both from one value).
  [ENV.visibilityTimeoutSeconds]: z.coerce.number().int().min(10).max(43_200).default(300),
  [ENV.leaseMs]: z.coerce.number().int().min(2000).default(60_000),
  [ENV.heartbeatMs]: z.coerce.number().int().min(200).optional(),
  // Must equal the redrive policy's maxReceiveCount.
  [ENV.maxReceiveCount]: z.coerce.number().int().min(1).max(1000).default(5),
  [ENV.workerConcurrency]: z.coerce.number().int().min(1).max(64).default(1),
  [ENV.waitTimeSeconds]: z.coerce.number().int().min(0).max(20).default(20),
  // ECS stopTimeout is at most 120 s; the drain must end before SIGKILL.
  [ENV.drainTimeoutMs]: z.coerce.number().int().min(1000).max(120_000).default(90_000),
  [ENV.killSwitchParam]: z.string().min(1).optional(),
  [ENV.killSwitchIntervalMs]: z.coerce.number().int().min(1000).default(30_000),
  [ENV.ecsAgentUri]: urlSchema.optional(),
  [ENV.protectionMinutes]: z.coerce.number().int().min(1).max(2880).default(60),
  [ENV.contextTokens]: z.coerce.number().int().min(1000).default(150_000),
  [ENV.maxToolOutputBytes]: z.coerce.number().int().min(1024).max(350_000).default(65_536),
  // The webhook-signing keys (API-key name -> signing key), the worker's only secret.
  [ENV.webhookSigningSecretArn]: z.string().startsWith('arn:').optional(),
  [ENV.webhookSigningKeys]: z.string().min(2).optional(),
  [ENV.taskRetentionDays]: taskRetentionDaysSchema,
  // The lanes' DLQ: set, every worker also sweeps it so dead-lettered tasks end FAILED.
  [ENV.deadLetterQueueUrl]: queueUrlSchema.optional(),
  [ENV.deadLetterSweepMs]: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  // Other pools' DLQs this worker sweeps too (comma-separated): the stable pool sweeps the canary's,
  // whose own workers may have scaled to zero after a rollback.
  [ENV.extraDeadLetterQueueUrls]: z
    .string()
    .transform((v) => v.split(',').map((u) => u.trim()).filter((u) => u !== ''))
    .pipe(z.array(queueUrlSchema))
    .optional(),
  // The canary pool's lanes, high then normal (comma-separated): the stable pool sweeps the
  // candidate's approvals too, since a rolled-back candidate scales to zero and its sweep with it.
  [ENV.canaryApprovalQueueUrls]: z
    .string()
    .transform((v) => v.split(',').map((u) => u.trim()))
    .pipe(z.tuple([queueUrlSchema, queueUrlSchema], { error: 'must be two queue URLs, the canary pool\'s high lane then its normal lane, separated by a comma' }))
    .optional(),
  // Which pool this worker is (agent canary): the AgentVersion dimension and span attribute.
  [ENV.agentVersion]: z.enum(AGENT_VERSIONS).default('stable'),
  // The built-in tools the agent offers the model (comma-separated; see runtime/src/shared/agent-tools.ts).
  [ENV.agentTools]: agentToolsEnvSchema.optional(),
  // MCP servers the agent takes tools from (JSON; see runtime/src/shared/mcp-servers.ts).
  [ENV.mcpServers]: z.string().optional(),
  // The stage's agents (JSON; see runtime/src/shared/agent-profiles.ts); unset: one agent from the three above.
  [ENV.agents]: z.string().optional(),
  // Loop detection (runtime/src/worker/loop-detector.ts): same tool + same input N times, or a cycle repeated.
  [ENV.loopSameCall]: z.coerce.number().int().min(2).max(100).default(3),
  [ENV.loopCycleRepeats]: z.coerce.number().int().min(2).max(100).default(2),
  [ENV.loopMaxCycleLength]: z.coerce.number().int().min(2).max(20).default(4),
  // Durable human approval (runtime/src/worker/approval-sweeper.ts): how long a person has to decide, and how often expiry is swept.
  [ENV.approvalTimeoutSeconds]: z.coerce
    .number({ error: APPROVAL_TIMEOUT_FIX })
    .int(APPROVAL_TIMEOUT_FIX)
    .min(60, APPROVAL_TIMEOUT_FIX)
    .max(30 * 86_400, APPROVAL_TIMEOUT_FIX)
    .default(86_400),
  [ENV.approvalSweepMs]: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
});

const gatewaySchema = z.object({
  ...commonShape,
  [ENV.port]: portSchema(PORTS.gateway),
  [ENV.gatewayTable]: z.string().min(3).optional(),
  [ENV.upstreamUrl]: urlSchema.default('https://api.anthropic.com'),
  [ENV.anthropicSecretArn]: z.string().startsWith('arn:').optional(),
  [ENV.anthropicApiKey]: z.string().min(1).optional(),
  [ENV.gatewayLimits]: z.string().optional(),
  // The CDK sets it below the task's ECS stopTimeout (at most 120 s): calls in flight finish before SIGKILL.
  [ENV.gatewayDrainMs]: z.coerce.number().int().min(1000).max(120_000).default(25_000),
  // The fleet's spend ceiling (stage config services.gateway.spendCeilingUsdPerHour); unset: none.
  [ENV.gatewaySpendUsdPerHour]: z.coerce.number().positive().optional(),
});

/**
 * Each service's environment schema, for the contract tests that check the task definitions set
 * only variables their service reads, and every variable it requires.
 */
export const SERVICE_ENV_SCHEMAS = { intake: intakeSchema, worker: workerSchema, gateway: gatewaySchema } as const;

export type Stage = z.infer<typeof stageSchema>;
export type LogLevel = z.infer<typeof logLevelSchema>;

/** What every service needs to reach AWS (or the local emulators). */
export interface AwsConfig {
  readonly region: string;
  /** Set only for local emulators. */
  readonly dynamoEndpoint?: string;
  /** Set only for local emulators. */
  readonly sqsEndpoint?: string;
}

export interface CommonConfig {
  readonly stage: Stage;
  readonly logLevel: LogLevel;
  readonly aws: AwsConfig;
  readonly tasksTable: string;
  /** Tests only: where AWS calls and outbound connections are recorded (runtime/src/shared/call-recording.ts); unset, nothing is. */
  readonly callRecordFile?: string;
}

export interface QueueUrls {
  readonly high: string;
  readonly normal: string;
}

export interface IntakeConfig extends CommonConfig {
  readonly port: number;
  readonly queues: QueueUrls;
  /** Where API keys are stored in AWS; `apiKeysJson` is the local alternative. */
  readonly apiKeysSecretArn?: string;
  readonly apiKeysJson?: string;
  /** Days a task row is kept after it is created or finishes (TASK_RETENTION_DAYS). */
  readonly taskRetentionDays: number;
  /** The candidate pool, when the stage runs an agent canary; unset: every task goes to the stable lanes. */
  readonly canary?: IntakeCanaryConfig;
  /** The agents a task may name, the default, their default budgets (INTAKE_AGENTS); unset: the one implicit agent. */
  readonly agents: AgentDirectory;
  /** Local runs only: callback hosts allowed over plain http (CALLBACK_HTTP_HOSTS). */
  readonly callbackHttpHosts: readonly string[];
  /** Publish the stable lanes' demand to CloudWatch this often (QUEUE_DEMAND_INTERVAL_MS); unset: do not. */
  readonly queueDemandIntervalMs?: number;
  /** Group-commit the accept path's row writes and sends (INTAKE_BATCH_WRITES, default on). */
  readonly batchWrites: boolean;
}

export interface IntakeCanaryConfig {
  /** The candidate pool's lanes (CANARY_QUEUE_URL_HIGH/NORMAL). */
  readonly queues: QueueUrls;
  /** SSM parameter holding the share in percent (CANARY_SHARE_PARAM); read with a short cache. */
  readonly shareParam?: string;
  /** A fixed share in percent when there is no parameter (CANARY_SHARE; local runs). */
  readonly share?: number;
  /** How long a read share is reused (CANARY_SHARE_CACHE_MS). */
  readonly shareCacheMs: number;
}

export interface WorkerConfig extends CommonConfig {
  readonly port: number;
  readonly queues: QueueUrls;
  readonly gatewayUrl: string;
  readonly model: string;
  readonly workerId?: string;
  /** Where the webhook-signing keys are stored in AWS; `webhookSigningKeysJson` is the local alternative. Without either, no completion webhooks are sent. */
  readonly webhookSigningSecretArn?: string;
  readonly webhookSigningKeysJson?: string;
  /** Days task items (row, steps, intents, lock) are kept after their last write (TASK_RETENTION_DAYS). */
  readonly taskRetentionDays: number;
  /** Durability knobs of the consumer; see runtime/src/worker/README.md. */
  readonly durability: WorkerDurabilityConfig;
  /**
   * The lanes' DLQ, swept every `sweepMs` (runtime/src/worker/dead-letter-sweeper.ts); unset, no sweep.
   * `alsoQueueUrls` are other pools' DLQs swept the same way (EXTRA_DEAD_LETTER_QUEUE_URLS).
   */
  readonly deadLetter?: { readonly queueUrl: string; readonly sweepMs: number; readonly alsoQueueUrls?: readonly string[] };
  /** Which pool this worker belongs to (AGENT_VERSION): `stable`, or `candidate` in an agent canary. */
  readonly agentVersion: AgentVersion;
  /** The built-in tools offered to the model (AGENT_TOOLS); unset: DEFAULT_AGENT_TOOLS. */
  readonly tools: readonly BuiltinToolName[];
  /** MCP servers whose tools are offered too (MCP_SERVERS); unset: none. */
  readonly mcpServers: readonly McpServerConfig[];
  /**
   * The agents this worker runs (AGENTS), each with its prompts, tools, MCP servers and model; unset:
   * one agent named `default` made of PROMPTS_DIR, AGENT_TOOLS, MCP_SERVERS and MODEL.
   */
  readonly agents: AgentSet<AgentProfile>;
  /** When repeated tool calls count as a loop (LOOP_SAME_CALL_LIMIT, LOOP_CYCLE_REPEATS, LOOP_MAX_CYCLE_LENGTH). */
  readonly loopThresholds: { readonly sameCall: number; readonly cycleRepeats: number; readonly maxCycleLength: number };
  /** Human approval: time to decide (APPROVAL_TIMEOUT_SECONDS) and the expiry sweep's period (APPROVAL_SWEEP_MS). */
  readonly approvals: {
    readonly timeoutMs: number;
    readonly sweepMs: number;
    /** Another pool whose approvals this worker sweeps too, queuing them on that pool's lanes (CANARY_APPROVAL_QUEUE_URLS). */
    readonly alsoPool?: { readonly pool: AgentVersion; readonly queues: QueueUrls };
  };
  /** Local runs only: callback hosts allowed over plain http (CALLBACK_HTTP_HOSTS). */
  readonly callbackHttpHosts: readonly string[];
}

export interface WorkerDurabilityConfig {
  readonly visibilityTimeoutSeconds: number;
  readonly leaseMs: number;
  /** Unset: visibility / 3, capped at leaseMs / 4. */
  readonly heartbeatMs?: number;
  readonly maxReceiveCount: number;
  readonly concurrency: number;
  readonly waitTimeSeconds: number;
  readonly drainTimeoutMs: number;
  /** SSM parameter whose value "paused" or "true" pauses polling; unset: never paused. */
  readonly killSwitchParam?: string;
  readonly killSwitchIntervalMs: number;
  /** Set by ECS; unset locally, where scale-in protection is a no-op. */
  readonly ecsAgentUri?: string;
  readonly protectionExpiresMinutes: number;
  readonly contextTokens: number;
  readonly maxToolOutputBytes: number;
}

export interface GatewayConfig extends CommonConfig {
  readonly port: number;
  readonly gatewayTable?: string;
  readonly upstreamUrl: string;
  readonly anthropicSecretArn?: string;
  /** Local only: never logged, never part of an error. */
  readonly anthropicApiKey?: string;
  /** Tiers, lanes, queue, breaker and routing, from GATEWAY_LIMITS (JSON) or the defaults. */
  readonly limits: GatewayLimits;
  /** How long SIGTERM waits for calls and streams in flight before closing connections (ms). */
  readonly drainMs: number;
  /** The fleet's spend ceiling in USD per hour; unset: no ceiling. */
  readonly spendCeilingUsdPerHour?: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Parse with a schema and turn zod's issues into one message per key that names the variable,
 * the value received (never for secret-bearing keys) and what to set instead.
 */
function parseEnv<S extends z.ZodType>(schema: S, env: Env, service: string): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const secretKeys = new Set<string>([ENV.anthropicApiKey, ENV.apiKeys, ENV.webhookSigningKeys]);
  const lines = result.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '(root)');
    const raw = env[key];
    const shown = raw === undefined ? 'unset' : secretKeys.has(key) ? '(redacted)' : JSON.stringify(raw);
    return `${key}=${shown}: ${issue.message}`;
  });
  throw new ConfigError(`Invalid ${service} configuration; set these environment variables:\n  ${lines.join('\n  ')}`, {
    service,
    keys: result.error.issues.map((i) => String(i.path[0] ?? '')),
  });
}

/** `{ key: value }` when the value is set, `{}` otherwise (exactOptionalPropertyTypes-safe). */
export function definedOnly<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function common(raw: z.infer<z.ZodObject<typeof commonShape>>): CommonConfig {
  const aws: AwsConfig = {
    region: raw[ENV.region],
    ...definedOnly('dynamoEndpoint', raw[ENV.dynamoEndpoint]),
    ...definedOnly('sqsEndpoint', raw[ENV.sqsEndpoint]),
  };
  return { stage: raw[ENV.stage], logLevel: raw[ENV.logLevel], aws, tasksTable: raw[ENV.tasksTable], ...definedOnly('callRecordFile', raw[ENV.callRecordFile]) };
}

/** CALLBACK_HTTP_HOSTS as a list; set outside STAGE=local it is a configuration error, never a silent downgrade. */
function callbackHttpHosts(value: string | undefined, stage: Stage, service: string): string[] {
  if (value === undefined) return [];
  if (stage !== 'local') {
    throw new ConfigError(`Invalid ${service} configuration: ${ENV.callbackHttpHosts}=${JSON.stringify(value)} is for local runs only (STAGE=local); unset it, deployed callbacks are https to public addresses`, { service });
  }
  return value.split(',');
}

export function loadIntakeConfig(env: Env): IntakeConfig {
  const raw = parseEnv(intakeSchema, env, 'intake');
  if (raw[ENV.apiKeysSecretArn] === undefined && raw[ENV.apiKeys] === undefined) {
    throw new ConfigError(
      `Invalid intake configuration: set ${ENV.apiKeysSecretArn} (AWS) or ${ENV.apiKeys} (local JSON) so requests can be authenticated`,
      { service: 'intake' },
    );
  }
  return {
    ...common(raw),
    port: raw[ENV.port],
    queues: { high: raw[ENV.queueUrlHigh], normal: raw[ENV.queueUrlNormal] },
    ...definedOnly('apiKeysSecretArn', raw[ENV.apiKeysSecretArn]),
    ...definedOnly('apiKeysJson', raw[ENV.apiKeys]),
    taskRetentionDays: raw[ENV.taskRetentionDays],
    ...definedOnly('canary', intakeCanary(raw)),
    agents: parseAgentDirectoryJson(raw[ENV.intakeAgents], ENV.intakeAgents),
    callbackHttpHosts: callbackHttpHosts(raw[ENV.callbackHttpHosts], raw[ENV.stage], 'intake'),
    ...definedOnly('queueDemandIntervalMs', raw[ENV.queueDemandIntervalMs]),
    batchWrites: raw[ENV.intakeBatchWrites] === 'on',
  };
}

/** The canary settings are all or nothing: lanes without a share (or a share without lanes) is a mistake. */
function intakeCanary(raw: z.infer<typeof intakeSchema>): IntakeCanaryConfig | undefined {
  const high = raw[ENV.canaryQueueUrlHigh];
  const normal = raw[ENV.canaryQueueUrlNormal];
  const param = raw[ENV.canaryShareParam];
  const share = parseCanaryShare(raw[ENV.canaryShare]);
  const anySet = [high, normal, param, share].some((v) => v !== undefined);
  if (!anySet) return undefined;
  if (high === undefined || normal === undefined || (param === undefined && share === undefined)) {
    throw new ConfigError(
      `Invalid intake configuration: an agent canary needs ${ENV.canaryQueueUrlHigh}, ${ENV.canaryQueueUrlNormal} and one of ${ENV.canaryShareParam} (SSM parameter) or ${ENV.canaryShare} (fixed percent); ` +
        `got ${[ENV.canaryQueueUrlHigh, ENV.canaryQueueUrlNormal, ENV.canaryShareParam, ENV.canaryShare].map((k) => `${k}=${raw[k] === undefined ? 'unset' : 'set'}`).join(', ')}. Set the missing ones or unset all of them`,
      { service: 'intake' },
    );
  }
  return {
    queues: { high, normal },
    ...definedOnly('shareParam', param),
    ...definedOnly('share', share),
    shareCacheMs: raw[ENV.canaryShareCacheMs],
  };
}

function deadLetterOf(queueUrl: string | undefined, sweepMs: number, also: readonly string[] | undefined): Pick<WorkerConfig, 'deadLetter'> {
  if (queueUrl === undefined) return {};
  const extra = (also ?? []).filter((u) => u !== queueUrl);
  return { deadLetter: { queueUrl, sweepMs, ...(extra.length === 0 ? {} : { alsoQueueUrls: extra }) } };
}

/**
 * AGENTS, or the one implicit agent. AGENTS lists each agent's tools and servers, so AGENT_TOOLS or
 * MCP_SERVERS beside it would be a second, ignored answer: refused.
 */
function workerAgents(raw: z.infer<typeof workerSchema>, tools: readonly BuiltinToolName[], mcpServers: readonly McpServerConfig[]): AgentSet<AgentProfile> {
  const json = raw[ENV.agents];
  if (json === undefined || json.trim() === '') {
    return { agents: [{ name: IMPLICIT_AGENT_NAME, default: true, prompts: '.', tools: [...tools], mcpServers: [...mcpServers] }], defaultAgent: IMPLICIT_AGENT_NAME };
  }
  const both = [ENV.agentTools, ENV.mcpServers].filter((k) => raw[k] !== undefined);
  if (both.length > 0) {
    throw new ConfigError(`Invalid worker configuration: ${both.join(' and ')} cannot be set beside ${ENV.agents}; list tools and MCP servers per agent in ${ENV.agents} and unset ${both.join(', ')}`, {
      service: 'worker',
      keys: both,
    });
  }
  return parseAgentProfilesJson(json, ENV.agents);
}

/** The candidate's approvals, swept by the stable pool; a candidate worker sweeping them twice is a mistake. */
function canaryApprovals(raw: z.infer<typeof workerSchema>): Pick<WorkerConfig['approvals'], 'alsoPool'> {
  const lanes = raw[ENV.canaryApprovalQueueUrls];
  if (lanes === undefined) return {};
  if (raw[ENV.agentVersion] !== 'stable') {
    throw new ConfigError(`Invalid worker configuration: ${ENV.canaryApprovalQueueUrls} is for the stable pool (it sweeps the candidate's approvals); unset it on ${ENV.agentVersion}=${raw[ENV.agentVersion]}`, {
      service: 'worker',
    });
  }
  return { alsoPool: { pool: 'candidate', queues: { high: lanes[0], normal: lanes[1] } } };
}

export function loadWorkerConfig(env: Env): WorkerConfig {
  const raw = parseEnv(workerSchema, env, 'worker');
  const tools = raw[ENV.agentTools] ?? DEFAULT_AGENT_TOOLS;
  const mcpServers = parseMcpServersJson(raw[ENV.mcpServers], ENV.mcpServers);
  return {
    ...common(raw),
    port: raw[ENV.port],
    queues: { high: raw[ENV.queueUrlHigh], normal: raw[ENV.queueUrlNormal] },
    gatewayUrl: raw[ENV.gatewayUrl],
    model: raw[ENV.model],
    ...definedOnly('workerId', raw[ENV.workerId]),
    ...definedOnly('webhookSigningSecretArn', raw[ENV.webhookSigningSecretArn]),
    ...definedOnly('webhookSigningKeysJson', raw[ENV.webhookSigningKeys]),
    taskRetentionDays: raw[ENV.taskRetentionDays],
    tools,
    mcpServers,
    agents: workerAgents(raw, tools, mcpServers),
    loopThresholds: { sameCall: raw[ENV.loopSameCall], cycleRepeats: raw[ENV.loopCycleRepeats], maxCycleLength: raw[ENV.loopMaxCycleLength] },
    approvals: { timeoutMs: raw[ENV.approvalTimeoutSeconds] * 1000, sweepMs: raw[ENV.approvalSweepMs], ...canaryApprovals(raw) },
    durability: {
      visibilityTimeoutSeconds: raw[ENV.visibilityTimeoutSeconds],
      leaseMs: raw[ENV.leaseMs],
      ...definedOnly('heartbeatMs', raw[ENV.heartbeatMs]),
      maxReceiveCount: raw[ENV.maxReceiveCount],
      concurrency: raw[ENV.workerConcurrency],
      waitTimeSeconds: raw[ENV.waitTimeSeconds],
      drainTimeoutMs: raw[ENV.drainTimeoutMs],
      ...definedOnly('killSwitchParam', raw[ENV.killSwitchParam]),
      killSwitchIntervalMs: raw[ENV.killSwitchIntervalMs],
      ...definedOnly('ecsAgentUri', raw[ENV.ecsAgentUri]),
      protectionExpiresMinutes: raw[ENV.protectionMinutes],
      contextTokens: raw[ENV.contextTokens],
      maxToolOutputBytes: raw[ENV.maxToolOutputBytes],
    },
    ...deadLetterOf(raw[ENV.deadLetterQueueUrl], raw[ENV.deadLetterSweepMs], raw[ENV.extraDeadLetterQueueUrls]),
    agentVersion: raw[ENV.agentVersion],
    callbackHttpHosts: callbackHttpHosts(raw[ENV.callbackHttpHosts], raw[ENV.stage], 'worker'),
  };
}

export function loadGatewayConfig(env: Env): GatewayConfig {
  const raw = parseEnv(gatewaySchema, env, 'gateway');
  return {
    ...common(raw),
    port: raw[ENV.port],
    upstreamUrl: raw[ENV.upstreamUrl],
    ...definedOnly('gatewayTable', raw[ENV.gatewayTable]),
    ...definedOnly('anthropicSecretArn', raw[ENV.anthropicSecretArn]),
    ...definedOnly('anthropicApiKey', raw[ENV.anthropicApiKey]),
    limits: parseGatewayLimitsJson(raw[ENV.gatewayLimits]),
    drainMs: raw[ENV.gatewayDrainMs],
    ...definedOnly('spendCeilingUsdPerHour', raw[ENV.gatewaySpendUsdPerHour]),
  };
}
