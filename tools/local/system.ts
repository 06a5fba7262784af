import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { QueueUrls } from '../../runtime/src/shared/config';
import { CanaryRouter } from '../../runtime/src/intake/canary-router';
import type { MutableCanaryShare } from '../../runtime/src/intake/canary-share';
import { randomBytes } from 'node:crypto';
import { listen, type RunningServer } from '../../runtime/src/shared/http';
import type { Logger } from '../../runtime/src/shared/logger';
import { ApiKeyAuthenticator } from '../../runtime/src/intake/api-keys';
import { hashApiKey } from '../../runtime/src/shared/api-keys';
import { createIntakeHandler } from '../../runtime/src/intake/app';
import { SharedKeyRateLimiter } from '../../runtime/src/intake/shared-rate-limiter';
import { CallbackUrlPolicy } from '../../runtime/src/shared/callback-url-policy';
import { TaskStore } from '../../runtime/src/shared/task-store';
import { WebhookNotifier } from '../../runtime/src/shared/webhooks';
import { staticKeyProvider } from '../../runtime/src/gateway/api-key-provider';
import { createGatewayHandler } from '../../runtime/src/gateway/proxy';
import { DynamoLimitStore } from '../../runtime/src/gateway/limit-store';
import { DynamoBreakerStore } from '../../runtime/src/gateway/breaker-store';
import type { GatewayLimits } from '../../runtime/src/shared/gateway-limits';
import { createWorker } from '../../runtime/src/worker/create-worker';
import { anthropicModelClient } from '../../runtime/src/worker/model-client';
import type { Consumer } from '../../runtime/src/worker/consumer';
import { startDeadLetterSweeper } from '../../runtime/src/worker/dead-letter-wiring';
import { startApprovalSweeper, type ApprovalSweepers } from '../../runtime/src/worker/approval-wiring';
import { DEFAULT_APPROVAL_TIMEOUT_MS } from '../../runtime/src/worker/agent-loop';
import { builtinTools } from '../../runtime/src/worker/tools/catalog';
import { DEFAULT_AGENT_TOOLS } from '../../runtime/src/shared/agent-tools';
import { startDynamoDbLocal, startFauxqs, type RunningEmulator } from './emulators';
import { provisionLocalResources, type LocalResources } from './provision';
import { startStubModel, type StubModel } from './stub-model';
import { trace } from '@opentelemetry/api';
import { gatewayMetricsFrom } from '../../runtime/src/gateway/gateway-metrics';
import { intakeResponseMetrics, tracedHandler } from '../../runtime/src/shared/http-tracing';
import { noopMetrics, type Metrics } from '../../runtime/src/shared/metrics';
import { DIMENSIONS, SERVICES } from '../../runtime/src/shared/metrics-contract';
import type { PromptRegistry } from '../../runtime/src/shared/prompt-registry';
import { TRACER } from '../../runtime/src/shared/spans';
import { IMPLICIT_AGENT_NAME, agentDirectoryOf, type AgentDirectory, type AgentProfile } from '../../runtime/src/shared/agent-profiles';
import { buildWorkerAgents } from '../../runtime/src/worker/worker-agents';
import type { McpToolSource } from '../../runtime/src/worker/mcp/mcp-tool-source';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export interface LocalSystemOptions {
  readonly logger: Logger;
  /** Days task items are kept after their last write (TASK_RETENTION_DAYS), as deployed. */
  readonly taskRetentionDays: number;
  /** Reuse running emulators (tests share one pair); otherwise start them. */
  readonly dynamoEndpoint?: string;
  readonly sqsEndpoint?: string;
  /** Name prefix for tables and queues. @default 'openclaw-local' */
  readonly prefix?: string;
  /** With a key, the gateway calls the real Anthropic API; without, the stub model. */
  readonly anthropicApiKey?: string;
  /** @default 2 */
  readonly workers?: number;
  /** Ports; 0 picks free ones. @default 0 each */
  readonly intakePort?: number;
  readonly gatewayPort?: number;
  /** @default 'claude-sonnet-5' */
  readonly model?: string;
  /** Stub latency per reply. @default 0 */
  readonly stubLatencyMs?: number;
  /** Gateway tiers, lanes, breaker and routing. @default the GATEWAY_LIMITS defaults */
  readonly gatewayLimits?: GatewayLimits;
  /** Worker long-poll wait (short in tests so stop is quick). @default 20 */
  readonly waitTimeSeconds?: number;
  /** Metrics for all services (each binds its Service dimension). @default noopMetrics */
  readonly metrics?: Metrics;
  /** The workers' prompts; their hash is the PromptVersion. @default none (no system prompt) */
  readonly prompts?: PromptRegistry;
  /**
   * Agent profiles, as a stage defines them (AGENTS): every worker runs each of them, with its
   * prompts folder under `promptsRoot`; the intake accepts their names. Replaces `prompts`.
   * @default none: one agent, `default`, with `prompts` and the default tools
   */
  readonly agents?: { readonly profiles: readonly AgentProfile[]; readonly promptsRoot: string };
  /**
   * Agent canary: a candidate worker pool on its own lanes with its own prompts (and model), fed
   * `share` percent of new tasks; the local evaluator rolls it back by setting the share to 0.
   * @default none: one worker pool
   */
  readonly canary?: LocalCanaryOptions;
  /** Hosts that callbacks may reach over plain http (e.g. '127.0.0.1' for a test receiver). @default none: https to public addresses only */
  readonly allowHttpCallbackHosts?: readonly string[];
  /** How often the DLQ is swept (dead-lettered tasks end FAILED), as every deployed worker does. @default 60_000 */
  readonly deadLetterSweepMs?: number;
  /** The lanes' redrive maxReceiveCount. @default 5 */
  readonly maxReceiveCount?: number;
  /** How long a person has to approve a `requires_approval` call (APPROVAL_TIMEOUT_SECONDS). @default 24 h */
  readonly approvalTimeoutMs?: number;
  /** How often the approval sweep runs (expiry as denial, pending metrics), as every deployed worker does. @default 60_000 */
  readonly approvalSweepMs?: number;
}

