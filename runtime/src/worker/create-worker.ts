import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { hostname } from 'node:os';
import { definedOnly, type QueueUrls } from '../shared/config';
import type { Logger } from '../shared/logger';
import type { AgentVersion } from '../shared/agent-version';
import { AgentTelemetry } from './agent-telemetry';
import { noopMetrics, type Metrics } from '../shared/metrics';
import { DIMENSIONS, METRICS } from '../shared/metrics-contract';
import type { PriceTable } from '../shared/model-profiles';
import type { PromptRegistry } from '../shared/prompt-registry';
import { TaskStore } from '../shared/task-store';
import { AgentLoop } from './agent-loop';
import { CheckpointLog } from './checkpoint-log';
import { Consumer, type ConsumerOptions } from './consumer';
import { KillSwitch } from './kill-switch';
import { LeaseManager } from './lease';
import { gatewayProbe, type ModelClient } from './model-client';
import { TaskProtection } from './task-protection';
import { ToolRegistry, type ToolDefinition } from './tool-registry';
import { mcpToolName } from './mcp/mcp-tools';
import type { McpToolSource } from './mcp/mcp-tool-source';
import { builtinTools } from './tools/catalog';
import type { LoopThresholds } from './loop-detector';

export interface WorkerDeps {
  readonly dynamo: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  readonly tableName: string;
  readonly queues: QueueUrls;
  readonly model: ModelClient;
  readonly modelName: string;
  readonly logger: Logger;
  /**
   * Days the task's row, steps, intents and lock are kept after their last write (TASK_RETENTION_DAYS);
   * required so the deployed value cannot be dropped on the way to the stores.
   */
  readonly taskRetentionDays: number;
  /** @default `${hostname()}-${pid}` */
  readonly workerId?: string;
  /** @default 60_000 */
  readonly leaseMs?: number;
  /** @default 300 */
  readonly visibilityTimeoutSeconds?: number;
  /** @default 20 */
  readonly waitTimeSeconds?: number;
  /** @default visibility / 3, capped at leaseMs / 4 */
  readonly heartbeatMs?: number;
  /** @default 5 */
  readonly maxReceiveCount?: number;
  /** @default 1 */
  readonly concurrency?: number;
  /** Pause polling while this SSM parameter says "paused"/"true". @default undefined (never paused) */
  readonly killSwitch?: { readonly ssm: Pick<SSMClient, 'send'>; readonly parameterName: string; readonly intervalMs?: number };
  /** `$ECS_AGENT_URI` for scale-in protection. @default undefined (no-op) */
  readonly ecsAgentUri?: string;
  /** @default 60 */
  readonly protectionExpiresMinutes?: number;
  /** Used for the ECS agent calls. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default 150_000 */
  readonly contextTokens?: number;
  /** @default 65_536 */
  readonly maxToolOutputBytes?: number;
  /** @default 4096 */
  readonly maxTokens?: number;
  /** @default 50 */
  readonly maxSteps?: number;
  /** The tools offered to the model (main.ts passes the AGENT_TOOLS built-ins). @default DEFAULT_AGENT_TOOLS */
  readonly tools?: readonly ToolDefinition[];
  /** MCP servers whose tools join the registry, re-listed when a server changes them. @default none */
  readonly toolSources?: readonly McpToolSource[];
  /** First wait before probing an open gateway circuit. @default 1000 */
  readonly probeBackoffMs?: number;
  /** Metrics bound to Stage and Service=worker. @default noopMetrics */
  readonly metrics?: Metrics;
  /** Prompt files: `system` is the system prompt, their hash the PromptVersion on tasks, spans and metrics. @default none */
  readonly prompts?: PromptRegistry;
  /** Prices and context windows for the cost and utilisation metrics. @default DEFAULT_PRICE_TABLE */
  readonly prices?: PriceTable;
  /** This worker's pool in an agent canary (AGENT_VERSION): its metrics' AgentVersion dimension. @default 'stable' */
  readonly agentVersion?: AgentVersion;
  /** When repeated tool calls count as a loop. @default DEFAULT_LOOP_THRESHOLDS (3 same calls; a 2–4 call cycle twice) */
  readonly loopThresholds?: Partial<LoopThresholds>;
  /** Completion webhooks (runtime/src/shared/webhooks.ts). @default undefined (no webhooks sent) */
  readonly notifier?: ConsumerOptions['notifier'];
  /** How long a person has to decide on a `requires_approval` call (APPROVAL_TIMEOUT_SECONDS). @default 24 h */
  readonly approvalTimeoutMs?: number;
  /** Backoff of tasks handed back for provider weather. @default { baseMs: 2000, maxMs: 120_000 } */
  readonly weatherBackoff?: ConsumerOptions['weatherBackoff'];
}

/** Wire a worker from its ports; the same code runs against AWS, the emulators and test fakes. */
export function createWorker(deps: WorkerDeps): Consumer {
  const workerId = deps.workerId ?? `${hostname()}-${process.pid}`;
  const logger = deps.logger.child({ workerId });
  const retentionDays = deps.taskRetentionDays;
  const store = new TaskStore({ client: deps.dynamo, tableName: deps.tableName, retentionDays });
  const leases = new LeaseManager({ client: deps.dynamo, tableName: deps.tableName, retentionDays, ...definedOnly('leaseMs', deps.leaseMs) });
  const log = new CheckpointLog({ client: deps.dynamo, tableName: deps.tableName, retentionDays });
  const telemetry = new AgentTelemetry({
    metrics: deps.metrics ?? noopMetrics,
    logger,
    promptVersion: deps.prompts?.version ?? 'none',
    modelName: deps.modelName,
    workerId,
    ...definedOnly('agentVersion', deps.agentVersion),
    ...definedOnly('prices', deps.prices),
  });
  const tools = new ToolRegistry(
    (deps.tools ?? builtinTools(undefined, { dynamo: deps.dynamo, tableName: deps.tableName })).map((t) => telemetry.instrumentTool(t)),
  );
  for (const source of deps.toolSources ?? []) {
    const publish = (defs: readonly ToolDefinition[]): void => tools.replaceGroup(mcpToolName(source.server.name, ''), defs.map((t) => telemetry.instrumentTool(t)));
    publish(source.current());
    source.listen(publish);
  }
  const loop = new AgentLoop({
    model: telemetry.instrumentModel(deps.model),
    ...definedOnly('system', deps.prompts?.has('system') === true ? deps.prompts.get('system') : undefined),
    tools,
    log,
    logger,
    modelName: deps.modelName,
    ...definedOnly('contextTokens', deps.contextTokens),
    ...definedOnly('maxToolOutputBytes', deps.maxToolOutputBytes),
    ...definedOnly('maxTokens', deps.maxTokens),
    ...definedOnly('maxSteps', deps.maxSteps),
    ...definedOnly('loopThresholds', deps.loopThresholds),
    ...definedOnly('metrics', deps.metrics),
    ...definedOnly('prices', deps.prices),
    ...definedOnly('approvalTimeoutMs', deps.approvalTimeoutMs),
  });
  const killSwitch =
    deps.killSwitch === undefined
      ? undefined
      : new KillSwitch({ ssm: deps.killSwitch.ssm, parameterName: deps.killSwitch.parameterName, logger, ...definedOnly('intervalMs', deps.killSwitch.intervalMs) });
  const protection = new TaskProtection({
    logger,
    ...definedOnly('agentUri', deps.ecsAgentUri),
    ...definedOnly('expiresInMinutes', deps.protectionExpiresMinutes),
    ...definedOnly('fetch', deps.fetch),
  });
  const consumer = new Consumer({
    sqs: deps.sqs,
    queues: deps.queues,
    store,
    leases,
    log,
    loop,
    logger,
    workerId,
    protection,
    probe: gatewayProbe(deps.model, deps.modelName),
    telemetry,
    ...definedOnly('killSwitch', killSwitch),
    ...definedOnly('visibilityTimeoutSeconds', deps.visibilityTimeoutSeconds),
    ...definedOnly('waitTimeSeconds', deps.waitTimeSeconds),
    ...definedOnly('heartbeatMs', deps.heartbeatMs),
    ...definedOnly('maxReceiveCount', deps.maxReceiveCount),
    ...definedOnly('concurrency', deps.concurrency),
    ...definedOnly('probeBackoffMs', deps.probeBackoffMs),
    ...definedOnly('notifier', deps.notifier),
    ...definedOnly('weatherBackoff', deps.weatherBackoff),
  });
  consumer.events.on('task_started', (e) => {
    if (e.receiveCount > 1) telemetry.taskRedelivered(e.taskId, e.receiveCount);
  });
  const metrics = deps.metrics ?? noopMetrics;
  consumer.events.on('provider_weather', (e) => {
    metrics.emit(
      [
        { name: METRICS.providerWeatherHandBacks, value: 1 },
        ...(e.kind === 'auth_rejected' ? [{ name: METRICS.providerAuthRejected, value: 1 }] : []),
      ],
      { [DIMENSIONS.model]: deps.modelName },
      { taskId: e.taskId, kind: e.kind, ...(e.status !== undefined ? { status: e.status } : {}), delaySeconds: e.delaySeconds },
    );
  });
  consumer.events.on('task_failed', (e) => {
    if (e.final) telemetry.taskAbandoned(e.taskId, e.error);
  });
  return consumer;
}