export interface LocalCanaryOptions {
  /** The candidate's share of new tasks (percent); the evaluator sets it to 0 on a regression. */
  readonly share: MutableCanaryShare;
  /** @default 1 */
  readonly workers?: number;
  /** The candidate's prompts. @default the stable workers' */
  readonly prompts?: PromptRegistry;
  /** With agents: the candidate's prompts root, each agent's folder under it. @default the stable workers' */
  readonly promptsRoot?: string;
  /** @default the stable model */
  readonly model?: string;
}

export interface LocalSystem {
  readonly intakeUrl: string;
  readonly gatewayUrl: string;
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  readonly resources: LocalResources;
  /** The bearer token for the intake, generated for this run. */
  readonly apiKey: string;
  /** Signs the completion webhooks of tasks submitted with `apiKey`. */
  readonly webhookSecret: string;
  readonly stub?: StubModel;
  readonly dynamo: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly workers: readonly Consumer[];
  /** The stable pool's approval sweep (one stands for the fleet's). */
  readonly approvalSweeper: ApprovalSweepers;
  /** The candidate pool's workers and lanes, when a canary runs. */
  readonly canary?: { readonly workers: readonly Consumer[]; readonly queues: QueueUrls };
  stop(): Promise<void>;
}

/** What the intake knows of the agents: their names, the default, their budgets. */
function intakeAgents(profiles: readonly AgentProfile[] | undefined): AgentDirectory {
  if (profiles === undefined) return { agents: [{ name: IMPLICIT_AGENT_NAME, default: true }], defaultAgent: IMPLICIT_AGENT_NAME };
  return { agents: agentDirectoryOf(profiles), defaultAgent: profiles.find((p) => p.default === true)?.name ?? IMPLICIT_AGENT_NAME };
}

/** The whole system on one machine: emulators, stub model, gateway, workers and intake. */
export async function startLocalSystem(options: LocalSystemOptions): Promise<LocalSystem> {
  const logger = options.logger;
  const emulators: RunningEmulator[] = [];
  const servers: RunningServer[] = [];
  try {
    let dynamoEndpoint = options.dynamoEndpoint;
    let sqsEndpoint = options.sqsEndpoint;
    if (dynamoEndpoint === undefined || sqsEndpoint === undefined) {
      const [ddb, sqsEmu] = await Promise.all([startDynamoDbLocal(), startFauxqs()]);
      emulators.push(ddb, sqsEmu);
      dynamoEndpoint ??= ddb.endpoint;
      sqsEndpoint ??= sqsEmu.endpoint;
    }
    const region = 'us-east-1';
    const rawDynamo = new DynamoDBClient({ region, endpoint: dynamoEndpoint, credentials: LOCAL_CREDENTIALS });
    const dynamo = DynamoDBDocumentClient.from(rawDynamo, { marshallOptions: { removeUndefinedValues: true } });
    const sqs = new SQSClient({ region, endpoint: sqsEndpoint, credentials: LOCAL_CREDENTIALS });
    const maxReceiveCount = options.maxReceiveCount ?? 5;
    const resources = await provisionLocalResources(rawDynamo, sqs, { prefix: options.prefix ?? 'openclaw-local', maxReceiveCount });

    let stub: StubModel | undefined;
    let upstreamUrl = 'https://api.anthropic.com';
    if (options.anthropicApiKey === undefined) {
      stub = await startStubModel({ latencyMs: options.stubLatencyMs ?? 0, logger: logger.child({ service: 'stub-model' }) });
      upstreamUrl = stub.url;
    }
    const metrics = options.metrics ?? noopMetrics;
    const serviceMetrics = (service: string) => metrics.with({ [DIMENSIONS.service]: service });
    const gatewayLogger = logger.child({ service: 'gateway' });
    const gateway = await listen(
      tracedHandler(createGatewayHandler({
        upstreamUrl,
        keys: staticKeyProvider(options.anthropicApiKey ?? 'local-stub'),
        logger: gatewayLogger,
        // The same shared state as in AWS: the provisioned gateway table.
        limitStore: new DynamoLimitStore({ client: dynamo, tableName: resources.gatewayTable }),
        breakerStore: new DynamoBreakerStore({ client: dynamo, tableName: resources.gatewayTable }),
        ...(options.gatewayLimits !== undefined ? { limits: options.gatewayLimits } : {}),
        metrics: gatewayMetricsFrom(serviceMetrics(SERVICES.gateway)),
      }), { tracer: trace.getTracer(TRACER.gateway), metrics: serviceMetrics(SERVICES.gateway) }),
      options.gatewayPort ?? 0,
      gatewayLogger,
      '127.0.0.1',
    );
    servers.push(gateway);

    const apiKey = `ocl_${randomBytes(18).toString('base64url')}`;
    const webhookSecret = `whsec_${randomBytes(24).toString('base64url')}`;
    // The local key may also decide approvals, so the human-approval flow works with curl.
    const auth = new ApiKeyAuthenticator([{ name: 'local-dev', sha256: hashApiKey(apiKey), maxPriority: 'high', ratePerMinute: 6000, entitlements: { canApprove: true } }]);
    // The default tools plus the human-approval demo (a prompt with [approval] makes the stub call it).
    const tools = () => builtinTools([...DEFAULT_AGENT_TOOLS, 'publish_announcement'], { dynamo, tableName: resources.tasksTable });
    // As deployed: the worker's signing keys are their own document, apart from the intake's key list.
    const signingKeys = new Map([['local-dev', webhookSecret]]);
    const callbackPolicy = new CallbackUrlPolicy({ allowHttpHosts: options.allowHttpCallbackHosts ?? [] });
    const notifier = new WebhookNotifier({
      store: new TaskStore({ client: dynamo, tableName: resources.tasksTable, retentionDays: options.taskRetentionDays }),
      secretFor: (name) => signingKeys.get(name),
      policy: callbackPolicy,
      logger: logger.child({ service: 'worker' }),
    });

    // Each worker builds its own agents (their tools hold the worker's clients, their MCP sources its connections).
    const toolSources: McpToolSource[] = [];
    const agentsFor = (promptsRoot?: string): { agents?: ReturnType<typeof buildWorkerAgents>['agents'] } => {
      if (options.agents === undefined) return {};
      const built = buildWorkerAgents(options.agents.profiles, {
        promptsRoot: promptsRoot ?? options.agents.promptsRoot,
        toolDeps: { dynamo, tableName: resources.tasksTable },
        // Local MCP servers take no token from Secrets Manager; a profile that names a secret fails its connect.
        secrets: new SecretsManagerClient({ region, endpoint: 'http://127.0.0.1:9', credentials: LOCAL_CREDENTIALS }),
        logger: logger.child({ service: 'worker' }),
      });
      toolSources.push(...built.toolSources);
      return { agents: built.agents };
    };
    const workers = Array.from({ length: options.workers ?? 2 }, (_, i) =>
      createWorker({
        ...agentsFor(),
        dynamo,
        sqs,
        tableName: resources.tasksTable,
        queues: resources.queues,
        model: anthropicModelClient({ baseURL: gateway.url }),
        modelName: options.model ?? 'claude-sonnet-5',
        logger: logger.child({ service: 'worker' }),
        workerId: `local-worker-${i + 1}`,
        taskRetentionDays: options.taskRetentionDays,
        metrics: serviceMetrics(SERVICES.worker),
        ...(options.prompts !== undefined ? { prompts: options.prompts } : {}),
        ...(options.waitTimeSeconds !== undefined ? { waitTimeSeconds: options.waitTimeSeconds } : {}),
        maxReceiveCount,
        notifier,
        tools: tools(),
        ...(options.approvalTimeoutMs !== undefined ? { approvalTimeoutMs: options.approvalTimeoutMs } : {}),
      }),
    );
    const stableSources = toolSources.length;
    await Promise.all(toolSources.map((s) => s.start()));
    await Promise.all(workers.map((w) => w.start()));
    // One sweeper stands for the fleet's (each deployed worker runs one; they share the DLQ).
    const sweeper = startDeadLetterSweeper(
      {
        deadLetter: { queueUrl: resources.dlqUrl, sweepMs: options.deadLetterSweepMs ?? 60_000 },
        tasksTable: resources.tasksTable,
        taskRetentionDays: options.taskRetentionDays,
        maxReceiveCount,
      },
      { dynamo, sqs, logger: logger.child({ service: 'worker' }), notifier },
    );

    let canary: { workers: Consumer[]; queues: QueueUrls } | undefined;
    if (options.canary !== undefined) {
      const lane = async (name: string) => (await sqs.send(new CreateQueueCommand({ QueueName: `${options.prefix ?? 'openclaw-local'}-candidate-${name}` }))).QueueUrl as string;
      const queues = { high: await lane('high'), normal: await lane('normal') };
      const c = options.canary;
      const prompts = c.prompts ?? options.prompts;
      const candidateWorkers = Array.from({ length: c.workers ?? 1 }, (_, i) =>
        createWorker({
          ...agentsFor(c.promptsRoot),
          dynamo,
          sqs,
          tableName: resources.tasksTable,
          queues,
          model: anthropicModelClient({ baseURL: gateway.url }),
          modelName: c.model ?? options.model ?? 'claude-sonnet-5',
          agentVersion: 'candidate',
          logger: logger.child({ service: 'worker', agentVersion: 'candidate' }),
          workerId: `local-candidate-${i + 1}`,
          taskRetentionDays: options.taskRetentionDays,
          metrics: serviceMetrics(SERVICES.worker),
          ...(prompts !== undefined ? { prompts } : {}),
          ...(options.waitTimeSeconds !== undefined ? { waitTimeSeconds: options.waitTimeSeconds } : {}),
          notifier,
          tools: tools(),
          ...(options.approvalTimeoutMs !== undefined ? { approvalTimeoutMs: options.approvalTimeoutMs } : {}),
        }),
      );
      await Promise.all(toolSources.slice(stableSources).map((s) => s.start()));
      await Promise.all(candidateWorkers.map((w) => w.start()));
      workers.push(...candidateWorkers);
      canary = { workers: candidateWorkers, queues };
    }
    // One sweep stands for the fleet's (each deployed worker runs one); as the deployed stable pool
    // does, it also sweeps the candidate's approvals (CANARY_APPROVAL_QUEUE_URLS).
    const approvalSweeper = startApprovalSweeper(
      {
        approvals: {
          timeoutMs: options.approvalTimeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS,
          sweepMs: options.approvalSweepMs ?? 60_000,
          ...(canary !== undefined ? { alsoPool: { pool: 'candidate' as const, queues: canary.queues } } : {}),
        },
        tasksTable: resources.tasksTable,
        taskRetentionDays: options.taskRetentionDays,
        agentVersion: 'stable',
        queues: resources.queues,
      },
      { dynamo, sqs, logger: logger.child({ service: 'worker' }), metrics: serviceMetrics(SERVICES.worker) },
    );

    const intakeLogger = logger.child({ service: 'intake' });
    const intakeMetrics = serviceMetrics(SERVICES.intake);
    const intake = await listen(
      tracedHandler(createIntakeHandler({
        agents: intakeAgents(options.agents?.profiles),
        dynamo,
        sqs,
        tableName: resources.tasksTable,
        queues: resources.queues,
        auth,
        callbackPolicy,
        // As deployed: per-key rates counted in the tasks table.
        rateLimiter: new SharedKeyRateLimiter({ client: dynamo, tableName: resources.tasksTable, logger: intakeLogger }),
        logger: intakeLogger,
        taskRetentionDays: options.taskRetentionDays,
        ...(canary !== undefined && options.canary !== undefined
          ? { router: new CanaryRouter({ stable: resources.queues, candidate: { queues: canary.queues, share: options.canary.share } }) }
          : {}),
      }), { tracer: trace.getTracer(TRACER.intake), metrics: intakeMetrics, onResponse: intakeResponseMetrics(intakeMetrics) }),
      options.intakePort ?? 0,
      intakeLogger,
      '127.0.0.1',
    );
    servers.push(intake);

    return {
      intakeUrl: intake.url,
      gatewayUrl: gateway.url,
      dynamoEndpoint,
      sqsEndpoint,
      resources,
      apiKey,
      webhookSecret,
      ...(stub !== undefined ? { stub } : {}),
      dynamo,
      sqs,
      workers,
      approvalSweeper,
      ...(canary !== undefined ? { canary } : {}),
      stop: async () => {
        await Promise.all([...workers.map((w) => w.stop(5000)), sweeper?.stop(), approvalSweeper.stop()]);
        await Promise.all(toolSources.map((s) => s.stop()));
        await Promise.all(servers.map((s) => s.close()));
        await stub?.close();
        await Promise.all(emulators.map((e) => e.stop()));
        dynamo.destroy();
        sqs.destroy();
      },
    };
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    await Promise.all(emulators.map((e) => e.stop()));
    throw err;
  }
}
